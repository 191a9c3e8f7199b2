const textEncoder = new TextEncoder();

/** Growable byte writer for the wire format: varuints, length-prefixed bytes and strings (docs/protocol.md). */
export class Encoder {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  get length(): number {
    return this.pos;
  }

  u8(value: number): this {
    this.ensure(1);
    this.buf[this.pos++] = value & 0xff;
    return this;
  }

  /** Unsigned LEB128, up to Number.MAX_SAFE_INTEGER. */
  varuint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varuint out of range: ${value}`);
    this.ensure(8);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  bool(value: boolean): this {
    return this.u8(value ? 1 : 0);
  }

  /** Bytes of a length fixed by the format (keys, signatures, nonces): no prefix. */
  fixed(bytes: Uint8Array, length: number): this {
    if (bytes.length !== length) throw new RangeError(`expected ${length} bytes, got ${bytes.length}`);
    this.ensure(length);
    this.buf.set(bytes, this.pos);
    this.pos += length;
    return this;
  }

  /** Length-prefixed bytes. */
  bytes(bytes: Uint8Array): this {
    this.varuint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** Length-prefixed UTF-8. */
  string(value: string): this {
    return this.bytes(textEncoder.encode(value));
  }

  /** Optional value: a presence byte, then the value. */
  optional<T>(value: T | undefined, write: (enc: this, v: T) => void): this {
    if (value === undefined) return this.u8(0);
    this.u8(1);
    write(this, value);
    return this;
  }

  /** Count-prefixed list. */
  list<T>(items: readonly T[], write: (enc: this, item: T) => void): this {
    this.varuint(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export function encode(write: (enc: Encoder) => void, initialSize?: number): Uint8Array {
  const enc = new Encoder(initialSize);
  write(enc);
  return enc.finish();
}
