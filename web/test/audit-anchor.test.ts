/**
 * The admin console's own check of the audit log (web/src/worker/audit-anchor.ts): verified in the worker against
 * the head this profile verified last time, so that a log rewritten consistently with the relay's own keys (which
 * the relay's self-check calls fine) is caught on the admin's device.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage } from '@schoolmesh/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../relay/src/audit-log.ts';
import { type RelayKeys, initSchool } from '../../relay/src/keystore.ts';
import { checkAuditLog } from '../src/worker/audit-anchor.ts';

describe('audit anchor on an admin device', () => {
  const dirs: string[] = [];
  let keys: RelayKeys;
  const fresh = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'schoolmesh-audit-'));
    dirs.push(dir);
    return dir;
  };
  const listOf = (log: AuditLog) => {
    const { entries, head } = log.list();
    return { entries, head: head ?? null };
  };

  beforeAll(async () => {
    keys = await initSchool(await fresh(), 'Audit-Schule');
  });
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('verifies here, remembers the head, and catches a log the relay rewrote with its own keys', async () => {
    const device = new MemoryStorage();
    const log = await AuditLog.open(await fresh(), keys);
    for (const action of ['issue-code', 'revoke', 'policy']) await log.append(action, JSON.stringify({ action }), { kind: 'operator' });

    const first = await checkAuditLog(device, keys.schoolId, listOf(log));
    expect(first.verdict).toEqual({ ok: true, entries: 3 });
    expect(first.anchoredAt).toBeUndefined();

    await log.append('sync', '{}', { kind: 'operator' });
    const second = await checkAuditLog(device, keys.schoolId, listOf(log));
    expect(second).toMatchObject({ verdict: { ok: true, entries: 4 }, anchoredAt: 3 });

    // Someone with the relay's keys writes a new log without the revocation: consistent, signed, and the relay's
    // own check finds nothing wrong with it...
    const forged = await AuditLog.open(await fresh(), keys);
    for (const action of ['issue-code', 'policy', 'sync', 'sync']) await forged.append(action, JSON.stringify({ action }), { kind: 'operator' });
    expect((await forged.verify()).ok).toBe(true);
    // ...but this device saw entry 4 of the real one.
    const caught = await checkAuditLog(device, keys.schoolId, listOf(forged));
    expect(caught.verdict).toMatchObject({ ok: false, at: 4, problem: expect.stringContaining('seen earlier') });
    // A log cut back to fewer entries than seen is caught too, and a failed check keeps the old anchor.
    const cut = await AuditLog.open(await fresh(), keys);
    await cut.append('issue-code', '{}', { kind: 'operator' });
    expect((await checkAuditLog(device, keys.schoolId, listOf(cut))).verdict).toMatchObject({ ok: false });
    expect((await checkAuditLog(device, keys.schoolId, listOf(log))).verdict).toEqual({ ok: true, entries: 4 });
  });

  it('refuses a log whose entry was edited after signing, before any anchor', async () => {
    const log = await AuditLog.open(await fresh(), keys);
    await log.append('revoke', JSON.stringify({ devices: ['a'] }), { kind: 'operator' });
    const { entries, head } = listOf(log);
    const edited = [{ ...entries[0]!, body: JSON.stringify({ devices: ['b'] }) }];
    const result = await checkAuditLog(new MemoryStorage(), keys.schoolId, { entries: edited, head });
    expect(result.verdict).toMatchObject({ ok: false, at: 1, problem: expect.stringContaining('changed') });
  });
});
