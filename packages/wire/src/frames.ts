import { DecodeError } from './errors.ts';

/** Largest frame any Schoolmesh peer accepts (docs/protocol.md, "Framing"). */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** Prefix a payload with its length as a 4-byte big-endian integer. */
export function frame(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_FRAME_BYTES) throw new RangeError(`frame of ${payload.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/**
 * Splits a byte stream into frames. Feed chunks as they arrive; complete frames come out. A declared length
 * over the limit is a DecodeError, raised before any buffer of that size is allocated.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  constructor(private readonly maxFrame = MAX_FRAME_BYTES) {}

  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const header = this.peek(4);
      const length = new DataView(header.buffer, header.byteOffset, 4).getUint32(0);
      if (length > this.maxFrame) throw new DecodeError('too-large', `frame of ${length} bytes exceeds ${this.maxFrame}`);
      if (this.buffered < 4 + length) break;
      this.take(4);
      frames.push(this.take(length));
    }
    return frames;
  }

  /** Bytes held waiting for the rest of a frame. */
  get pending(): number {
    return this.buffered;
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return this.gather(n, false);
  }

  private take(n: number): Uint8Array {
    return this.gather(n, true);
  }

  private gather(n: number, consume: boolean): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    const first = this.chunks[0]!;
    if (first.length >= n && consume) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    let index = 0;
    while (filled < n) {
      const chunk = this.chunks[index]!;
      const part = Math.min(chunk.length, n - filled);
      out.set(chunk.subarray(0, part), filled);
      filled += part;
      if (consume) {
        if (part === chunk.length) this.chunks.shift();
        else this.chunks[index] = chunk.subarray(part);
      } else index++;
    }
    if (consume) this.buffered -= n;
    return out;
  }
}
