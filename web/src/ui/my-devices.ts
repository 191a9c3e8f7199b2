import { msg, str, updateWhenLocaleChanges } from '@lit/localize';
import { LitElement, css, html, nothing } from 'lit';
import { EngineCallError, type EngineClient } from '../api/client.ts';
import type { ApprovalCode, MyDevice } from '../api/protocol.ts';
import { intlLocale } from '../i18n/locale.ts';
import { AUTO_LOCK_CHOICES, autoLockMinutes, setAutoLockMinutes } from './auto-lock.ts';
import { dialogStyles } from './dialog-styles.ts';
import { timeOf } from './format.ts';
import { closeIcon, devicesIcon } from './icons.ts';
import { base } from './styles.ts';

function dateOf(ts: number): string {
  return new Intl.DateTimeFormat(intlLocale(), { day: 'numeric', month: 'long', year: 'numeric' }).format(ts);
}

function dateTimeOf(ts: number): string {
  return new Intl.DateTimeFormat(intlLocale(), { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }).format(ts);
}

/**
 * "Meine Geräte": this account's devices as the school's relay knows them (rename, revoke), and a one-time code
 * with its QR code that signs in a new device of the same account. Everything goes through the account protocol,
 * so it needs the connection to the school. Loaded when first opened.
 */
export class MyDevicesDialog extends LitElement {
  static override properties = {
    client: { attribute: false },
    devices: { state: true },
    loading: { state: true },
    error: { state: true },
    renaming: { state: true },
    confirming: { state: true },
    approving: { state: true },
    code: { state: true },
  };
  declare client: EngineClient | undefined;
  declare devices: MyDevice[];
  declare loading: boolean;
  declare error: string;
  /** The device whose name is being edited. */
  declare renaming: string;
  /** The device whose revocation waits for a confirmation. */
  declare confirming: string;
  /** The device whose approval waits for a confirmation. */
  declare approving: string;
  declare code: ApprovalCode | undefined;

  constructor() {
    super();
    updateWhenLocaleChanges(this);
    this.client = undefined;
    this.devices = [];
    this.loading = true;
    this.error = '';
    this.renaming = '';
    this.confirming = '';
    this.approving = '';
    this.code = undefined;
  }

  override firstUpdated(): void {
    this.renderRoot.querySelector('dialog')?.showModal();
    void this.load();
  }

  private close(): void {
    this.renderRoot.querySelector('dialog')?.close();
  }

  private failed(error: unknown): string {
    const detail = error instanceof EngineCallError ? error.detail : undefined;
    if (detail === 'unreachable') return msg('Die Schule ist gerade nicht erreichbar. Geräte lassen sich nur mit Verbindung verwalten.', { id: 'devices.error.offline' });
    if (detail === 'too-many-codes') return msg('Zu viele Codes in kurzer Zeit. Warte ein paar Minuten.', { id: 'devices.error.codes' });
    if (error instanceof EngineCallError && error.code === 'bad-request') return msg('Der Name darf 1 bis 64 Zeichen lang sein.', { id: 'devices.error.name' });
    return msg('Das hat nicht geklappt. Versuch es noch einmal.', { id: 'devices.error.generic' });
  }

  private async run(task: () => Promise<unknown>): Promise<boolean> {
    this.error = '';
    try {
      await task();
      return true;
    } catch (error) {
      this.error = this.failed(error);
      return false;
    }
  }

  private async load(): Promise<void> {
    if (!this.client) return;
    const client = this.client;
    await this.run(async () => {
      this.devices = await client.call('myDevices');
    });
    this.loading = false;
  }

  private async rename(e: SubmitEvent, device: MyDevice): Promise<void> {
    e.preventDefault();
    const name = new FormData(e.target as HTMLFormElement).get('name');
    const client = this.client;
    if (!client || (await this.run(() => client.call('renameDevice', { device: device.device, name: String(name ?? '') }))) === false) return;
    this.renaming = '';
    await this.load();
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLButtonElement>(`button[data-rename="${device.device}"]`)?.focus();
  }

  private async revoke(device: MyDevice): Promise<void> {
    const client = this.client;
    if (!client || (await this.run(() => client.call('revokeDevice', { device: device.device }))) === false) return;
    this.confirming = '';
    await this.load();
  }

  private async approve(device: MyDevice): Promise<void> {
    const client = this.client;
    if (!client || (await this.run(() => client.call('approveDevice', { device: device.device }))) === false) return;
    this.approving = '';
    await this.load();
  }

  private async newCode(): Promise<void> {
    const client = this.client;
    if (!client) return;
    await this.run(async () => {
      this.code = await client.call('approvalCode');
    });
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLElement>('.code-box')?.focus();
  }

  private nameOf(d: MyDevice): string {
    return d.name || msg(str`Gerät vom ${dateOf(d.enrolledAt)}`, { id: 'devices.unnamed' });
  }

  private renderDevice(d: MyDevice) {
    const name = this.nameOf(d);
    const seen = d.online
      ? msg('jetzt verbunden', { id: 'devices.online' })
      : d.lastSeen
        ? msg(str`zuletzt verbunden ${dateTimeOf(d.lastSeen)}`, { id: 'devices.last-seen' })
        : msg('seit dem Start der Schule nicht verbunden', { id: 'devices.not-seen' });
    return html`<li class=${d.revoked ? 'revoked' : ''}>
      <span class="device-icon" aria-hidden="true">${devicesIcon}</span>
      <span class="who">
        ${this.renaming === d.device
          ? html`<form class="rename" @submit=${(e: SubmitEvent) => this.rename(e, d)}>
              <label for="name-${d.device}" class="sr-only">${msg(str`Neuer Name für ${name}`, { id: 'devices.rename-label' })}</label>
              <input
                id="name-${d.device}"
                name="name"
                type="text"
                maxlength="64"
                required
                .value=${d.name}
                @keydown=${(e: KeyboardEvent) => {
                  if (e.key === 'Escape') {
                    e.preventDefault();
                    e.stopPropagation();
                    this.renaming = '';
                  }
                }}
              />
              <button class="small-button" type="submit">${msg('Speichern', { id: 'chat.save' })}</button>
              <button class="small-button plain" type="button" @click=${() => (this.renaming = '')}>${msg('Abbrechen', { id: 'chat.cancel-reply' })}</button>
            </form>`
          : html`<span class="name">${name}</span>`}
        <span class="tags">
          ${d.current ? html`<span class="tag teacher">${msg('Dieses Gerät', { id: 'devices.this' })}</span>` : nothing}
          ${d.revoked ? html`<span class="tag danger">${msg('Abgemeldet', { id: 'devices.revoked' })}</span>` : nothing}
          ${d.awaitingApproval ? html`<span class="tag warn">${msg('Wartet auf Bestätigung', { id: 'devices.awaiting' })}</span>` : nothing}
        </span>
        <span class="meta">${msg(str`Angemeldet am ${dateOf(d.enrolledAt)}`, { id: 'devices.enrolled' })}${d.via === 'approval'
            ? html` · ${msg('von einem deiner Geräte bestätigt', { id: 'devices.via-approval' })}`
            : nothing}${d.revoked ? nothing : html` · ${seen}`}</span>
        ${d.awaitingApproval && this.approving !== d.device
          ? html`<span class="note">${msg('Dieses Gerät sieht deine Chats erst, wenn du es hier bestätigst.', { id: 'devices.awaiting-note' })}</span>`
          : nothing}
        ${this.approving === d.device
          ? html`<span class="confirm" role="group" aria-label=${msg(str`${name} bestätigen?`, { id: 'devices.approve-confirm-label' })}>
              <span>${msg('Bestätige nur ein Gerät, das du selbst gerade angemeldet hast: Es kann dann alle deine Chats lesen.', { id: 'devices.approve-warning' })}</span>
              <button class="small-button" @click=${() => this.approve(d)}>${msg('Bestätigen', { id: 'devices.approve' })}</button>
              <button class="small-button plain" @click=${() => (this.approving = '')}>${msg('Abbrechen', { id: 'chat.cancel-reply' })}</button>
            </span>`
          : nothing}
        ${this.confirming === d.device
          ? html`<span class="confirm" role="group" aria-label=${msg(str`${name} abmelden?`, { id: 'devices.revoke-confirm-label' })}>
              <span>${msg('Das Gerät verliert sofort den Zugang zu deinen Chats.', { id: 'devices.revoke-warning' })}</span>
              <button class="small-button danger" @click=${() => this.revoke(d)}>${msg('Abmelden', { id: 'devices.revoke' })}</button>
              <button class="small-button plain" @click=${() => (this.confirming = '')}>${msg('Abbrechen', { id: 'chat.cancel-reply' })}</button>
            </span>`
          : nothing}
      </span>
      ${d.revoked || this.renaming === d.device || this.confirming === d.device || this.approving === d.device
        ? nothing
        : html`<span class="actions">
            ${d.awaitingApproval
              ? html`<button class="small-button" aria-label=${msg(str`${name} bestätigen`, { id: 'devices.approve-for' })} @click=${() => (this.approving = d.device)}>
                  ${msg('Bestätigen', { id: 'devices.approve' })}
                </button>`
              : nothing}
            <button
              class="small-button plain"
              data-rename=${d.device}
              aria-label=${msg(str`${name} umbenennen`, { id: 'devices.rename-for' })}
              @click=${async () => {
                this.renaming = d.device;
                await this.updateComplete;
                this.renderRoot.querySelector<HTMLInputElement>('form.rename input')?.select();
              }}
            >
              ${msg('Umbenennen', { id: 'devices.rename' })}
            </button>
            <button class="small-button plain" aria-label=${msg(str`${name} abmelden`, { id: 'devices.revoke-for' })} @click=${() => (this.confirming = d.device)}>
              ${msg('Abmelden', { id: 'devices.revoke' })}
            </button>
          </span>`}
    </li>`;
  }

  override render() {
    return html`<dialog aria-labelledby="devices-title" @close=${() => this.dispatchEvent(new CustomEvent('close', { bubbles: true, composed: true }))}>
      <div class="head">
        <h2 id="devices-title">${msg('Meine Geräte', { id: 'devices.title' })}</h2>
        <button class="icon-button" aria-label=${msg('Schließen', { id: 'dialog.close' })} @click=${this.close}>${closeIcon}</button>
      </div>
      <div class="body">
        ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
        ${this.loading ? html`<p class="muted" role="status">${msg('Wird geladen …', { id: 'app.loading' })}</p>` : nothing}
        <ul class="people" aria-label=${msg('Geräte deines Kontos', { id: 'devices.list' })}>
          ${this.devices.map((d) => this.renderDevice(d))}
        </ul>
        <h3>${msg('Sperren', { id: 'devices.lock-title' })}</h3>
        <p class="lock-row">
          <label for="auto-lock">${msg('Automatisch sperren nach', { id: 'devices.auto-lock' })}</label>
          <select id="auto-lock" @change=${(e: Event) => setAutoLockMinutes(Number((e.target as HTMLSelectElement).value))}>
            ${AUTO_LOCK_CHOICES.map(
              (m) => html`<option value=${m} ?selected=${m === autoLockMinutes()}>
                ${m === 0 ? msg('nie', { id: 'devices.auto-lock-never' }) : msg(str`${m} Minuten ohne Eingabe`, { id: 'devices.auto-lock-minutes' })}
              </option>`,
            )}
          </select>
        </p>
        <h3>${msg('Neues Gerät hinzufügen', { id: 'devices.add' })}</h3>
        <p class="lead">
          ${msg('Öffne Schoolmesh auf dem neuen Gerät und gib dort diesen Code ein oder scanne den QR-Code. Der Code gilt 10 Minuten und nur einmal.', {
            id: 'devices.add-lead',
          })}
        </p>
        ${this.code
          ? html`<div class="code-box" tabindex="-1">
              <p class="code" aria-label=${msg(str`Code: ${this.code.code.split('').join(' ')}`, { id: 'devices.code-label' })}>${this.code.code}</p>
              ${this.code.qrSvg
                ? html`<img class="qr" width="200" height="200" alt=${msg('QR-Code mit dem Anmeldelink', { id: 'devices.qr' })} src=${`data:image/svg+xml;charset=utf-8,${encodeURIComponent(this.code.qrSvg)}`} />`
                : nothing}
              <p class="muted">${msg(str`Gültig bis ${timeOf(this.code.expiresAt)} Uhr`, { id: 'devices.valid-until' })}</p>
            </div>`
          : html`<button class="primary" @click=${this.newCode}>${msg('Code für ein neues Gerät', { id: 'devices.new-code' })}</button>`}
      </div>
    </dialog>`;
  }

  static override styles = [
    base,
    dialogStyles,
    css`
      ul.people li {
        align-items: flex-start;
      }
      li.revoked .name {
        color: var(--ink-soft);
        text-decoration: line-through;
      }
      .device-icon {
        display: inline-grid;
        place-items: center;
        width: 40px;
        height: 40px;
        border-radius: 50%;
        background: var(--brand-soft);
        color: var(--brand-strong);
        flex: none;
      }
      .meta {
        font-size: 0.85rem;
        color: var(--ink-soft);
        margin-top: 2px;
      }
      .actions {
        display: flex;
        flex-direction: column;
        gap: 4px;
      }
      .small-button {
        border: 1px solid var(--brand);
        background: var(--brand);
        color: #fff;
        border-radius: 16px;
        padding: 4px 12px;
        font-size: 0.85rem;
        font-weight: 600;
        cursor: pointer;
      }
      .small-button.plain {
        background: #fff;
        color: var(--brand-strong);
      }
      .small-button.danger {
        background: var(--danger);
        border-color: var(--danger);
      }
      .tag.danger {
        color: var(--danger);
        border-color: #e6b4b0;
      }
      .tag.warn {
        color: var(--warn-ink);
        background: var(--warn-bg);
        border-color: #e8d48a;
      }
      .note {
        display: block;
        font-size: 0.85rem;
        color: var(--warn-ink);
        margin-top: 2px;
      }
      form.rename,
      .confirm {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 6px;
        margin-top: 4px;
      }
      form.rename input {
        flex: 1;
        min-width: 160px;
        padding: 6px 10px;
      }
      .confirm span {
        flex-basis: 100%;
        font-size: 0.85rem;
        color: var(--danger);
      }
      .lock-row {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 8px 12px;
        margin: 0;
      }
      select {
        font: inherit;
        padding: 6px 10px;
        border: 1px solid #8a9a97;
        border-radius: 8px;
        background: #fff;
        color: var(--ink);
      }
      .lead {
        margin: 0 0 12px;
        color: var(--ink-soft);
        font-size: 0.92rem;
      }
      .code-box {
        display: flex;
        flex-direction: column;
        align-items: center;
        gap: 6px;
        padding: 12px;
        border-radius: 12px;
        background: var(--panel-alt);
      }
      .code {
        margin: 0;
        font-family: ui-monospace, 'DejaVu Sans Mono', monospace;
        font-size: 1.5rem;
        font-weight: 700;
        letter-spacing: 0.08em;
      }
      .qr {
        background: #fff;
        border-radius: 8px;
      }
    `,
  ];
}

customElements.define('sm-my-devices', MyDevicesDialog);
