/**
 * The audit log's claims (docs/threat-model.md, "Administration"): an untouched log verifies; an edited entry, a
 * removed or reordered entry, a cut-off tail, an entry from a non-admin or with a forged device signature, a head
 * signed by another key, and a log rewritten with the relay's own key against an admin's anchor all fail.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signAdminRequest } from '@schoolmesh/client';
import { generateAgreementKeyPair, generateSigningKeyPair } from '@schoolmesh/crypto';
import { type DeviceIdentity, deviceIdentity, issueDeviceCertificate } from '@schoolmesh/identity';
import type { Role } from '@schoolmesh/model';
import { toBase64Url } from '@schoolmesh/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditActor, type AuditEntry, type AuditHead, AuditLog, verifyAuditLog } from '../src/audit-log.ts';
import { type RelayKeys, initSchool } from '../src/keystore.ts';

const DAY = 86_400_000;

async function device(keys: RelayKeys, account: string, role: Role): Promise<DeviceIdentity> {
  const signing = await generateSigningKeyPair();
  const agreement = await generateAgreementKeyPair();
  const now = Date.now();
  const cert = await issueDeviceCertificate(keys.authority, keys.authorityCert, {
    account,
    displayName: account,
    role,
    deviceKey: signing.publicKey,
    agreementKey: agreement.publicKey,
    notBefore: now - DAY,
    notAfter: now + 30 * DAY,
  });
  return deviceIdentity(signing, agreement, cert);
}

/** What the relay records for a signed request: the actor and the body as sent. */
async function signed(identity: DeviceIdentity, method: string, path: string, payload: unknown): Promise<{ actor: AuditActor; body: string }> {
  const body = JSON.stringify(payload);
  const s = await signAdminRequest(identity, { method, path, body });
  return {
    body,
    actor: {
      kind: 'device',
      device: identity.id,
      account: identity.certificate.account,
      certificate: toBase64Url(identity.certificate.bytes),
      request: { method: s.fields.method, path, time: s.fields.time, nonce: s.fields.nonce, signature: s.headers['x-schoolmesh-signature']! },
    },
  };
}

describe('audit log', () => {
  let dir: string;
  let keys: RelayKeys;
  let admin: DeviceIdentity;
  let entries: AuditEntry[];
  let head: AuditHead;
  const school = () => keys.schoolId;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'schoolmesh-audit-'));
    keys = await initSchool(dir, 'Audit-Schule');
    admin = await device(keys, 'frau.admin', 'admin');
    const log = await AuditLog.open(dir, keys);
    const a = await signed(admin, 'POST', '/api/admin/revoke', { devices: ['x'.repeat(43)] });
    await log.append('revoke', a.body, a.actor);
    await log.append('issue-code', JSON.stringify({ account: 'ben', role: 'pupil' }), { kind: 'operator' });
    const b = await signed(admin, 'PUT', '/api/admin/policy', { retentionDays: { class: 7 } });
    await log.append('policy', b.body, b.actor);
    // Reopened from disk: what was appended is what is read back.
    ({ entries, head } = (await AuditLog.open(dir, keys)).list() as { entries: AuditEntry[]; head: AuditHead });
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('verifies an untouched log, also against an anchor it extends', async () => {
    expect(entries.map((e) => e.action)).toEqual(['revoke', 'issue-code', 'policy']);
    expect(await verifyAuditLog(entries, head, { school: school() })).toMatchObject({ ok: true, entries: 3 });
    expect(await verifyAuditLog(entries, head, { school: school(), anchor: { seq: 2, hash: entries[1]!.hash } })).toMatchObject({ ok: true });
    const reopened = await AuditLog.open(dir, keys);
    expect(await reopened.verify()).toMatchObject({ ok: true });
    expect((await readFile(join(dir, 'audit.log'), 'utf8')).trim().split('\n')).toHaveLength(3);
  });

  it('detects an edited entry, even with its hash recomputed', async () => {
    const edited = structuredClone(entries);
    edited[0]!.body = JSON.stringify({ devices: ['y'.repeat(43)] });
    expect(await verifyAuditLog(edited, head, { school: school() })).toMatchObject({ ok: false, at: 1 });
    // Recomputing the hash moves the break to the device signature, and the chain link of the next entry.
    const { entryHash } = await import('../src/audit-log.ts');
    edited[0]!.hash = await entryHash(edited[0]!);
    const verdict = await verifyAuditLog(edited, head, { school: school() });
    expect(verdict).toMatchObject({ ok: false, at: 1 });
    expect(verdict.ok === false && verdict.problem).toContain('signature');
  });

  it('detects a removed, a reordered entry and a cut-off tail', async () => {
    expect(await verifyAuditLog([entries[0]!, entries[2]!], head, { school: school() })).toMatchObject({ ok: false });
    expect(await verifyAuditLog([entries[1]!, entries[0]!, entries[2]!], head, { school: school() })).toMatchObject({ ok: false });
    const cut = await verifyAuditLog(entries.slice(0, 2), head, { school: school() });
    expect(cut).toMatchObject({ ok: false });
    expect(cut.ok === false && cut.problem).toContain('cut off');
    expect(await verifyAuditLog(entries, undefined, { school: school() })).toMatchObject({ ok: false });
  });

  it('refuses an entry of a non-admin device, a forged signature, an operator entry without the relay signature', async () => {
    const pupil = await device(keys, 'ben.pupil', 'pupil');
    const p = await signed(pupil, 'POST', '/api/admin/revoke', { devices: [] });
    const forged = structuredClone(entries);
    forged[0] = { ...forged[0]!, actor: p.actor, body: p.body };
    forged[0].hash = await (await import('../src/audit-log.ts')).entryHash(forged[0]);
    expect(await verifyAuditLog(forged, head, { school: school() })).toMatchObject({ ok: false, at: 1 });

    const other = await generateSigningKeyPair();
    const bad = structuredClone(entries);
    const actor = bad[2]!.actor as Extract<AuditActor, { kind: 'device' }>;
    actor.request.signature = toBase64Url(await other.sign(new Uint8Array([1, 2, 3])));
    expect(await verifyAuditLog(bad, head, { school: school() })).toMatchObject({ ok: false, at: 3 });

    const unsigned = structuredClone(entries);
    delete unsigned[1]!.authoritySignature;
    expect(await verifyAuditLog(unsigned, head, { school: school() })).toMatchObject({ ok: false, at: 2 });
  });

  it('refuses a head signed by another key, and a rewrite by the relay itself against an anchor', async () => {
    const other = await generateSigningKeyPair();
    const fakeHead = { ...head, signature: toBase64Url(await other.sign(new Uint8Array([0]))) };
    expect(await verifyAuditLog(entries, fakeHead, { school: school() })).toMatchObject({ ok: false });
    // A second school cannot vouch for this one's log.
    const elsewhere = await mkdtemp(join(tmpdir(), 'schoolmesh-audit-other-'));
    try {
      const otherKeys = await initSchool(elsewhere, 'Andere Schule');
      expect(await verifyAuditLog(entries, { ...head, authorityCert: toBase64Url(otherKeys.authorityCert.bytes) }, { school: school() })).toMatchObject({ ok: false });
      // Someone with this relay's keys rewrites the whole log without the revocation: consistent, newly signed.
      const rewriteDir = await mkdtemp(join(tmpdir(), 'schoolmesh-audit-rewrite-'));
      const rewritten = await AuditLog.open(rewriteDir, keys);
      await rewritten.append('issue-code', JSON.stringify({ account: 'ben', role: 'pupil' }), { kind: 'operator' });
      const r = rewritten.list();
      expect(await verifyAuditLog(r.entries, r.head, { school: school() })).toMatchObject({ ok: true });
      // An admin who had seen entry 1 (the revocation) notices.
      expect(await verifyAuditLog(r.entries, r.head, { school: school(), anchor: { seq: 1, hash: entries[0]!.hash } })).toMatchObject({ ok: false, at: 1 });
      expect(await verifyAuditLog(r.entries, r.head, { school: school(), anchor: { seq: 3, hash: entries[2]!.hash } })).toMatchObject({ ok: false });
      await rm(rewriteDir, { recursive: true, force: true });
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('a tampered file on disk fails verification after reopening', async () => {
    const path = join(dir, 'audit.log');
    const original = await readFile(path, 'utf8');
    try {
      const lines = original.trim().split('\n');
      const third = JSON.parse(lines[2]!) as AuditEntry;
      third.body = third.body.replace('"class":7', '"class":70');
      lines[2] = JSON.stringify(third);
      await writeFile(path, `${lines.join('\n')}\n`);
      expect(await (await AuditLog.open(dir, keys)).verify()).toMatchObject({ ok: false, at: 3 });
    } finally {
      await writeFile(path, original);
    }
  });
});
