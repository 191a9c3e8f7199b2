import type { StorageKey } from '@schoolmesh/storage';

/**
 * Byte encoding of StorageKeys whose LevelDB (memcmp) order equals StorageKey order.
 *
 * Each element is written as big-endian UTF-16 code units followed by a 0x0000 terminator.
 *  - Big-endian code units compare bytewise exactly like JS compares strings (code unit by code
 *    unit), so surrogate pairs (D800–DFFF) sort below U+E000–U+FFFF, as in IndexedDB. (UTF-8 would
 *    put supplementary characters after U+FFFF: a different order.) Lone surrogates round-trip.
 *  - Elements never contain U+0000, so the 0x0000 terminator sorts below every code unit that can
 *    follow: a shorter element sorts first (['a','b'] < ['a\u0001']) and a shorter key sorts first.
 *  - Parsing is unambiguous (always 2-byte aligned), so every key with prefix P starts with
 *    encode(P), and every encoded key starting with encode(P) has prefix P.
 */
export function encodeKey(key: StorageKey): Uint8Array {
  let units = 0;
  for (const element of key) units += element.length + 1;
  const out = new Uint8Array(units * 2);
  let at = 0;
  for (const element of key) {
    for (let i = 0; i < element.length; i++) {
      const unit = element.charCodeAt(i);
      out[at] = unit >>> 8;
      out[at + 1] = unit & 0xff;
      at += 2;
    }
    at += 2; // terminator 0x00 0x00 (already zero)
  }
  return out;
}

export function decodeKey(bytes: Uint8Array): string[] {
  if (bytes.length % 2 !== 0) throw new Error('encoded key has odd length');
  const key: string[] = [];
  let units: number[] = [];
  for (let at = 0; at < bytes.length; at += 2) {
    const unit = (bytes[at]! << 8) | bytes[at + 1]!;
    if (unit === 0) {
      key.push(fromUnits(units));
      units = [];
    } else {
      units.push(unit);
    }
  }
  if (units.length > 0) throw new Error('encoded key lacks its final terminator');
  return key;
}

function fromUnits(units: number[]): string {
  let s = '';
  for (let i = 0; i < units.length; i += 4096) s += String.fromCharCode(...units.slice(i, i + 4096));
  return s;
}

/**
 * LevelDB bounds selecting exactly the keys with this prefix: [encode(P), encode(P) with its
 * final terminator 00 00 raised to 00 01). No bounds for the empty prefix (the whole store).
 */
export function prefixBounds(prefix: StorageKey): { gte?: Uint8Array; lt?: Uint8Array } {
  if (prefix.length === 0) return {};
  const gte = encodeKey(prefix);
  const lt = gte.slice();
  lt[lt.length - 1] = 1;
  return { gte, lt };
}

export function startsWithBytes(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}
