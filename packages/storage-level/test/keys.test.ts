import { compareKeys, hasPrefix } from '@schoolmesh/storage';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeKey, encodeKey, prefixBounds } from '../src/keys.ts';

const memcmp = (a: Uint8Array, b: Uint8Array) => Math.sign(Buffer.compare(a, b));
// Any UTF-16 code unit except U+0000, lone surrogates included; biased towards the interesting ones.
const unit = fc.oneof(
  fc.integer({ min: 1, max: 0xffff }),
  fc.constantFrom(0x01, 0x61, 0x62, 0x7f, 0x80, 0xe4, 0xff, 0x100, 0x3fff, 0x4000, 0xd800, 0xd83d, 0xdbff, 0xdc00, 0xde00, 0xdfff, 0xe000, 0xffff),
);
const element = fc.array(unit, { minLength: 1, maxLength: 4 }).map((u) => String.fromCharCode(...u));
const key = fc.array(element, { minLength: 1, maxLength: 8 });
const prefix = fc.array(element, { minLength: 0, maxLength: 3 });

describe('LevelDB key encoding', () => {
  it('memcmp order of encodings equals compareKeys order', () => {
    fc.assert(
      fc.property(key, key, (a, b) => {
        expect(memcmp(encodeKey(a), encodeKey(b))).toBe(Math.sign(compareKeys(a, b)));
      }),
      { seed: 20261123, numRuns: 5000 },
    );
  });

  it('round-trips, including lone surrogates', () => {
    fc.assert(
      fc.property(key, (k) => {
        expect(decodeKey(encodeKey(k))).toEqual(k);
      }),
      { seed: 1, numRuns: 2000 },
    );
    expect(decodeKey(encodeKey(['\uD800', '\uDFFF\uD800', 'a']))).toEqual(['\uD800', '\uDFFF\uD800', 'a']);
  });

  it('prefix bounds select exactly the keys with that prefix', () => {
    const withPrefix = fc.tuple(prefix, fc.array(element, { maxLength: 3 })).map(([p, rest]) => [p, [...p, ...rest].slice(0, 8)] as const);
    fc.assert(
      fc.property(prefix, key, withPrefix, (p, k, [p2, k2]) => {
        for (const [pp, kk] of [[p, k], [p2, k2]] as const) {
          if (kk.length === 0) continue;
          const { gte, lt } = prefixBounds(pp);
          const e = encodeKey(kk);
          const inside = (!gte || memcmp(e, gte) >= 0) && (!lt || memcmp(e, lt) < 0);
          expect(inside).toBe(hasPrefix(kk, pp));
        }
      }),
      { seed: 2, numRuns: 5000 },
    );
  });

  it('UTF-16 order, not UTF-8 order: a surrogate pair sorts below U+E000..U+FFFF', () => {
    expect(memcmp(encodeKey(['\u{1F600}']), encodeKey(['\uE000']))).toBe(-1);
    expect(memcmp(encodeKey(['\u{1F600}']), encodeKey(['\uFFFF']))).toBe(-1);
    // whereas UTF-8 bytes would say the opposite
    expect(memcmp(Buffer.from('\u{1F600}'), Buffer.from('\uE000'))).toBe(1);
    expect(memcmp(encodeKey(['a']), encodeKey(['a', 'b']))).toBe(-1);
    expect(memcmp(encodeKey(['a', 'b']), encodeKey(['a\u0001']))).toBe(-1);
    expect(encodeKey(['ab'])).toEqual(Uint8Array.of(0x61, 0x62, 0));
    expect(encodeKey(['\u00e4', '\u4e2d'])).toEqual(Uint8Array.of(0x80, 0xe4, 0, 0xc0, 0x4e, 0x2d, 0));
  });
});
