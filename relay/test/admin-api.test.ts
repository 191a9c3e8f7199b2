/**
 * The admin API for admin devices: a real relay process with a CSV directory sync, devices enrolled over HTTP.
 * Signed requests from an admin device of the school are served and audited; pupils, other schools' admins,
 * revoked admins, replays, altered bodies, stale times and unsigned requests are refused with a clear error.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { AdminRequestError, adminFetch, enroll, signAdminRequest } from '@schoolmesh/client';
import { generateAgreementKeyPair, generateSigningKeyPair } from '@schoolmesh/crypto';
import { type DeviceIdentity, deviceIdentity, issueDeviceCertificate } from '@schoolmesh/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../src/audit-log.ts';
import { initSchool } from '../src/keystore.ts';
import { until } from './support/devices.ts';
import { type RelayProcess, removeSetup, setupRelay, startRelay } from './support/relay-process.ts';

const CSV = [
  'Benutzername;Vorname;Nachname;Rolle;Klasse;Klassenleitung;Fachschaften;AGs;Kinder;Gesperrt',
  'frau.admin;Anna;Adler;Admin;;;;;;',
  'herr.krause;Klaus;Krause;Lehrer;;7a;Mathematik;Schach;;',
  'ben.mueller;Ben;Müller;Schüler;7a;;;Schach;;',
  'lea.schulz;Lea;Schulz;Schüler;7a;;;;;',
  'jörg.groß;Jörg;Groß;Schüler;7b;;;;;',
].join('\n');

describe('admin API for admin devices', () => {
  let relay: RelayProcess;
  let admin: DeviceIdentity;
  let pupil: DeviceIdentity;

  const enrollAs = async (account: string, role: 'admin' | 'pupil') => (await enroll(relay.http, { code: await relay.issueCode(account, role) })).identity;
  const refusal = async (call: Promise<unknown>) => {
    try {
      await call;
    } catch (error) {
      if (error instanceof AdminRequestError) return { status: error.status, code: error.code, message: error.message };
      throw error;
    }
    throw new Error('the call was not refused');
  };

  beforeAll(async () => {
    const setup = await setupRelay('Admin-Schule', { directorySync: { csvFile: 'schule.csv', schoolYear: '2026/27', syncAtStart: false } });
    await writeFile(join(setup.dir, 'schule.csv'), `\uFEFF${CSV}\n`);
    relay = await startRelay(setup);
    admin = await enrollAs('frau.admin', 'admin');
    pupil = await enrollAs('ben.mueller', 'pupil');
  });

  afterAll(async () => {
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
  });

  it('serves an admin device of the school: sync with its report, accounts, groups, devices, policy, federation, directory', async () => {
    expect(await adminFetch(relay.http, admin, 'GET', '/api/admin/whoami')).toEqual({ kind: 'device', account: 'frau.admin', device: admin.id });
    const { report } = await adminFetch<{ report: { outcome: string; source: { kind: string; people: number }; totals: { groupsCreated: number } } }>(relay.http, admin, 'POST', '/api/admin/sync', {});
    expect(report).toMatchObject({ outcome: 'applied', source: { kind: 'csv', people: 5 } });
    expect(report.totals.groupsCreated).toBeGreaterThanOrEqual(4);

    const found = await adminFetch<{ accounts: { id: string; displayName: string; devices: number }[] }>(relay.http, admin, 'GET', `/api/admin/accounts?q=${encodeURIComponent('müller')}`);
    expect(found.accounts).toEqual([{ id: 'ben.mueller', displayName: 'Ben Müller', role: 'pupil', class: '7a', locked: false, devices: 1 }]);
    const byClass = await adminFetch<{ total: number }>(relay.http, admin, 'GET', '/api/admin/accounts?q=7a');
    expect(byClass.total).toBe(2);
    // Paging: pages of two cover every account once, in the same order as one big page.
    const all = await adminFetch<{ total: number; accounts: { id: string }[] }>(relay.http, admin, 'GET', '/api/admin/accounts?limit=500');
    const paged: string[] = [];
    for (let offset = 0; offset < all.total; offset += 2) {
      const page = await adminFetch<{ offset: number; accounts: { id: string }[] }>(relay.http, admin, 'GET', `/api/admin/accounts?limit=2&offset=${offset}`);
      expect(page.offset).toBe(offset);
      paged.push(...page.accounts.map((a) => a.id));
    }
    expect(paged).toEqual(all.accounts.map((a) => a.id));
    expect(all.total).toBeGreaterThan(2);

    await until(async () => (await adminFetch<{ groups: { name: string }[] }>(relay.http, admin, 'GET', '/api/admin/groups')).groups.some((g) => g.name === 'Klasse 7a (2026/27)'), 20_000, 'the class at the relay');
    const { groups } = await adminFetch<{ groups: { name: string; kind: string; members: number; directory?: { key: string } }[] }>(relay.http, admin, 'GET', '/api/admin/groups');
    // The sync account, the class teacher and two pupils.
    expect(groups.find((g) => g.name === 'Klasse 7a (2026/27)')).toMatchObject({ kind: 'class', members: 4, directory: { key: 'class:2026/27:7a' } });

    const { devices } = await adminFetch<{ devices: { device: string; account: string }[] }>(relay.http, admin, 'GET', '/api/admin/devices?account=ben.mueller');
    expect(devices.map((d) => d.device)).toEqual([pupil.id]);
    await adminFetch(relay.http, admin, 'POST', '/api/admin/devices/rename', { device: pupil.id, name: 'Bens Laptop' });
    const renamed = await adminFetch<{ devices: { name?: string }[] }>(relay.http, admin, 'GET', '/api/admin/devices?account=ben.mueller');
    expect(renamed.devices[0]!.name).toBe('Bens Laptop');

    const policy = await adminFetch<{ policy: { retentionDays: { club: number } } }>(relay.http, admin, 'PUT', '/api/admin/policy', { retentionDays: { club: 60 } });
    expect(policy.policy.retentionDays.club).toBe(60);
    expect(await adminFetch(relay.http, admin, 'GET', '/api/admin/federation')).toMatchObject({ partners: [], editable: false });
    const { settings } = await adminFetch<{ settings: { sync: { csvFile: string } } }>(relay.http, admin, 'GET', '/api/admin/directory');
    expect(settings.sync.csvFile).toBe('schule.csv');
  });

  it('refuses pupils, other schools, unsigned, replayed, altered and stale requests with a clear error', async () => {
    expect(await refusal(adminFetch(relay.http, pupil, 'GET', '/api/admin/accounts'))).toMatchObject({ status: 403, code: 'forbidden', message: expect.stringContaining('admin accounts') });

    const elsewhere = await setupRelay('Fremde Schule');
    try {
      const signing = await generateSigningKeyPair();
      const agreement = await generateAgreementKeyPair();
      const other = await initSchool(join(elsewhere.dir, 'x'), 'Noch eine Schule');
      const cert = await issueDeviceCertificate(other.authority, other.authorityCert, {
        account: 'frau.admin',
        displayName: 'Frau Admin',
        role: 'admin',
        deviceKey: signing.publicKey,
        agreementKey: agreement.publicKey,
        notBefore: Date.now() - 60_000,
        notAfter: Date.now() + 86_400_000,
      });
      expect(await refusal(adminFetch(relay.http, deviceIdentity(signing, agreement, cert), 'GET', '/api/admin/accounts'))).toMatchObject({ status: 401 });
    } finally {
      await removeSetup(elsewhere);
    }

    const unsigned = await fetch(`${relay.http}/api/admin/accounts`);
    expect(unsigned.status).toBe(401);
    expect(((await unsigned.json()) as { message: string }).message).toContain('signed by an admin device');

    const body = JSON.stringify({ devices: [pupil.id] });
    const signed = await signAdminRequest(admin, { method: 'POST', path: '/api/admin/revoke', body });
    const send = (text: string) => fetch(`${relay.http}/api/admin/revoke`, { method: 'POST', headers: { ...signed.headers, 'content-type': 'application/json' }, body: text });
    const altered = await send(JSON.stringify({ devices: [admin.id] }));
    expect(altered.status).toBe(401);
    expect(((await altered.json()) as { message: string }).message).toContain('signature');
    // The signature holds for the original body once; a replay is refused.
    expect((await send(body)).status).toBe(200);
    const replayed = await send(body);
    expect(replayed.status).toBe(401);
    expect(((await replayed.json()) as { message: string }).message).toContain('replayed');

    const stale = await signAdminRequest(admin, { method: 'GET', path: '/api/admin/whoami', now: Date.now() - 10 * 60_000 });
    const late = await fetch(`${relay.http}/api/admin/whoami`, { headers: stale.headers });
    expect(late.status).toBe(401);
    expect(((await late.json()) as { message: string }).message).toContain('clock');
  });

  it('audits every change with the request that asked for it, and a revoked admin is refused', async () => {
    const { entries, verdict } = await adminFetch<{ entries: AuditEntry[]; verdict: { ok: boolean; entries: number } }>(relay.http, admin, 'GET', '/api/admin/audit');
    expect(verdict.ok).toBe(true);
    const actions = entries.map((e) => [e.action, e.actor.kind === 'device' ? e.actor.account : 'operator']);
    // Codes issued with the token (operator), then the admin device's sync, rename, policy and revoke.
    expect(actions).toEqual([
      ['issue-code', 'operator'],
      ['issue-code', 'operator'],
      ['sync', 'frau.admin'],
      ['rename-device', 'frau.admin'],
      ['policy', 'frau.admin'],
      ['revoke', 'frau.admin'],
    ]);
    expect(entries.at(-1)!.body).toBe(JSON.stringify({ devices: [pupil.id] }));

    const second = await enrollAs('frau.admin', 'admin');
    await adminFetch(relay.http, admin, 'POST', '/api/admin/revoke', { devices: [second.id] });
    expect(await refusal(adminFetch(relay.http, second, 'GET', '/api/admin/whoami'))).toMatchObject({ status: 401, message: expect.stringContaining('revoked') });
  });

  it('the CLI runs a sync and verifies the audit log through the token on loopback', async () => {
    const bin = resolve(import.meta.dirname, '../bin/schoolmesh-relay.mjs');
    const env = { ...process.env, PORT: new URL(relay.http).port };
    const run = (...args: string[]) => promisify(execFile)(process.execPath, [bin, ...args, '--config', relay.setup.configPath], { env });
    const synced = await run('sync');
    expect(synced.stdout).toContain('sync applied');
    expect(synced.stdout).toContain('5 people read (csv)');
    const audited = await run('audit');
    expect(audited.stdout).toMatch(/audit log verified: \d+ entries/);
    expect(audited.stdout).toContain('sync');
  });
});
