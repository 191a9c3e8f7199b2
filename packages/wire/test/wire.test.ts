import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, Decoder, Encoder, FrameReader, decode, frame, fromBase64Url, toBase64Url } from '../src/index.ts';

const seed = 20261123;

describe('varuint, bytes, strings', () => {
  it('round-trips every safe integer shape', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.uint8Array({ maxLength: 300 }), fc.string({ unit: 'grapheme' }), (n, b, s) => {
        const bytes = new Encoder().varuint(n).bytes(b).string(s).finish();
        const out = decode(bytes, (d) => [d.varuint(), d.bytes(), d.string()] as const);
        expect(out[0]).toBe(n);
        expect([...out[1]]).toEqual([...b]);
        expect(out[2]).toBe(s);
      }),
      { seed, numRuns: 1000 },
    );
  });

  it('rejects non-minimal and overlong varuints', () => {
    expect(() => new Decoder(Uint8Array.of(0x80, 0x00)).varuint()).toThrow(DecodeError);
    expect(() => new Decoder(new Uint8Array(9).fill(0xff)).varuint()).toThrow(/longer than 8/);
  });

  it('refuses a declared length larger than the input before allocating', () => {
    const bytes = new Encoder().varuint(2 ** 40).finish();
    const err = (() => {
      try {
        new Decoder(bytes).bytes(2 ** 50);
      } catch (e) {
        return e as DecodeError;
      }
      return undefined;
    })();
    expect(err?.code).toBe('truncated');
    expect(() => new Decoder(new Encoder().varuint(10_000_000).finish()).list((d) => d.u8())).toThrow(DecodeError);
  });

  it('rejects invalid UTF-8 and trailing bytes', () => {
    expect(() => decode(Uint8Array.of(2, 0xc3, 0x28), (d) => d.string())).toThrow(/UTF-8/);
    expect(() => decode(Uint8Array.of(1, 2), (d) => d.u8())).toThrow(/trailing/);
  });

  it('decoding random bytes only ever throws DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decode(bytes, (d) => [d.varuint(), d.string(), d.list((x) => x.bytes()), d.optional((x) => x.bool())]);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { seed, numRuns: 2000 },
    );
  });
});

describe('frames', () => {
  it('reassembles frames split at arbitrary points', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 10 }), fc.array(fc.nat(50)), (payloads, cuts) => {
        const stream = new Uint8Array(payloads.reduce((n, p) => n + p.length + 4, 0));
        let o = 0;
        for (const p of payloads) {
          stream.set(frame(p), o);
          o += p.length + 4;
        }
        const reader = new FrameReader();
        const out: Uint8Array[] = [];
        let pos = 0;
        for (const c of cuts) {
          out.push(...reader.push(stream.subarray(pos, Math.min(stream.length, pos + c))));
          pos = Math.min(stream.length, pos + c);
        }
        out.push(...reader.push(stream.subarray(pos)));
        expect(out.map((f) => [...f])).toEqual(payloads.map((p) => [...p]));
        expect(reader.pending).toBe(0);
      }),
      { seed, numRuns: 500 },
    );
  });

  it('refuses an oversized frame header with a typed error', () => {
    const reader = new FrameReader(1024);
    expect(() => reader.push(Uint8Array.of(0, 0, 8, 0))).toThrow(DecodeError);
  });
});

describe('base64url', () => {
  it('round-trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), (b) => {
        expect([...fromBase64Url(toBase64Url(b))]).toEqual([...b]);
      }),
      { seed, numRuns: 1000 },
    );
  });
});
