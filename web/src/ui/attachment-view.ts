import { msg, str, updateWhenLocaleChanges } from '@lit/localize';
import { LitElement, css, html, nothing } from 'lit';
import { isImageType } from '../api/files.ts';
import type { AttachmentView } from '../api/protocol.ts';
import { intlLocale } from '../i18n/locale.ts';
import { fileSize } from './files.ts';
import { fileIcon } from './icons.ts';
import { base } from './styles.ts';

export type AttachmentLoader = () => Promise<{ name: string; mime: string; bytes: Uint8Array }>;

/**
 * Object URLs of attachments this page has fetched, by attachment id: the virtualized list recreates bubbles as it
 * scrolls, and each would otherwise ask the worker again. The bytes were verified in the worker.
 */
const urls = new Map<string, Promise<string>>();
const MAX_CACHED = 200;
/** Pauses before loading an image again after a failure (a file sent offline follows its message later). */
const RETRY_PAUSES_MS = [3_000, 10_000, 30_000, 60_000];

function urlFor(id: string, load: AttachmentLoader): Promise<string> {
  let url = urls.get(id);
  if (!url) {
    url = load().then(({ mime, bytes }) => URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mime })));
    url.catch(() => urls.delete(id));
    urls.set(id, url);
    if (urls.size > MAX_CACHED) {
      const [oldest, p] = urls.entries().next().value!;
      urls.delete(oldest);
      void p.then((u) => URL.revokeObjectURL(u), () => {});
    }
  }
  return url;
}

/**
 * One attachment in a bubble: an image as an inline thumbnail (a button that opens it full size in a modal
 * dialog, which Escape closes), a PDF as a file card whose button opens it. Bytes come from the worker, verified.
 */
export class AttachmentElement extends LitElement {
  static override properties = {
    att: { attribute: false },
    load: { attribute: false },
    url: { state: true },
    failed: { state: true },
  };
  declare att: AttachmentView;
  declare load: AttachmentLoader;
  declare url: string | undefined;
  declare failed: boolean;
  private attempts = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    super();
    updateWhenLocaleChanges(this);
    this.failed = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    if (this.att && isImageType(this.att.mime)) void this.fetch();
  }

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('att') && this.att && isImageType(this.att.mime) && !this.url) void this.fetch();
  }

  private async fetch(): Promise<string | undefined> {
    if (!this.load) return undefined;
    try {
      this.url = await urlFor(this.att.id, this.load);
      this.failed = false;
      this.attempts = 0;
      return this.url;
    } catch {
      // The sender may have written the message offline: its files reach the relay later. Try again a few times.
      const pause = RETRY_PAUSES_MS[this.attempts++];
      if (pause !== undefined && this.isConnected) this.retry = setTimeout(() => void this.fetch(), pause);
      else this.failed = true;
      return undefined;
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearTimeout(this.retry);
    this.retry = undefined;
  }

  private openImage(): void {
    this.renderRoot.querySelector<HTMLDialogElement>('dialog')?.showModal();
  }

  private async openFile(): Promise<void> {
    const url = this.url ?? (await this.fetch());
    if (!url) return;
    const a = document.createElement('a');
    a.href = url;
    a.download = this.att.name;
    a.rel = 'noopener';
    a.click();
  }

  override render() {
    const a = this.att;
    if (!a) return nothing;
    const size = fileSize(a.size, intlLocale());
    if (isImageType(a.mime)) {
      return html`<button class="thumb" @click=${() => this.openImage()} aria-label=${msg(str`Bild ${a.name} groß anzeigen`, { id: 'att.open-image' })}>
          ${this.url
            ? html`<img src=${this.url} alt=${a.name} />`
            : html`<span class="placeholder">${this.failed ? msg('Bild nicht verfügbar', { id: 'att.unavailable' }) : msg('Bild wird geladen …', { id: 'att.loading' })}</span>`}
        </button>
        <dialog aria-label=${a.name} @click=${(e: Event) => e.target === e.currentTarget && (e.currentTarget as HTMLDialogElement).close()}>
          ${this.url ? html`<img class="full" src=${this.url} alt=${a.name} />` : nothing}
          <form method="dialog"><button class="close">${msg('Schließen', { id: 'att.close' })}</button></form>
        </dialog>`;
    }
    return html`<div class="card">
      <span class="file-icon">${fileIcon}</span>
      <span class="file-text"><span class="file-name">${a.name}</span><span class="file-size">${size}</span></span>
      <button class="open" @click=${() => this.openFile()} aria-label=${msg(str`${a.name} öffnen`, { id: 'att.open-file' })}>
        ${msg('Öffnen', { id: 'att.open' })}
      </button>
      ${this.failed ? html`<span class="file-error" role="alert">${msg('Die Datei ist nicht verfügbar.', { id: 'att.file-unavailable' })}</span>` : nothing}
    </div>`;
  }

  static override styles = [
    base,
    css`
      :host {
        display: block;
        margin: 2px 0 4px;
      }
      .thumb {
        display: block;
        padding: 0;
        border: 0;
        background: var(--panel-alt);
        border-radius: 8px;
        cursor: zoom-in;
        overflow: hidden;
      }
      .thumb img {
        display: block;
        max-width: min(280px, 60vw);
        max-height: 280px;
        object-fit: cover;
      }
      .placeholder {
        display: block;
        padding: 40px 24px;
        color: var(--ink-soft);
        font-size: 0.85rem;
      }
      dialog {
        padding: 8px;
        border: 0;
        border-radius: var(--radius);
        max-width: 96vw;
        max-height: 96vh;
      }
      dialog::backdrop {
        background: rgb(0 0 0 / 75%);
      }
      .full {
        display: block;
        max-width: calc(96vw - 16px);
        max-height: calc(96vh - 64px);
      }
      form {
        display: flex;
        justify-content: flex-end;
        margin-top: 8px;
      }
      .close,
      .open {
        font: inherit;
        border: 1px solid var(--line);
        background: var(--panel);
        color: var(--brand-strong);
        border-radius: 8px;
        padding: 6px 12px;
        cursor: pointer;
      }
      .card {
        display: flex;
        align-items: center;
        gap: 8px;
        flex-wrap: wrap;
        padding: 8px;
        border-radius: 8px;
        background: var(--panel-alt);
        min-width: 220px;
      }
      .file-icon {
        color: var(--danger);
        display: flex;
      }
      .file-text {
        display: flex;
        flex-direction: column;
        flex: 1;
        min-width: 0;
      }
      .file-name {
        overflow-wrap: anywhere;
        font-weight: 600;
      }
      .file-size {
        color: var(--ink-soft);
        font-size: 0.8rem;
      }
      .file-error {
        flex-basis: 100%;
        color: var(--danger);
        font-size: 0.85rem;
      }
    `,
  ];
}

customElements.define('sm-attachment', AttachmentElement);
