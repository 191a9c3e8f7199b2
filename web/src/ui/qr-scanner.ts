import { msg, str, updateWhenLocaleChanges } from '@lit/localize';
import jsQR from 'jsqr';
import { LitElement, css, html, nothing } from 'lit';
import { dialogStyles } from './dialog-styles.ts';
import { codeFromScan } from './enroll-link.ts';
import { closeIcon } from './icons.ts';
import { base } from './styles.ts';

/** Frames are scaled down to this width before decoding: enough for a QR code held up to a laptop camera. */
const SCAN_WIDTH = 640;
const SCAN_EVERY_MS = 150;

/**
 * Scans the QR code of a sign-in code with the camera (getUserMedia, decoded by jsQR on the page). Emits `code` with
 * the code when it found one of this school, `close` when closed. Loaded only when the user asks to scan.
 */
export class QrScanner extends LitElement {
  static override properties = { error: { state: true }, starting: { state: true } };
  declare error: string;
  declare starting: boolean;

  private stream: MediaStream | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private canvas: HTMLCanvasElement | undefined;

  constructor() {
    super();
    updateWhenLocaleChanges(this);
    this.error = '';
    this.starting = true;
  }

  override firstUpdated(): void {
    this.renderRoot.querySelector('dialog')?.showModal();
    void this.start();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.stop();
  }

  private async start(): Promise<void> {
    const video = this.renderRoot.querySelector('video');
    if (!video) return;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment', width: { ideal: 1280 } }, audio: false });
    } catch (error) {
      const name = (error as DOMException).name;
      this.error =
        name === 'NotAllowedError' || name === 'SecurityError'
          ? msg('Kein Zugriff auf die Kamera. Erlaube ihn in den Einstellungen des Browsers oder tippe den Code ab.', { id: 'scan.denied' })
          : msg('Keine Kamera gefunden. Tippe den Code ab.', { id: 'scan.no-camera' });
      this.starting = false;
      return;
    }
    video.srcObject = this.stream;
    await video.play().catch(() => {});
    this.starting = false;
    this.canvas = document.createElement('canvas');
    this.timer = setInterval(() => this.scan(video), SCAN_EVERY_MS);
  }

  private scan(video: HTMLVideoElement): void {
    if (!this.canvas || video.videoWidth === 0) return;
    const scale = Math.min(1, SCAN_WIDTH / video.videoWidth);
    const w = Math.round(video.videoWidth * scale);
    const h = Math.round(video.videoHeight * scale);
    this.canvas.width = w;
    this.canvas.height = h;
    const ctx = this.canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) return;
    ctx.drawImage(video, 0, 0, w, h);
    const found = jsQR(ctx.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: 'dontInvert' });
    if (!found) return;
    const result = codeFromScan(found.data, location.origin);
    if (result.ok) {
      this.stop();
      this.dispatchEvent(new CustomEvent<string>('code', { detail: result.code, bubbles: true, composed: true }));
      this.renderRoot.querySelector('dialog')?.close();
    } else if (result.reason === 'other-school') {
      this.error = msg(str`Dieser QR-Code gehört zu einer anderen Schule (${result.host}).`, { id: 'scan.other-school' });
    } else {
      this.error = msg('Das ist kein Anmelde-QR-Code.', { id: 'scan.not-a-code' });
    }
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = undefined;
  }

  override render() {
    return html`<dialog
      aria-labelledby="scan-title"
      @close=${() => {
        this.stop();
        this.dispatchEvent(new CustomEvent('close', { bubbles: true, composed: true }));
      }}
    >
      <div class="head">
        <h2 id="scan-title">${msg('QR-Code scannen', { id: 'scan.title' })}</h2>
        <button class="icon-button" aria-label=${msg('Schließen', { id: 'dialog.close' })} @click=${() => this.renderRoot.querySelector('dialog')?.close()}>
          ${closeIcon}
        </button>
      </div>
      <div class="body">
        <p class="muted">${msg('Halte den QR-Code deines Anmeldezettels vor die Kamera.', { id: 'scan.hint' })}</p>
        <video muted playsinline aria-hidden="true"></video>
        ${this.starting ? html`<p class="muted" role="status">${msg('Kamera wird gestartet …', { id: 'scan.starting' })}</p>` : nothing}
        <p class="error" role="alert">${this.error}</p>
      </div>
    </dialog>`;
  }

  static override styles = [
    base,
    dialogStyles,
    css`
      video {
        display: block;
        width: 100%;
        aspect-ratio: 4 / 3;
        background: #111;
        border-radius: 12px;
        object-fit: cover;
      }
      .error:empty {
        display: none;
      }
    `,
  ];
}

customElements.define('sm-qr-scanner', QrScanner);
