import type { StorageAdapter } from '@schoolmesh/storage';
import { AttachmentError, type BlobAddress, type BlobTransport, blobKey } from './attachments.ts';

const OUTBOX = 'blob-outbox';
/** First pause after a failed upload; it doubles with each failure in a row, up to `MAX_PAUSE_MS`. */
const FIRST_PAUSE_MS = 2_000;
const MAX_PAUSE_MS = 60_000;

const outboxKey = (a: BlobAddress) => [OUTBOX, a.group, String(a.bucket), a.id];
const addressId = (a: BlobAddress) => `${a.group}/${a.bucket}/${a.id}`;

/**
 * A refusal that sending again will not change: the relay's size limit, or bytes that do not match their address.
 * The engine's own `AttachmentError`s, and transport errors that say so (`permanent: true`, as the blob protocol's
 * TooLarge and Mismatch do).
 */
export function isPermanentRefusal(error: unknown): boolean {
  if (error instanceof AttachmentError) return true;
  return typeof error === 'object' && error !== null && (error as { permanent?: unknown }).permanent === true;
}

/**
 * Sealed attachment blobs still to be uploaded to the relay, kept in the device's store so that a message with
 * attachments can be written offline (or while the relay does not know a new group yet) and its files follow when
 * the relay takes them. The sealed bytes themselves stay under `blobKey` (the sender's own copy); the outbox holds
 * only their addresses. Uploads run one at a time, after a failure with growing pauses, and again at once when a
 * transport is set or `kick()` says the relay is back.
 */
export class BlobOutbox {
  private readonly items = new Map<string, BlobAddress>();
  private transport: BlobTransport | undefined;
  private draining: Promise<void> | undefined;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** `kick()` came while a round was under way. */
  private kicked = false;

  private constructor(
    private readonly storage: StorageAdapter,
    private readonly onChange: (address: BlobAddress) => void,
    private readonly log?: (level: 'debug' | 'warn', message: string) => void,
  ) {}

  static async open(storage: StorageAdapter, onChange: (address: BlobAddress) => void, log?: (level: 'debug' | 'warn', message: string) => void): Promise<BlobOutbox> {
    const outbox = new BlobOutbox(storage, onChange, log);
    for (const key of await storage.keys([OUTBOX])) {
      const [, group, bucket, id] = key;
      if (group === undefined || bucket === undefined || id === undefined || !/^\d+$/.test(bucket)) continue;
      const address = { group, bucket: Number(bucket), id };
      outbox.items.set(addressId(address), address);
    }
    return outbox;
  }

  /** Addresses still waiting, oldest first. */
  pending(): BlobAddress[] {
    return [...this.items.values()];
  }

  has(address: BlobAddress): boolean {
    return this.items.has(addressId(address));
  }

  /** Queues a blob whose sealed bytes are in the store already, and tries to send it. */
  async add(address: BlobAddress): Promise<void> {
    await this.storage.save(outboxKey(address), new Uint8Array(0));
    this.items.set(addressId(address), address);
    this.kick();
  }

  /** Sets (or clears) the transport; a new one starts sending what waits. */
  setTransport(transport: BlobTransport | undefined): void {
    this.transport = transport;
    this.kick();
  }

  /** Tries now (the relay link came back), instead of waiting for the pause after the last failure. */
  kick(): void {
    if (this.closed || !this.transport || this.items.size === 0) return;
    this.log?.('debug', `attachments to upload: ${this.items.size}${this.draining ? ' (a round is under way)' : ''}`);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.failures = 0;
    // A round under way may be stuck on a dial to the relay that was down: go again as soon as it ends.
    if (this.draining) this.kicked = true;
    else this.drain();
  }

  /** Forgets what waits for buckets retention deleted (their blobs are gone). */
  async forget(expired: (address: BlobAddress) => boolean): Promise<void> {
    for (const address of this.pending()) if (expired(address)) await this.remove(address);
  }

  /** Resolves when the current round of uploads is over (tests). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = this.sendAll().finally(() => {
      this.draining = undefined;
      if (this.kicked) {
        this.kicked = false;
        this.kick();
      }
    });
  }

  private async sendAll(): Promise<void> {
    for (const address of this.pending()) {
      const transport = this.transport;
      if (this.closed || !transport) return;
      const sealed = await this.storage.load(blobKey(address));
      if (!sealed) {
        // Deleted with its bucket (retention) or the profile: nothing left to send.
        await this.remove(address);
        continue;
      }
      try {
        this.log?.('debug', `uploading attachment ${address.id} (${sealed.length} bytes)`);
        await transport.put(address, sealed);
      } catch (error) {
        if (isPermanentRefusal(error)) {
          this.log?.('warn', `attachment ${address.id} refused for good: ${(error as Error).message}`);
          await this.remove(address);
          continue;
        }
        this.failures++;
        const pause = Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * 2 ** (this.failures - 1));
        this.log?.('debug', `attachment upload failed (${(error as Error).message}); again in ${pause} ms`);
        if (!this.closed) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.drain();
          }, pause);
          (this.timer as { unref?: () => void }).unref?.();
        }
        return;
      }
      this.failures = 0;
      this.log?.('debug', `attachment ${address.id} uploaded`);
      await this.remove(address);
    }
  }

  private async remove(address: BlobAddress): Promise<void> {
    if (!this.items.delete(addressId(address))) return;
    await this.storage.remove(outboxKey(address));
    this.onChange(address);
  }
}
