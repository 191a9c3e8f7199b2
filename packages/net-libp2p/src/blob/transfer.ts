import type { FrameChannel } from '@schoolmesh/sync';
import { BLOB_CHUNK_BYTES, BlobError, BlobErrorCode, type BlobFrame, type BlobRef, decodeBlobFrame, encodeBlobFrame } from './frames.ts';

/** Bytes queued on a stream before a sender waits for it to drain. */
const HIGH_WATER_BYTES = 1024 * 1024;

/** Reads blob frames from a channel one at a time; a close or an undecodable frame rejects the reader. */
export class BlobFrameReader {
  private readonly frames: BlobFrame[] = [];
  private waiting: { resolve: (f: BlobFrame) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(channel: FrameChannel) {
    channel.onFrame((bytes) => {
      if (this.failure) return;
      let f: BlobFrame;
      try {
        f = decodeBlobFrame(bytes);
      } catch (error) {
        this.fail(new BlobError(BlobErrorCode.Protocol, `bad blob frame: ${(error as Error).message}`));
        channel.close('bad blob frame');
        return;
      }
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w.resolve(f);
      } else this.frames.push(f);
    });
    channel.onClose((reason) => this.fail(new BlobError(BlobErrorCode.Protocol, `stream closed: ${reason ?? 'closed'}`)));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(this.failure);
  }

  /** Frames that arrived but were not read yet (a sender watches for an early refusal). */
  peek(): BlobFrame | undefined {
    return this.frames[0];
  }

  next(): Promise<BlobFrame> {
    const f = this.frames.shift();
    if (f) return Promise.resolve(f);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }
}

export function sendFrame(channel: FrameChannel, f: BlobFrame): void {
  channel.send(encodeBlobFrame(f));
}

/** Sends bytes as DATA chunks, waiting for the stream to drain; stops early when `stop()` says so. */
export async function sendChunks(channel: FrameChannel, bytes: Uint8Array, onProgress?: (done: number, total: number) => void, stop?: () => boolean): Promise<void> {
  for (let at = 0; at < bytes.length; at += BLOB_CHUNK_BYTES) {
    if (stop?.()) return;
    const chunk = bytes.subarray(at, Math.min(bytes.length, at + BLOB_CHUNK_BYTES));
    sendFrame(channel, { type: 'data', bytes: chunk });
    onProgress?.(at + chunk.length, bytes.length);
    while ((channel.buffered ?? 0) > HIGH_WATER_BYTES && !stop?.()) await new Promise((r) => setTimeout(r, 5));
  }
}

/** Receives exactly `size` bytes of DATA frames. */
export async function receiveChunks(reader: BlobFrameReader, size: number, onProgress?: (done: number, total: number) => void): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  let filled = 0;
  while (filled < size) {
    const f = await reader.next();
    if (f.type === 'error') throw new BlobError(f.code, f.message);
    if (f.type !== 'data') throw new BlobError(BlobErrorCode.Protocol, `expected DATA, got ${f.type.toUpperCase()}`);
    if (filled + f.bytes.length > size) throw new BlobError(BlobErrorCode.Protocol, 'more DATA than the blob declared');
    out.set(f.bytes, filled);
    filled += f.bytes.length;
    onProgress?.(filled, size);
  }
  return out;
}

/** Uploads a sealed blob on a fresh channel (one request per stream) and waits for the peer's OK. */
export async function putBlob(channel: FrameChannel, ref: BlobRef, sealed: Uint8Array, onProgress?: (done: number, total: number) => void): Promise<void> {
  const reader = new BlobFrameReader(channel);
  try {
    sendFrame(channel, { type: 'put', ...ref, size: sealed.length });
    // A refusal (not a member, too large, over quota) comes before the data is through: stop sending then.
    await sendChunks(channel, sealed, onProgress, () => reader.peek() !== undefined);
    const answer = await reader.next();
    if (answer.type === 'error') throw new BlobError(answer.code, answer.message);
    if (answer.type !== 'ok') throw new BlobError(BlobErrorCode.Protocol, `expected OK, got ${answer.type.toUpperCase()}`);
  } finally {
    channel.close('done');
  }
}

/**
 * Downloads a sealed blob on a fresh channel. The caller verifies it (its address, then its key and plaintext hash:
 * `openBlob` in @schoolmesh/crypto); a blob declared larger than `maxBytes` is refused before any data is read.
 */
export async function getBlob(channel: FrameChannel, ref: BlobRef, maxBytes: number, onProgress?: (done: number, total: number) => void): Promise<Uint8Array> {
  const reader = new BlobFrameReader(channel);
  try {
    sendFrame(channel, { type: 'get', ...ref });
    const answer = await reader.next();
    if (answer.type === 'error') throw new BlobError(answer.code, answer.message);
    if (answer.type !== 'ok') throw new BlobError(BlobErrorCode.Protocol, `expected OK, got ${answer.type.toUpperCase()}`);
    if (answer.size > maxBytes) throw new BlobError(BlobErrorCode.TooLarge, `blob of ${answer.size} bytes exceeds ${maxBytes}`);
    return await receiveChunks(reader, answer.size, onProgress);
  } finally {
    channel.close('done');
  }
}
