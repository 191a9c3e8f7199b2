import { msg, str, updateWhenLocaleChanges } from '@lit/localize';
import { LitElement, css, html } from 'lit';
import { EngineCallError } from '../api/client.ts';
import type { EngineClient } from '../api/client.ts';
import type { Opened, ProfileSummary } from '../api/protocol.ts';
import { avatarColour, initials, roleLabel } from './format.ts';
import { lockIcon } from './icons.ts';
import { base } from './styles.ts';

/** A locked profile: its data opens only with its PIN (the key that encrypts it is derived from the PIN). */
export class UnlockView extends LitElement {
  static override properties = {
    client: { attribute: false },
    profile: { attribute: false },
    busy: { state: true },
    error: { state: true },
  };
  declare client: EngineClient | undefined;
  declare profile: ProfileSummary | undefined;
  declare busy: boolean;
  declare error: string;

  constructor() {
    super();
    updateWhenLocaleChanges(this);
    this.client = undefined;
    this.profile = undefined;
    this.busy = false;
    this.error = '';
  }

  override firstUpdated(): void {
    this.renderRoot.querySelector<HTMLInputElement>('#pin')?.focus();
  }

  private async submit(e: Event): Promise<void> {
    e.preventDefault();
    const input = this.renderRoot.querySelector<HTMLInputElement>('#pin');
    if (!this.client || !this.profile || !input || this.busy) return;
    const pin = input.value;
    if (!pin) {
      input.focus();
      return;
    }
    this.busy = true;
    this.error = '';
    try {
      const opened = await this.client.call('open', { profile: this.profile.id, pin });
      this.dispatchEvent(new CustomEvent<Opened>('unlocked', { detail: opened, bubbles: true, composed: true }));
    } catch (error) {
      input.value = '';
      if (error instanceof EngineCallError && error.code === 'wrong-pin') {
        const wait = Math.ceil((error.retryAfterMs ?? 0) / 1000);
        this.error =
          wait > 0
            ? msg(str`Falsche PIN. Warte ${wait} Sekunden und versuche es dann noch einmal.`, { id: 'unlock.wrong-wait' })
            : msg('Falsche PIN. Versuche es noch einmal.', { id: 'unlock.wrong' });
      } else if (error instanceof EngineCallError && error.detail === 'open-elsewhere')
        this.error = msg('Dieses Profil ist schon in einem anderen Tab geöffnet.', { id: 'unlock.elsewhere' });
      else this.error = msg('Das Profil konnte nicht geöffnet werden.', { id: 'unlock.failed' });
      input.focus();
    } finally {
      this.busy = false;
    }
  }

  override render() {
    const p = this.profile;
    if (!p) return html``;
    return html`
      <main class="page">
        <section class="card" aria-labelledby="who">
          <span class="avatar" style="background:${avatarColour(p.account)}" aria-hidden="true">${initials(p.displayName)}</span>
          <h1 id="who">${p.displayName}</h1>
          <p class="meta">${roleLabel(p.role)} · ${p.schoolName}</p>
          <form @submit=${this.submit} novalidate>
            <label for="pin">${msg('PIN oder Passwort', { id: 'unlock.pin' })}</label>
            <input
              id="pin"
              type="password"
              autocomplete="current-password"
              aria-describedby="pin-error"
              aria-invalid=${this.error ? 'true' : 'false'}
              ?disabled=${this.busy}
            />
            <p id="pin-error" class="error" role="alert">${this.error}</p>
            <button class="primary" type="submit" ?disabled=${this.busy}>
              ${lockIcon}${this.busy ? msg('Wird entsperrt …', { id: 'unlock.busy' }) : msg('Entsperren', { id: 'unlock.submit' })}
            </button>
          </form>
          <button class="link-button" @click=${() => this.dispatchEvent(new CustomEvent('back', { bubbles: true, composed: true }))}>
            ${msg('Anderes Profil', { id: 'unlock.other' })}
          </button>
        </section>
      </main>
    `;
  }

  static override styles = [
    base,
    css`
      :host {
        display: block;
        min-height: 100%;
        background: linear-gradient(180deg, var(--brand) 0, var(--brand) 200px, var(--panel-alt) 200px);
      }
      .page {
        max-width: 420px;
        margin: 0 auto;
        padding: 72px 16px 32px;
      }
      .card {
        background: var(--panel);
        border-radius: 20px;
        padding: 28px;
        box-shadow: 0 10px 30px rgba(0, 40, 30, 0.12);
        text-align: center;
        display: grid;
        justify-items: center;
        gap: 4px;
      }
      .avatar {
        width: 80px;
        height: 80px;
        font-size: 1.7rem;
        margin-top: -68px;
        border: 4px solid var(--panel);
      }
      h1 {
        margin: 12px 0 0;
        font-size: 1.4rem;
      }
      .meta {
        margin: 0 0 16px;
        color: var(--ink-soft);
      }
      form {
        display: grid;
        gap: 8px;
        width: 100%;
        text-align: left;
      }
      label {
        font-weight: 600;
      }
      input {
        font: inherit;
        font-size: 1.2rem;
        padding: 12px 14px;
        border: 2px solid #8a9894;
        border-radius: 10px;
        width: 100%;
        background: #fff;
        color: var(--ink);
      }
      input:focus-visible {
        border-color: var(--brand);
        outline-offset: 1px;
      }
      input[aria-invalid='true'] {
        border-color: var(--danger);
      }
      .error {
        margin: 0;
        min-height: 1.3em;
        color: var(--danger);
        font-weight: 500;
      }
      .primary {
        width: 100%;
      }
      .primary .icon {
        width: 20px;
        height: 20px;
      }
      .link-button {
        margin-top: 8px;
      }
    `,
  ];
}

customElements.define('sm-unlock', UnlockView);
