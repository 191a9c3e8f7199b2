import { msg, updateWhenLocaleChanges } from '@lit/localize';
import { LitElement, css, html, nothing } from 'lit';
import { EngineCallError } from '../api/client.ts';
import type { EngineClient } from '../api/client.ts';
import type { Opened } from '../api/protocol.ts';
import { currentLocale, switchLocale } from '../i18n/locale.ts';
import { globeIcon, lockIcon, logo, qrIcon } from './icons.ts';
import { base } from './styles.ts';

/** Formats what the user types as XXXXX-XXXXX-XXXXX (the relay's code format). */
function formatCode(raw: string): string {
  const clean = raw.toUpperCase().replace(/[^0-9A-Z]/g, '').slice(0, 15);
  return clean.match(/.{1,5}/g)?.join('-') ?? '';
}

/** Signs this browser in as a new device with a one-time code (typed, or from the QR code's #enroll= link). */
export class EnrollView extends LitElement {
  static override properties = {
    client: { attribute: false },
    code: { type: String },
    schoolName: { type: String, attribute: 'school-name' },
    canGoBack: { type: Boolean, attribute: 'can-go-back' },
    methods: { attribute: false },
    mode: { state: true },
    scanning: { state: true },
    busy: { state: true },
    error: { state: true },
    errorField: { state: true },
  };
  declare client: EngineClient | undefined;
  declare code: string;
  declare schoolName: string;
  declare canGoBack: boolean;
  /** The sign-in methods the school offers besides codes (from /api/school: 'ldap' for the school password). */
  declare methods: string[];
  /** Sign in with a one-time code, or with the school's user name and password. */
  declare mode: 'code' | 'password';
  /** The camera scanner is open (its module loads on first use). */
  declare scanning: boolean;
  declare busy: boolean;
  declare error: string;
  /** Which field the error is about: 'code', 'pin' or 'pin2'. */
  declare errorField: string;

  constructor() {
    super();
    updateWhenLocaleChanges(this);
    this.client = undefined;
    this.code = '';
    this.schoolName = '';
    this.canGoBack = false;
    this.methods = [];
    this.mode = 'code';
    this.scanning = false;
    this.busy = false;
    this.error = '';
    this.errorField = '';
  }

  private errorText(error: unknown): string {
    const detail = error instanceof EngineCallError ? error.detail : undefined;
    switch (detail) {
      case 'bad-code':
        return msg('Der Code hat 15 Zeichen, zum Beispiel ABCDE-12345-FGHIJ.', { id: 'enroll.error.format' });
      case 'unknown-code':
        return msg('Diesen Code kennt die Schule nicht, oder er wurde schon benutzt. Frag nach einem neuen Code.', { id: 'enroll.error.unknown' });
      case 'expired-code':
        return msg('Der Code ist abgelaufen. Frag nach einem neuen Code.', { id: 'enroll.error.expired' });
      case 'too-many-attempts':
        return msg('Zu viele Versuche. Warte eine Minute und versuche es dann noch einmal.', { id: 'enroll.error.rate' });
      case 'unreachable':
        return msg('Die Schule ist gerade nicht erreichbar. Bist du mit dem Netz verbunden?', { id: 'enroll.error.unreachable' });
      case 'wrong-credentials':
        // The school does not say which: telling a locked account apart would tell a guesser that the name exists.
        return msg('Benutzername oder Passwort stimmt nicht – oder dein Konto ist gesperrt. Hilft ein zweiter Versuch nicht, frag im Sekretariat nach.', {
          id: 'enroll.error.credentials',
        });
      case 'unavailable':
        return msg('Das Schulverzeichnis ist gerade nicht erreichbar. Versuche es später noch einmal oder melde dich mit einem Code an.', {
          id: 'enroll.error.directory',
        });
      default:
        return msg('Die Anmeldung hat nicht geklappt. Versuche es noch einmal.', { id: 'enroll.error.generic' });
    }
  }

  private field(id: string): HTMLInputElement | null {
    return this.renderRoot.querySelector<HTMLInputElement>(`#${id}`);
  }

  private async submit(e: Event): Promise<void> {
    e.preventDefault();
    if (!this.client || this.busy) return;
    const password = this.mode === 'password';
    const code = formatCode(this.code);
    const username = this.field('username')?.value.trim() ?? '';
    const secret = this.field('password')?.value ?? '';
    if (!password && code.length !== 17) {
      this.error = msg('Der Code hat 15 Zeichen, zum Beispiel ABCDE-12345-FGHIJ.', { id: 'enroll.error.format' });
      this.errorField = 'code';
      this.field('code')?.focus();
      return;
    }
    if (password && (username === '' || secret === '')) {
      this.error = msg('Gib deinen Benutzernamen und dein Passwort der Schule ein.', { id: 'enroll.error.missing' });
      this.errorField = username === '' ? 'username' : 'password';
      this.field(this.errorField)?.focus();
      return;
    }
    const pin = this.field('pin')?.value ?? '';
    const again = this.field('pin2')?.value ?? '';
    if ([...pin].length < 4) {
      this.error = msg('Die PIN braucht mindestens 4 Zeichen.', { id: 'enroll.error.pin-short' });
      this.errorField = 'pin';
      this.field('pin')?.focus();
      return;
    }
    if (pin !== again) {
      this.error = msg('Die beiden PINs sind nicht gleich.', { id: 'enroll.error.pin-mismatch' });
      this.errorField = 'pin2';
      this.field('pin2')?.focus();
      return;
    }
    this.busy = true;
    this.error = '';
    this.errorField = '';
    try {
      const opened = await this.client.call('enroll', password ? { signIn: { method: 'ldap', username, password: secret }, pin } : { code, pin });
      this.dispatchEvent(new CustomEvent<Opened>('enrolled', { detail: opened, bubbles: true, composed: true }));
    } catch (error) {
      this.error = this.errorText(error);
      this.errorField = password ? 'password' : 'code';
      if (password) {
        const box = this.field('password');
        if (box) box.value = '';
      }
    } finally {
      this.busy = false;
    }
  }

  private setMode(mode: 'code' | 'password', focus = false): void {
    this.mode = mode;
    this.error = '';
    this.errorField = '';
    if (focus) void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`#tab-${mode}`)?.focus());
  }

  /** Tabs: arrow keys, Home and End move between them (and select, as the WAI-ARIA tabs pattern does). */
  private onTabKey(e: KeyboardEvent): void {
    if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) return;
    e.preventDefault();
    const next = e.key === 'Home' ? 'code' : e.key === 'End' ? 'password' : this.mode === 'code' ? 'password' : 'code';
    this.setMode(next, true);
  }

  private tabs() {
    return html`<div class="tabs" role="tablist" aria-label=${msg('Anmelden mit', { id: 'enroll.tabs' })} @keydown=${this.onTabKey}>
      <button
        role="tab"
        id="tab-code"
        type="button"
        aria-selected=${this.mode === 'code' ? 'true' : 'false'}
        aria-controls="enroll-form"
        tabindex=${this.mode === 'code' ? 0 : -1}
        @click=${() => this.setMode('code')}
      >
        ${msg('Mit Code', { id: 'enroll.tab-code' })}
      </button>
      <button
        role="tab"
        id="tab-password"
        type="button"
        aria-selected=${this.mode === 'password' ? 'true' : 'false'}
        aria-controls="enroll-form"
        tabindex=${this.mode === 'password' ? 0 : -1}
        @click=${() => this.setMode('password')}
      >
        ${msg('Mit Schulpasswort', { id: 'enroll.tab-password' })}
      </button>
    </div>`;
  }

  private codeFields() {
    return html`<label for="code">${msg('Anmeldecode', { id: 'enroll.code' })}</label>
      <input
        id="code"
        name="code"
        .value=${this.code}
        @input=${this.onInput}
        autocomplete="one-time-code"
        autocapitalize="characters"
        spellcheck="false"
        inputmode="text"
        placeholder="ABCDE-12345-FGHIJ"
        aria-describedby="code-help form-error"
        aria-invalid=${this.errorField === 'code' ? 'true' : 'false'}
        ?disabled=${this.busy}
      />
      <p id="code-help" class="help">${msg('15 Zeichen, Groß- und Kleinschreibung egal.', { id: 'enroll.code-help' })}</p>
      ${typeof navigator.mediaDevices?.getUserMedia === 'function'
        ? html`<button class="scan-button" type="button" @click=${this.openScanner} ?disabled=${this.busy}>
            ${qrIcon}<span>${msg('QR-Code scannen', { id: 'scan.title' })}</span>
          </button>`
        : nothing}`;
  }

  private async openScanner(): Promise<void> {
    await import('./qr-scanner.ts');
    this.scanning = true;
  }

  private async onScanned(e: CustomEvent<string>): Promise<void> {
    this.code = formatCode(e.detail);
    this.error = '';
    this.errorField = '';
    this.scanning = false;
    await this.updateComplete;
    this.field('pin')?.focus();
  }

  private async onScannerClosed(): Promise<void> {
    if (!this.scanning) return;
    this.scanning = false;
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLButtonElement>('.scan-button')?.focus();
  }

  private passwordFields() {
    return html`<label for="username">${msg('Benutzername', { id: 'enroll.username' })}</label>
      <input
        id="username"
        name="username"
        autocomplete="username"
        autocapitalize="none"
        spellcheck="false"
        aria-describedby="form-error"
        aria-invalid=${this.errorField === 'username' ? 'true' : 'false'}
        ?disabled=${this.busy}
      />
      <label for="password">${msg('Passwort der Schule', { id: 'enroll.password' })}</label>
      <input
        id="password"
        name="password"
        type="password"
        autocomplete="current-password"
        aria-describedby="password-help form-error"
        aria-invalid=${this.errorField === 'password' ? 'true' : 'false'}
        ?disabled=${this.busy}
      />
      <p id="password-help" class="help">
        ${msg('Dasselbe Passwort wie an den Schulcomputern. Es geht nur an den Server deiner Schule und wird nirgends gespeichert.', { id: 'enroll.password-help' })}
      </p>`;
  }

  private onInput(e: InputEvent): void {
    const input = e.target as HTMLInputElement;
    this.code = formatCode(input.value);
    input.value = this.code;
    this.error = '';
    this.errorField = '';
  }

  override render() {
    const other = currentLocale() === 'de' ? 'en' : 'de';
    const offersPassword = this.methods.includes('ldap');
    return html`
      <main class="page">
        <div class="top">
          ${this.canGoBack
            ? html`<button class="link-button" @click=${() => this.dispatchEvent(new CustomEvent('back', { bubbles: true, composed: true }))}>
                ${msg('Zurück zu den Profilen', { id: 'enroll.back' })}
              </button>`
            : html`<span></span>`}
          <button class="lang" lang=${other} @click=${() => switchLocale(other)}>
            ${globeIcon}<span>${other === 'en' ? 'English' : 'Deutsch'}</span>
          </button>
        </div>
        <section class="card" aria-labelledby="title">
          ${logo}
          <h1 id="title">${msg('Willkommen bei Schoolmesh', { id: 'enroll.title' })}</h1>
          ${this.schoolName ? html`<p class="school">${this.schoolName}</p>` : nothing}
          <p class="lead">
            ${this.mode === 'password' && offersPassword
              ? msg('Melde dieses Gerät mit deinem Benutzernamen und Passwort der Schule an.', { id: 'enroll.lead-password' })
              : msg('Melde dieses Gerät mit deinem Anmeldecode an. Den Code bekommst du von deiner Lehrkraft oder vom Sekretariat.', { id: 'enroll.lead' })}
          </p>
          ${offersPassword ? this.tabs() : nothing}
          <div id="enroll-form" role=${offersPassword ? 'tabpanel' : nothing} aria-labelledby=${offersPassword ? `tab-${this.mode}` : nothing}>
          <form @submit=${this.submit} novalidate>
            ${this.mode === 'password' && offersPassword ? this.passwordFields() : this.codeFields()}
            <label for="pin">${msg('Neue PIN für dieses Profil', { id: 'enroll.pin' })}</label>
            <input
              id="pin"
              type="password"
              autocomplete="new-password"
              aria-describedby="pin-help form-error"
              aria-invalid=${this.errorField === 'pin' ? 'true' : 'false'}
              ?disabled=${this.busy}
            />
            <label for="pin2">${msg('PIN wiederholen', { id: 'enroll.pin-again' })}</label>
            <input
              id="pin2"
              type="password"
              autocomplete="new-password"
              aria-describedby="form-error"
              aria-invalid=${this.errorField === 'pin2' ? 'true' : 'false'}
              ?disabled=${this.busy}
            />
            <p id="pin-help" class="help">
              ${msg('Mindestens 4 Zeichen. Ohne deine PIN kann niemand deine Chats auf diesem Gerät lesen.', { id: 'enroll.pin-help' })}
            </p>
            <p id="form-error" class="error" role="alert">${this.error}</p>
            <button class="primary" type="submit" ?disabled=${this.busy}>
              ${this.busy ? msg('Wird angemeldet …', { id: 'enroll.busy' }) : msg('Gerät anmelden', { id: 'enroll.submit' })}
            </button>
          </form>
          </div>
        </section>
        ${this.scanning ? html`<sm-qr-scanner @code=${this.onScanned} @close=${this.onScannerClosed}></sm-qr-scanner>` : nothing}
        <p class="privacy">${lockIcon}<span>${msg('Ende-zu-Ende-verschlüsselt. Deine Schlüssel verlassen dieses Gerät nie.', { id: 'enroll.privacy' })}</span></p>
      </main>
    `;
  }

  static override styles = [
    base,
    css`
      :host {
        display: block;
        min-height: 100%;
        background: linear-gradient(180deg, var(--brand) 0, var(--brand) 240px, var(--panel-alt) 240px);
      }
      .page {
        max-width: 480px;
        margin: 0 auto;
        padding: 16px 16px 32px;
      }
      .top {
        display: flex;
        justify-content: space-between;
        align-items: center;
        min-height: 48px;
      }
      .top .link-button {
        color: #fff;
      }
      .lang {
        display: inline-flex;
        align-items: center;
        gap: 6px;
        border: 1px solid rgba(255, 255, 255, 0.6);
        background: transparent;
        color: #fff;
        border-radius: 20px;
        padding: 6px 14px 6px 10px;
        cursor: pointer;
      }
      .lang .icon {
        width: 20px;
        height: 20px;
      }
      .card {
        margin-top: 8px;
        background: var(--panel);
        border-radius: 20px;
        padding: 24px 24px 24px;
        box-shadow: 0 10px 30px rgba(0, 40, 30, 0.12);
        text-align: center;
      }
      .logo {
        width: 52px;
        height: 52px;
      }
      h1 {
        font-size: 1.45rem;
        margin: 8px 0 2px;
      }
      .school {
        margin: 0 0 8px;
        color: var(--brand);
        font-weight: 600;
      }
      .lead {
        color: var(--ink-soft);
        line-height: 1.45;
        margin: 4px 0 16px;
      }
      form {
        display: grid;
        gap: 8px;
        text-align: left;
      }
      label {
        font-weight: 600;
      }
      label:not(:first-of-type) {
        margin-top: 4px;
      }
      input {
        font: inherit;
        font-size: 1.1rem;
        padding: 10px 14px;
        border: 2px solid #8a9894;
        border-radius: 10px;
        width: 100%;
        color: var(--ink);
        background: #fff;
      }
      #code {
        font-size: 1.25rem;
        letter-spacing: 0.08em;
        font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, 'DejaVu Sans Mono', monospace;
        padding: 12px 14px;
      }
      input:focus-visible {
        border-color: var(--brand);
        outline-offset: 1px;
      }
      input[aria-invalid='true'] {
        border-color: var(--danger);
      }
      .tabs {
        display: grid;
        grid-template-columns: 1fr 1fr;
        gap: 4px;
        padding: 4px;
        margin: 0 0 16px;
        border-radius: 12px;
        background: var(--panel-alt);
      }
      [role='tab'] {
        border: none;
        border-radius: 9px;
        padding: 10px 8px;
        background: transparent;
        color: var(--ink-soft);
        font-weight: 600;
        cursor: pointer;
      }
      [role='tab'][aria-selected='true'] {
        background: #fff;
        color: var(--brand-strong);
        box-shadow: 0 1px 3px rgba(0, 0, 0, 0.15);
      }
      .scan-button {
        justify-self: start;
        display: inline-flex;
        align-items: center;
        gap: 8px;
        border: 2px solid var(--brand);
        border-radius: 20px;
        background: #fff;
        color: var(--brand-strong);
        font-weight: 600;
        padding: 6px 14px 6px 10px;
        cursor: pointer;
      }
      .help {
        margin: 0;
        color: var(--ink-soft);
        font-size: 0.9rem;
      }
      .error {
        margin: 0;
        min-height: 1.3em;
        color: var(--danger);
        font-weight: 500;
      }
      .primary {
        margin-top: 8px;
        width: 100%;
      }
      .privacy {
        display: flex;
        gap: 8px;
        align-items: center;
        justify-content: center;
        color: var(--ink-soft);
        font-size: 0.9rem;
        margin: 16px auto 0;
        max-width: 380px;
        text-align: left;
      }
      .privacy .icon {
        width: 18px;
        height: 18px;
      }
    `,
  ];
}

customElements.define('sm-enroll', EnrollView);
