/**
 * Escaping for LDAP: filter values (RFC 4515) and distinguished names (RFC 4514).
 *
 * Filters that carry user input are built as ldapts filter objects (`EqualityFilter`), which send the value as
 * bytes, so no escaping is involved at all; `escapeFilterValue` is for the textual filters of a configuration.
 * DNs: ldapts' own RDN escaping quotes values with leading or trailing spaces (RFC 2253 style, not valid under
 * RFC 4514) and does not parse DNs, so the RFC 4514 parts are here. Servers return the same DN in different
 * spellings (`\2C` or `\,`, `CN=` or `cn=`, UTF-8 or hex pairs); `dnKey` gives one comparable form.
 */
import { Filter } from 'ldapts';

/** RFC 4515 §3: `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`; UTF-8 stays as it is. */
export function escapeFilterValue(value: string): string {
  return Filter.escape(value);
}

/** RFC 4514 §2.4: escapes one attribute value for use in a DN. */
export function escapeDnValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\0') out += '\\00';
    else if ('"+,;<>\\='.includes(c)) out += `\\${c}`;
    else if ((c === ' ' || c === '#') && i === 0) out += `\\${c}`;
    else if (c === ' ' && i === value.length - 1) out += '\\ ';
    else out += c;
  }
  return out;
}

export class DnError extends Error {
  override readonly name = 'DnError';
}

export interface Ava {
  type: string;
  value: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses an RFC 4514 DN into RDNs (each one or more attribute-value pairs), unescaping values. */
export function parseDn(dn: string): Ava[][] {
  const rdns: Ava[][] = [];
  let i = 0;
  const n = dn.length;
  const skipSpaces = () => {
    while (i < n && dn[i] === ' ') i++;
  };
  skipSpaces();
  if (i === n) return [];
  for (;;) {
    const rdn: Ava[] = [];
    for (;;) {
      skipSpaces();
      const typeStart = i;
      while (i < n && /[A-Za-z0-9.-]/.test(dn[i]!)) i++;
      const type = dn.slice(typeStart, i);
      if (!/^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)*)$/.test(type)) throw new DnError(`bad attribute type at ${typeStart} in "${dn}"`);
      skipSpaces();
      if (dn[i] !== '=') throw new DnError(`"=" expected at ${i} in "${dn}"`);
      i++;
      skipSpaces();
      let value = '';
      if (dn[i] === '#') {
        const start = i;
        i++;
        while (i < n && /[0-9A-Fa-f]/.test(dn[i]!)) i++;
        value = dn.slice(start, i).toLowerCase();
        if (value.length < 3 || value.length % 2 === 0) throw new DnError(`bad hex value at ${start} in "${dn}"`);
      } else {
        const bytes: number[] = [];
        let trailingSpaces = 0;
        const flush = () => {
          if (bytes.length === 0) return;
          try {
            value += utf8.decode(Uint8Array.from(bytes));
          } catch {
            throw new DnError(`escaped bytes are not UTF-8 in "${dn}"`);
          }
          bytes.length = 0;
        };
        while (i < n && dn[i] !== ',' && dn[i] !== '+' && dn[i] !== ';') {
          const c = dn[i]!;
          if (c === '\\') {
            const h = dn.slice(i + 1, i + 3);
            if (/^[0-9A-Fa-f]{2}$/.test(h)) {
              bytes.push(Number.parseInt(h, 16));
              i += 3;
            } else if (i + 1 < n && ' "#+,;<=>\\'.includes(dn[i + 1]!)) {
              flush();
              value += dn[i + 1];
              i += 2;
            } else throw new DnError(`bad escape at ${i} in "${dn}"`);
            trailingSpaces = 0;
            continue;
          }
          flush();
          if (c === '"' || c === '<' || c === '>' || c === '\0') throw new DnError(`"${c}" must be escaped (at ${i} in "${dn}")`);
          value += c;
          trailingSpaces = c === ' ' ? trailingSpaces + 1 : 0;
          i++;
        }
        flush();
        if (trailingSpaces > 0) value = value.slice(0, value.length - trailingSpaces);
      }
      rdn.push({ type, value });
      if (dn[i] === '+') {
        i++;
        continue;
      }
      break;
    }
    rdns.push(rdn);
    if (i === n) return rdns;
    if (dn[i] === ',' || dn[i] === ';') {
      i++;
      continue;
    }
    throw new DnError(`unexpected "${dn[i]}" at ${i} in "${dn}"`);
  }
}

/** Builds a DN from RDNs, escaping each value. */
export function formatDn(rdns: readonly (readonly Ava[])[]): string {
  return rdns.map((rdn) => rdn.map((a) => `${a.type}=${a.value.startsWith('#') && /^#[0-9a-f]+$/.test(a.value) ? a.value : escapeDnValue(a.value)}`).join('+')).join(',');
}

function rdnKeys(dn: string): string[] {
  return parseDn(dn).map((rdn) =>
    formatDn([
      rdn
        .map((a) => ({ type: a.type.toLowerCase(), value: a.value.normalize('NFC').toLowerCase() }))
        .sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0)),
    ]),
  );
}

/**
 * A comparable form of a DN: types lower-cased, values NFC and lower-cased (the naming attributes of directories
 * match case-insensitively), multi-valued RDNs in a fixed order, then formatted. Throws DnError on a malformed DN.
 */
export function dnKey(dn: string): string {
  return rdnKeys(dn).join(',');
}

/** Whether `dn` is `base` or below it. */
export function isUnder(dn: string, base: string): boolean {
  const d = rdnKeys(dn);
  const b = rdnKeys(base);
  if (b.length > d.length) return false;
  return b.every((rdn, k) => d[d.length - b.length + k] === rdn);
}
