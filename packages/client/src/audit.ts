/**
 * Verifying the relay's audit log of admin actions, wherever it is read: on the relay (`GET /api/admin/audit`,
 * the CLI) and in an admin's browser (the console checks it itself and keeps an anchor, the last entry it saw, so a
 * log rewritten later even with the relay's keys is caught). The relay's side of writing it is relay/src/audit-log.ts.
 */
import { sha256, verifySignature } from '@schoolmesh/crypto';
import { TrustStore, decodeDeviceCertificate, rootKeyOf } from '@schoolmesh/identity';
import { fromBase64Url, toBase64Url, toHex } from '@schoolmesh/wire';
import { adminRequestMessage, bodyHashOf } from './admin-request.ts';

export type AuditActor =
  | { kind: 'operator' }
  | {
      kind: 'device';
      device: string;
      account: string;
      /** The device certificate (base64url) the request came with. */
      certificate: string;
      request: { method: string; path: string; time: number; nonce: string; signature: string };
    };

export interface AuditEntry {
  seq: number;
  time: number;
  /** Hex SHA-256 of the previous entry (64 zeros for the first). */
  prev: string;
  action: string;
  /** The request body exactly as received (JSON text; empty for none). */
  body: string;
  actor: AuditActor;
  /** Hex SHA-256 over the fields above (`entryHash`). */
  hash: string;
  /** Operator entries: the relay authority's signature over the hash (device entries carry the device's). */
  authoritySignature?: string;
}

export interface AuditHead {
  school: string;
  seq: number;
  hash: string;
  time: number;
  /** The relay authority's signature over `headMessage`. */
  signature: string;
  /** The authority certificate (base64url) whose key signed: a verifier checks it against the school root. */
  authorityCert: string;
}

export const ZERO = '0'.repeat(64);
const utf8 = new TextEncoder();

export async function entryHash(e: Omit<AuditEntry, 'hash' | 'authoritySignature'>): Promise<string> {
  const canonical = JSON.stringify(['schoolmesh/audit-entry/v1', e.seq, e.time, e.prev, e.action, e.body, canonicalActor(e.actor)]);
  return toHex(await sha256(utf8.encode(canonical)));
}

function canonicalActor(a: AuditActor): unknown[] {
  if (a.kind === 'operator') return ['operator'];
  return ['device', a.device, a.account, a.certificate, a.request.method, a.request.path, a.request.time, a.request.nonce, a.request.signature];
}

export function headMessage(h: Pick<AuditHead, 'school' | 'seq' | 'hash' | 'time'>): Uint8Array {
  return utf8.encode(['schoolmesh/audit-head/v1', h.school, String(h.seq), h.hash, String(h.time)].join('\n'));
}

export const entryMessage = (hash: string) => utf8.encode(`schoolmesh/audit-operator/v1\n${hash}`);

export type AuditVerdict = { ok: true; entries: number; head: AuditHead | undefined } | { ok: false; at: number; problem: string };

/**
 * Checks a whole log against its signed head: the chain links, every hash, every device's signature over its
 * request (with a certificate of the school valid at the entry's time and of role admin), every operator entry's
 * authority signature, the head's signature by an authority of the school (its certificate checked against the
 * root, the school id), and that the head names the last entry. With `anchor` (a head seen earlier), the log must
 * still contain that entry unchanged.
 */
export async function verifyAuditLog(entries: readonly AuditEntry[], head: AuditHead | undefined, options: { school: string; anchor?: { seq: number; hash: string } }): Promise<AuditVerdict> {
  const fail = (at: number, problem: string): AuditVerdict => ({ ok: false, at, problem });
  const root = rootKeyOf(options.school);
  if (!root) return fail(0, 'not a school id');
  let at = 0;
  const trust = new TrustStore(() => at);
  trust.addSchool(root, 'school');
  if (entries.length === 0 && head === undefined) return options.anchor && options.anchor.seq > 0 ? fail(0, 'the log is empty but an anchor names an entry') : { ok: true, entries: 0, head };
  if (!head) return fail(entries.length, 'the log has entries but no signed head');
  if (head.school !== options.school) return fail(0, 'the head is for another school');
  at = head.time;
  let authorityKey: Uint8Array;
  try {
    const cert = await trust.verifyAuthority(fromBase64Url(head.authorityCert));
    if (cert.school !== options.school) return fail(0, 'the head was signed by another school');
    authorityKey = cert.authorityKey;
  } catch (error) {
    return fail(0, `the head's authority certificate: ${(error as Error).message}`);
  }
  if (!(await verifySignature(authorityKey, headMessage(head), safeBytes(head.signature)))) return fail(head.seq, 'the head signature does not verify');
  let prev = ZERO;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.seq !== i + 1) return fail(i + 1, `entry ${i + 1} has sequence number ${e.seq}`);
    if (e.prev !== prev) return fail(e.seq, `entry ${e.seq} does not link to the entry before it`);
    const hash = await entryHash(e);
    if (hash !== e.hash) return fail(e.seq, `entry ${e.seq} was changed (its hash does not match)`);
    const problem = await checkActor(e, options.school, trust, authorityKey, (t) => (at = t));
    if (problem) return fail(e.seq, `entry ${e.seq}: ${problem}`);
    if (options.anchor && e.seq === options.anchor.seq && e.hash !== options.anchor.hash) return fail(e.seq, `entry ${e.seq} differs from the one seen earlier (anchor)`);
    prev = hash;
  }
  if (head.seq !== entries.length) return fail(entries.length, `the signed head names ${head.seq} entries, the log has ${entries.length} (cut off or appended to)`);
  if (head.hash !== (entries.at(-1)?.hash ?? ZERO)) return fail(head.seq, 'the signed head names another last entry');
  if (options.anchor && options.anchor.seq > entries.length) return fail(entries.length, `the log has ${entries.length} entries; ${options.anchor.seq} were seen earlier (cut off)`);
  return { ok: true, entries: entries.length, head };
}

async function checkActor(e: AuditEntry, school: string, trust: TrustStore, authorityKey: Uint8Array, setTime: (t: number) => void): Promise<string | undefined> {
  if (e.actor.kind === 'operator') {
    if (!e.authoritySignature || !(await verifySignature(authorityKey, entryMessage(e.hash), safeBytes(e.authoritySignature)))) return 'the relay signature does not verify';
    return undefined;
  }
  const a = e.actor;
  let cert: ReturnType<typeof decodeDeviceCertificate>;
  try {
    cert = decodeDeviceCertificate(fromBase64Url(a.certificate));
    setTime(a.request.time);
    await trust.verifyDevice(cert);
  } catch (error) {
    return `the acting device's certificate: ${(error as Error).message}`;
  }
  if (cert.school !== school || cert.role !== 'admin') return 'the acting device is not an admin of this school';
  if (toBase64Url(cert.deviceKey) !== a.device || cert.account !== a.account) return 'the entry names another device or account than its certificate';
  const message = adminRequestMessage({ school, method: a.request.method, path: a.request.path, time: a.request.time, nonce: a.request.nonce, bodyHash: await bodyHashOf(utf8.encode(e.body)) });
  if (!(await verifySignature(cert.deviceKey, message, safeBytes(a.request.signature)))) return "the device's signature over the request does not verify";
  return undefined;
}

function safeBytes(b64: string): Uint8Array {
  try {
    return fromBase64Url(b64);
  } catch {
    return new Uint8Array(0);
  }
}

/**
 * The log on disk: `audit.log` (one JSON entry per line, appended and fsynced) and `audit-head.json` (the signed
 * head, replaced atomically after each append). Appends run one at a time.
 */
