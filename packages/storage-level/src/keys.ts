import type { StorageKey } from '@schoolmesh/storage';

/**
 * Byte encoding of StorageKeys whose LevelDB (memcmp) order equals StorageKey order, compact for the ASCII keys
 * the replica writes (one byte per character, where UTF-16 would take two).
 *
 * Each element is a sequence of UTF-16 code units, each written as
 *  - 0x01–0x7F: one byte, the unit itself;
 *  - 0x0080–0x3FFF: two bytes, 0x80 + (unit >> 8), then unit & 0xFF (lead byte 0x80–0xBF);
 *  - 0x4000–0xFFFF: three bytes, 0xC0, then the unit big-endian;
 * followed by a 0x00 terminator.
 *  - Longer forms have higher lead bytes, and within a form bytes compare like the units, so bytes compare exactly
 *    like JS compares strings (code unit by code unit): surrogate pairs (D800–DFFF) sort below U+E000–U+FFFF, as
 *    in IndexedDB (UTF-8 would put supplementary characters after U+FFFF). Lone surrogates round-trip.
 *  - Elements never contain U+0000, so a terminator meets either another terminator or a lead byte (≥ 0x01) of a
 *    longer element: a shorter element sorts first (['a','b'] < ['a\u0001']) and a shorter key sorts first.
 *  - Parsing from the start is unambiguous (the lead byte says how many bytes follow), so every key with prefix P
 *    starts with encode(P), and every encoded key starting with encode(P) has prefix P.
 */
export function encodeKey(key: StorageKey): Uint8Array {
  let size = 0;
  for (const element of key) {
    for (let i = 0; i < element.length; i++) {
      const unit = element.charCodeAt(i);
      size += unit < 0x80 ? 1 : unit < 0x4000 ? 2 : 3;
    }
    size += 1;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const element of key) {
    for (let i = 0; i < element.length; i++) {
      const unit = element.charCodeAt(i);
      if (unit < 0x80) out[at++] = unit;
      else if (unit < 0x4000) {
        out[at++] = 0x80 + (unit >>> 8);
        out[at++] = unit & 0xff;
      } else {
        out[at++] = 0xc0;
        out[at++] = unit >>> 8;
        out[at++] = unit & 0xff;
      }
    }
    at += 1; // terminator 0x00 (already zero)
  }
  return out;
}

export function decodeKey(bytes: Uint8Array): string[] {
  const key: string[] = [];
  let units: number[] = [];
  let at = 0;
  while (at < bytes.length) {
    const lead = bytes[at]!;
    if (lead === 0) {
      key.push(fromUnits(units));
      units = [];
      at += 1;
    } else if (lead < 0x80) {
      units.push(lead);
      at += 1;
    } else if (lead < 0xc0) {
      if (at + 1 >= bytes.length) throw new Error('encoded key ends inside a unit');
      units.push(((lead - 0x80) << 8) | bytes[at + 1]!);
      at += 2;
    } else if (lead === 0xc0) {
      if (at + 2 >= bytes.length) throw new Error('encoded key ends inside a unit');
      units.push((bytes[at + 1]! << 8) | bytes[at + 2]!);
      at += 3;
    } else throw new Error(`invalid lead byte ${lead}`);
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
 * final terminator 00 raised to 01). No bounds for the empty prefix (the whole store).
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
