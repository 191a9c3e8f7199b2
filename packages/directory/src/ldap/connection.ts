/** Connections (TLS, StartTLS, service bind, paged search) and the mapping of one LDAP entry to a person. */
import type { ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';
import { Client, type Entry, type Filter } from 'ldapts';
import type { Role } from '@schoolmesh/model';
import type { LdapConfig, LockRule, PeopleMapping } from './config.ts';

export function tlsOptions(config: LdapConfig): ConnectionOptions {
  const host = new URL(config.url).hostname.replace(/^\[|\]$/g, '');
  const options: ConnectionOptions = { rejectUnauthorized: config.tls.rejectUnauthorized };
  if (config.tls.ca) options.ca = config.tls.ca;
  const name = config.tls.servername ?? host;
  // SNI takes names only; for an IP address the certificate must carry it as an IP SAN (checked against `host`).
  if (isIP(name) === 0) options.servername = name;
  options.host = host;
  return options;
}

/** An unbound, connected client: TLS from the start (ldaps://) or after StartTLS. */
export async function connect(config: LdapConfig): Promise<Client> {
  const ldaps = config.url.startsWith('ldaps://');
  // ldapts speaks TLS from the start whenever tlsOptions are given, so pass them only for ldaps://.
  const client = new Client({
    url: config.url,
    timeout: config.timeoutMs,
    connectTimeout: config.connectTimeoutMs,
    ...(ldaps ? { tlsOptions: tlsOptions(config) } : {}),
  });
  if (config.startTls && !ldaps) {
    try {
      await client.startTLS(tlsOptions(config));
    } catch (error) {
      await client.unbind().catch(() => {});
      throw error;
    }
  }
  return client;
}

/** Connects and binds as the service account; the caller unbinds. */
export async function serviceClient(config: LdapConfig): Promise<Client> {
  const client = await connect(config);
  try {
    await client.bind(config.bindDn, config.bindPassword);
  } catch (error) {
    await client.unbind().catch(() => {});
    throw error;
  }
  return client;
}

/** A paged search (RFC 2696), so the server's size limit per search does not cut the result. */
export async function pagedSearch(
  client: Client,
  config: LdapConfig,
  base: string,
  scope: 'one' | 'sub',
  filter: string | Filter,
  attributes: string[],
  onPage: (entries: Entry[]) => void,
): Promise<number> {
  let pages = 0;
  for await (const page of client.searchPaginated(base, { scope, filter, attributes, paged: { pageSize: config.pageSize } })) {
    pages++;
    onPage(page.searchEntries);
  }
  return pages;
}

/** At most this many follow-up requests per ranged attribute (1,500 values each in AD: 1.5 million values). */
const MAX_RANGE_REQUESTS = 1_000;

/**
 * Active Directory returns at most 1,500 values of a multi-valued attribute per answer (MaxValRange) and names the
 * attribute then `member;range=0-1499`; the rest has to be asked for range by range (`member;range=1500-*`) on the
 * entry itself, until a range ends in `*`. Completes such attributes in place under their plain name, so a group of
 * 3,000 members is read whole instead of cut (or, worse, read as empty). Servers without ranged retrieval, such as
 * OpenLDAP, never send a ranged attribute. Returns the number of follow-up requests.
 */
export async function completeRanges(client: Pick<Client, 'search'>, entry: Entry): Promise<number> {
  let requests = 0;
  for (const key of Object.keys(entry)) {
    const ranged = /^([^;]+);range=(\d+)-(\d+|\*)$/i.exec(key);
    if (!ranged) continue;
    const name = ranged[1]!;
    const all = asStrings(entry[key]);
    delete entry[key];
    let end = ranged[3]!;
    while (end !== '*') {
      if (++requests > MAX_RANGE_REQUESTS) throw new Error(`${entry.dn}: ${name} has more values than ranged retrieval reads here`);
      const from = Number(end) + 1;
      const { searchEntries } = await client.search(entry.dn, { scope: 'base', filter: '(objectClass=*)', attributes: [`${name};range=${from}-*`] });
      const answer = searchEntries[0];
      const prefix = `${name};range=${from}-`.toLowerCase();
      const next = answer ? Object.keys(answer).find((k) => k.toLowerCase().startsWith(prefix)) : undefined;
      if (!answer || !next) throw new Error(`${entry.dn}: the server did not answer the range ${from}-* of ${name}`);
      all.push(...asStrings(answer[next]));
      end = next.slice(prefix.length);
      if (end !== '*' && !/^\d+$/.test(end)) throw new Error(`${entry.dn}: a malformed range ${next}`);
    }
    entry[name] = all;
  }
  return requests;
}

function asStrings(v: Entry[string] | undefined): string[] {
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => (typeof x === 'string' ? x : x.toString('utf8')));
}

/** The string values of an attribute, whatever case the server spelled its name in. */
export function values(entry: Entry, attribute: string): string[] {
  const want = attribute.toLowerCase();
  for (const key of Object.keys(entry)) {
    if (key.toLowerCase() !== want || key === 'dn') continue;
    return asStrings(entry[key]);
  }
  return [];
}

export function first(entry: Entry, attribute: string | undefined): string {
  return attribute ? (values(entry, attribute)[0] ?? '') : '';
}

const FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000n;
const NEVER = 9_223_372_036_854_775_807n;

/** Whether any lock rule matches the entry at `now`. */
export function isLocked(entry: Entry, rules: readonly LockRule[], now: number): boolean {
  return rules.some((rule) => {
    const vs = values(entry, rule.attribute);
    if (vs.length === 0) return false;
    if ('present' in rule) return true;
    if ('values' in rule) return vs.some((v) => rule.values.some((w) => w.toLowerCase() === v.toLowerCase()));
    if ('pattern' in rule) return vs.some((v) => new RegExp(rule.pattern).test(v));
    if ('bitmask' in rule) return vs.some((v) => /^-?\d+$/.test(v) && (Number(BigInt.asUintN(32, BigInt(v))) & rule.bitmask) !== 0);
    return vs.some((v) => {
      if (rule.expires === 'days') {
        const days = Number(v);
        return Number.isFinite(days) && days > 0 && days * 86_400_000 <= now;
      }
      if (rule.expires === 'filetime') {
        if (!/^\d+$/.test(v)) return false;
        const t = BigInt(v);
        if (t === 0n || t >= NEVER) return false;
        return Number(t / 10_000n - FILETIME_EPOCH_OFFSET_MS) <= now;
      }
      const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,]\d+)?Z$/.exec(v);
      if (!m) return false;
      return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +(m[5] ?? 0), +(m[6] ?? 0)) <= now;
    });
  });
}

/** `*` matches anything; everything else literally, case-insensitively. */
export function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'iu');
  return re.test(value);
}

export function roleOf(entry: Entry, people: PeopleMapping): Role | undefined {
  if (people.role) {
    const vs = values(entry, people.role.attribute);
    for (const [pattern, role] of people.role.map) if (vs.some((v) => globMatch(pattern, v))) return role;
  }
  return people.defaultRole;
}

/** The attributes to ask for when reading people. */
export function peopleAttributes(people: PeopleMapping): string[] {
  const list = [people.id, people.login, people.givenName, people.surname, people.displayName, people.role?.attribute, people.class, people.children?.attribute, ...people.locked.map((r) => r.attribute)];
  return [...new Set(list.filter((a): a is string => !!a))];
}
