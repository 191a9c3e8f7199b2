import { msg, str, updateWhenLocaleChanges } from '@lit/localize';
import { LitElement, css, html } from 'lit';
import { EngineCallError, type EngineClient } from '../api/client.ts';
import type { ProfileSummary } from '../api/protocol.ts';
import { dialogStyles } from './dialog-styles.ts';
import { closeIcon } from './icons.ts';
import { base } from './styles.ts';

/**
 * Removing a profile from this browser: asks for the profile's PIN (a sibling must not wipe the other's chats and
 * unsent messages), then deletes its database. Loaded when first opened.
 */
export class RemoveProfileDialog extends LitElement {
  static override properties = { client: { attribute: false }, profile: { attribute: false }, error: { state: true }, busy: { state: true } };
  declare client: EngineClient | undefined;
  declare profile: ProfileSummary | undefined;
  declare error: string;
  declare busy: boolean;

  constructor() {
    super();
    updateWhenLocaleChanges(this);
    this.client = undefined;
    this.profile = undefined;
    this.error = '';
    this.busy = false;
  }

  override firstUpdated(): void {
    this.renderRoot.querySelector('dialog')?.showModal();
    this.renderRoot.querySelector<HTMLInputElement>('input')?.focus();
  }

  private close(): void {
    this.renderRoot.querySelector('dialog')?.close();
  }

  private async submit(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const input = this.renderRoot.querySelector<HTMLInputElement>('input');
    if (!this.client || !this.profile || !input || this.busy) return;
    this.busy = true;
    this.error = '';
    try {
      await this.client.call('removeProfile', { profile: this.profile.id, pin: input.value });
      this.dispatchEvent(new CustomEvent('removed', { bubbles: true, composed: true }));
      this.close();
    } catch (error) {
      const wait = error instanceof EngineCallError && error.code === 'wrong-pin' ? error.retryAfterMs : undefined;
      this.error =
        error instanceof EngineCallError && (error.code === 'wrong-pin' || error.code === 'bad-request')
          ? wait
            ? msg(str`Falsche PIN. Warte ${Math.ceil(wait / 1000)} Sekunden und versuche es dann noch einmal.`, { id: 'unlock.wrong-wait' })
            : msg('Falsche PIN. Versuche es noch einmal.', { id: 'unlock.wrong' })
          : msg('Das Profil konnte nicht entfernt werden.', { id: 'remove.failed' });
      input.value = '';
      input.focus();
    } finally {
      this.busy = false;
    }
  }

  override render() {
    const p = this.profile;
    if (!p) return html``;
    return html`<dialog aria-labelledby="remove-title" @close=${() => this.dispatchEvent(new CustomEvent('close', { bubbles: true, composed: true }))}>
      <div class="head">
        <h2 id="remove-title">${msg(str`Profil ${p.displayName} entfernen`, { id: 'remove.title' })}</h2>
        <button class="icon-button" aria-label=${msg('Schließen', { id: 'dialog.close' })} @click=${this.close}>${closeIcon}</button>
      </div>
      <form class="body" @submit=${this.submit} novalidate>
        <p class="warning">
          ${msg('Alle Chats dieses Profils werden aus diesem Browser gelöscht. Nachrichten, die noch nicht bei der Schule angekommen sind, gehen verloren.', {
            id: 'remove.warning',
          })}
        </p>
        <label for="remove-pin">${msg('PIN des Profils', { id: 'remove.pin' })}</label>
        <input id="remove-pin" type="password" autocomplete="current-password" aria-describedby="remove-error" ?disabled=${this.busy} />
        <p id="remove-error" class="error" role="alert">${this.error}</p>
        <div class="buttons">
          <button class="plain" type="button" @click=${this.close}>${msg('Abbrechen', { id: 'chat.cancel-reply' })}</button>
          <button class="danger" type="submit" ?disabled=${this.busy}>${msg('Profil entfernen', { id: 'remove.submit' })}</button>
        </div>
      </form>
    </dialog>`;
  }

  static override styles = [
    base,
    dialogStyles,
    css`
      form {
        display: grid;
        gap: 8px;
        padding-top: 16px;
      }
      .warning {
        margin: 0 0 8px;
      }
      label {
        font-weight: 600;
      }
      input {
        font: inherit;
        font-size: 1.05rem;
        padding: 10px 14px;
        border: 2px solid #8a9894;
        border-radius: 10px;
      }
      .error {
        margin: 0;
        min-height: 1.3em;
      }
      .buttons {
        display: flex;
        justify-content: flex-end;
        gap: 8px;
      }
      .buttons button {
        border-radius: 20px;
        padding: 10px 18px;
        font-weight: 600;
        cursor: pointer;
        border: 2px solid var(--danger);
      }
      .danger {
        background: var(--danger);
        color: #fff;
      }
      .plain {
        background: #fff;
        color: var(--ink);
        border-color: var(--line) !important;
      }
    `,
  ];
}

customElements.define('sm-remove-profile', RemoveProfileDialog);
