import { DecodeError } from './errors.ts';

const textDecoder = new TextDecoder('utf-8', { fatal: true });

export interface DecoderLimits {
  /** Longest byte string or UTF-8 string a single field may declare. */
  maxFieldBytes: number;
  /** Most items a single list may declare. */
  maxListItems: number;
}

export const defaultLimits: DecoderLimits = { maxFieldBytes: 4 * 1024 * 1024, maxListItems: 100_000 };

/**
 * Total reader over untrusted bytes: every method either returns a value or throws DecodeError. Lengths are
 * checked against what is left in the input before anything is allocated, so hostile lengths cannot make it
 * allocate more than the input itself.
 */
export class Decoder {
  pos = 0;

  constructor(
    readonly buf: Uint8Array,
    readonly limits: DecoderLimits = defaultLimits,
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  fail(code: DecodeError['code'], message: string): never {
    throw new DecodeError(code, message, this.pos);
  }

  private need(n: number): void {
    if (this.remaining < n) this.fail('truncated', `need ${n} bytes, have ${this.remaining}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  varuint(max = Number.MAX_SAFE_INTEGER): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.u8();
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (i > 0 && byte === 0) this.fail('overlong', 'non-minimal varuint');
        if (result > max) this.fail('too-large', `value ${result} exceeds ${max}`);
        return result;
      }
      scale *= 0x80;
    }
    return this.fail('overlong', 'varuint longer than 8 bytes');
  }

  bool(): boolean {
    const v = this.u8();
    if (v > 1) this.fail('bad-value', `boolean byte ${v}`);
    return v === 1;
  }

  fixed(length: number): Uint8Array {
    this.need(length);
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  bytes(max = this.limits.maxFieldBytes): Uint8Array {
    const length = this.varuint();
    if (length > max) this.fail('too-large', `field of ${length} bytes exceeds ${max}`);
    return this.fixed(length);
  }

  string(max = this.limits.maxFieldBytes): string {
    const raw = this.bytes(max);
    try {
      return textDecoder.decode(raw);
    } catch {
      return this.fail('bad-utf8', 'invalid UTF-8');
    }
  }

  optional<T>(read: (dec: this) => T): T | undefined {
    const flag = this.u8();
    if (flag === 0) return undefined;
    if (flag !== 1) this.fail('bad-value', `presence byte ${flag}`);
    return read(this);
  }

  /** Count-prefixed list; `minItemBytes` bounds the count by what the input can still hold. */
  list<T>(read: (dec: this) => T, minItemBytes = 1, max = this.limits.maxListItems): T[] {
    const count = this.varuint();
    if (count > max) this.fail('too-large', `list of ${count} items exceeds ${max}`);
    if (count * minItemBytes > this.remaining) this.fail('truncated', `list of ${count} items cannot fit`);
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(read(this));
    return out;
  }

  /** A small numeric enum: rejects anything not in `allowed`. */
  tag<T extends number>(allowed: readonly T[], what: string): T {
    const value = this.varuint();
    if (!(allowed as readonly number[]).includes(value)) this.fail('bad-tag', `unknown ${what} ${value}`);
    return value as T;
  }

  end(): void {
    if (this.remaining !== 0) this.fail('trailing-bytes', `${this.remaining} trailing bytes`);
  }
}

/** Decodes a whole buffer with `read`, requiring that nothing is left over. */
export function decode<T>(bytes: Uint8Array, read: (dec: Decoder) => T, limits?: DecoderLimits): T {
  const dec = new Decoder(bytes, limits);
  const value = read(dec);
  dec.end();
  return value;
}
