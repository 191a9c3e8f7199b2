/**
 * The directory sync service end to end: a real slapd, a real relay process running the sync account's device, and
 * devices that sign in with their LDAP passwords. Sync on demand with a report, a second sync that changes nothing,
 * revocation that takes the device out of its groups with a key rotation (what follows cannot be decrypted with
 * what the revoked device held), a policy change that reaches members as a signed op, a leaver whose device is
 * revoked by the sync, and a restart that keeps the sync account and its state.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { enroll, trustFor } from '@schoolmesh/client';
import { aeadKey } from '@schoolmesh/crypto';
import { connectToRelay } from '@schoolmesh/client/node';
import { Engine } from '@schoolmesh/engine';
import { decodeDeviceIdentity } from '@schoolmesh/identity';
import { authorDeviceId, openEpochKey } from '@schoolmesh/membership';
import { openEntry } from '@schoolmesh/entries';
import { bucketOf } from '@schoolmesh/model';
import { epochIdOf } from '@schoolmesh/replica';
import { MemoryStorage } from '@schoolmesh/storage';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERIC, SERVICE_DN, SERVICE_PASSWORD, SUFFIX, generateSchool, passwordOf, writeTrees } from '../../packages/directory/test/support/fixture.ts';
import { type Slapd, slapdAvailable, startSlapd } from '../../packages/directory/test/support/slapd.ts';
import type { SyncReport } from '../src/directory-sync.ts';
import { until } from './support/devices.ts';
import { type RelayProcess, removeSetup, setupRelay, startRelay } from './support/relay-process.ts';

const ROOT_PASSWORD = 'root-secret';

describe.skipIf(!slapdAvailable)('directory sync service at the relay', () => {
  let slapd: Slapd;
  let relay: RelayProcess;
  const school = generateSchool(11, 80);
  const trees = writeTrees(school);
  const people = school.directory.people;
  const klass = school.directory.classes.find((c) => c.teachers.length > 0 && people.filter((p) => p.class === c.name).length >= 2)!;
  const [pupil, leaver] = people.filter((p) => p.role === 'pupil' && p.class === klass.name);
  const teacher = people.find((p) => p.id === klass.teachers[0])!;
  const closers: (() => Promise<void>)[] = [];
  /** Devices by account, once signed in: an account's second device would need its first one's approval. */
  const signedIn = new Map<string, Awaited<ReturnType<typeof enrolled>>>();

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${relay.http}${path}`, {
      method,
      headers: { authorization: `Bearer ${relay.setup.keys.adminToken}`, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const syncNow = async () => {
    const { status, body } = await admin('POST', '/api/admin/sync', {});
    expect(status).toBe(200);
    return body.report as SyncReport;
  };
  /** The account's device signed in with its LDAP password, online at the relay (one per account). */
  const device = async (id: string) => {
    const known = signedIn.get(id);
    if (known) return known;
    const made = await enrolled(id);
    signedIn.set(id, made);
    return made;
  };
  const enrolled = async (id: string) => {
    const { identity, info } = await enroll(relay.http, { method: 'ldap', username: id, password: passwordOf(id) });
    const engine = await Engine.open({ storage: new MemoryStorage(), identity, trust: trustFor(info) });
    const connection = await connectToRelay(engine, identity, relay.info.relay, { loopbackOnly: true });
    await connection.link.caughtUp();
    closers.push(async () => {
      await connection.stop();
      await engine.close();
    });
    return { identity, engine, connection };
  };
  const ldapAdmin = async (work: (c: Client) => Promise<void>) => {
    const c = new Client({ url: slapd.url });
    await c.bind(slapd.rootDn, ROOT_PASSWORD);
    try {
      await work(c);
    } finally {
      await c.unbind();
    }
  };

  beforeAll(async () => {
    slapd = await startSlapd({
      suffix: SUFFIX,
      rootPassword: ROOT_PASSWORD,
      ldif: trees.ldif,
      databaseConfig: [
        'access to attrs=userPassword by anonymous auth by * none',
        `access to * by dn.exact="${SERVICE_DN}" read by * none`,
        `limits dn.exact="${SERVICE_DN}" size.prtotal=unlimited`,
      ].join('\n'),
    });
    relay = await startRelay(
      await setupRelay('Gesamtschule mit Verzeichnisabgleich', {
        directory: { url: slapd.url, allowPlaintext: true, bindDn: SERVICE_DN, bindPassword: SERVICE_PASSWORD, schoolYear: '2026/27', preset: { name: 'inetorgperson', base: GENERIC } },
        directorySync: { intervalMinutes: 60, syncAtStart: false, policy: { retentionDays: { class: 21 } } },
      }),
    );
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
    await slapd?.stop();
  });

  it('syncs on demand, reports what it created, and a second sync changes nothing', async () => {
    const before = await admin('GET', '/api/admin/sync');
    expect(before.body).toMatchObject({ configured: true, report: null });
    const first = await syncNow();
    expect(first.error).toBeUndefined();
    expect(first.outcome).toBe('applied');
    expect(first.source).toMatchObject({ kind: 'ldap', people: people.length });
    const classGroup = first.created.find((g) => g.key === `class:2026/27:${klass.name}`)!;
    expect(classGroup.name).toBe(`Klasse ${klass.name} (2026/27)`);
    expect(classGroup.added).toContainEqual({ account: `${pupil!.id}@${relay.info.school.id}`, role: 'member' });
    expect(classGroup.added).toContainEqual({ account: `${teacher.id}@${relay.info.school.id}`, role: 'moderator' });
    expect(first.totals.groupsCreated).toBe(first.created.length);
    expect(first.joiners).toHaveLength(people.length);
    const second = await syncNow();
    expect(second.outcome).toBe('applied');
    expect(second.totals).toEqual({ groupsCreated: 0, groupsChanged: 0, groupsEnded: 0, groupsClosed: 0, added: 0, removed: 0, roleChanges: 0 });
    expect((await admin('GET', '/api/admin/sync')).body.report).toMatchObject({ trigger: 'admin', outcome: 'applied' });
    // The sync account's secret identity sits with the other keys, readable by the relay's user only.
    expect((await stat(join(relay.setup.dir, 'keys', 'sync-device.identity'))).mode & 0o077).toBe(0);
    // Without a token the sync API refuses.
    expect((await fetch(`${relay.http}/api/admin/sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
  });

  it('revoking a device takes it out of its groups with a new key: what follows is unreadable with what it held', async () => {
    const t = await device(teacher.id);
    const p = await device(pupil!.id);
    const group = t.engine.groups().find((g) => g.kind === 'class' && g.name === `Klasse ${klass.name} (2026/27)`)!.id;
    expect(t.engine.state(group)!.policy.retentionDays).toBe(21);
    await until(() => t.engine.canRead(group) && p.engine.canRead(group), 20_000, 'both devices hold the class key');
    const hello = await t.engine.post(group, { text: 'Guten Morgen, 7a' });
    await hello.acked;
    await until(async () => (await p.engine.messages(group)).some((m) => m.text === 'Guten Morgen, 7a'), 20_000, 'the pupil reads the first post');
    const epochBefore = t.engine.state(group)!.currentEpoch!;
    const held = p.engine.keys.epochs(group).map((e) => p.engine.keys.raw(group, e)!);
    expect(held.length).toBeGreaterThan(0);

    // The sync account manages the class and can decrypt nothing of it: no epoch key was ever sealed to its device
    // (checked with its real secret keys from keys/sync-device.identity), and the keys were made by members.
    const syncDevice = await decodeDeviceIdentity(new Uint8Array(await readFile(join(relay.setup.dir, 'keys', 'sync-device.identity'))));
    const view = t.engine.state(group)!;
    expect(view.members.get(syncDevice.certificate.account + '@' + relay.info.school.id)).toBe('manager');
    expect(view.devices.has(syncDevice.id)).toBe(true);
    expect(view.epochs.length).toBeGreaterThan(0);
    for (const epoch of view.epochs) {
      expect(view.sealedKeys.get(epoch)!.has(syncDevice.id)).toBe(false);
      expect(authorDeviceId(t.engine.replica.log(group)!.get(epoch)!)).not.toBe(syncDevice.id);
      await expect(openEpochKey(view, epoch, syncDevice)).rejects.toMatchObject({ code: 'not-sealed-to-device' });
    }

    const { status } = await admin('POST', '/api/admin/revoke', { devices: [p.identity.id] });
    expect(status).toBe(200);
    await until(() => relay.logs.some((l) => l.includes('dropping session') && l.includes(p.identity.id)), 20_000, 'the relay drops the revoked device');
    await until(() => {
      const s = t.engine.state(group)!;
      return !s.devices.has(p.identity.id) && s.currentEpoch !== epochBefore;
    }, 20_000, 'the teacher sees the device removed and a new epoch');
    await until(() => t.engine.canRead(group), 20_000, 'the teacher holds the new key');
    // The sync account removed the device but holds no key: a member's device (here the teacher's) rotated.
    const rotatedBy = authorDeviceId(t.engine.replica.log(group)!.get(t.engine.state(group)!.currentEpoch!)!);
    expect(rotatedBy).not.toBe(syncDevice.id);
    expect(t.engine.state(group)!.sealedKeys.get(t.engine.state(group)!.currentEpoch!)!.has(syncDevice.id)).toBe(false);
    const secret = await t.engine.post(group, { text: 'Nach dem Widerruf' });
    await secret.acked;
    const entries = (await t.engine.replica.bucketEntries(group, bucketOf(t.engine.now()))).filter((e) => e.author === t.identity.id);
    const last = entries.at(-1)!;
    expect(last.epoch).not.toBe(epochIdOf(epochBefore));
    expect(p.engine.keys.epochs(group)).not.toContain(last.epoch);
    expect(p.engine.keys.raw(group, last.epoch)).toBeUndefined();
    for (const raw of held) await expect(openEntry(last, await aeadKey(raw))).rejects.toThrow();
    // The revoked device never got the post either.
    expect((await p.engine.messages(group)).some((m) => m.text === 'Nach dem Widerruf')).toBe(false);
  });

  it('a policy change reaches members as a signed op, and a bad one is refused whole', async () => {
    const t = await device(teacher.id);
    const group = t.engine.groups().find((g) => g.kind === 'class' && g.name === `Klasse ${klass.name} (2026/27)`)!.id;
    const bad = await admin('PUT', '/api/admin/policy', { retentionDays: { class: 0 } });
    expect(bad.status).toBe(400);
    expect(String(bad.body.message)).toContain('retentionDays.class');
    const { status, body } = await admin('PUT', '/api/admin/policy', { retentionDays: { class: 7 }, pupilDirectMessages: false });
    expect(status).toBe(200);
    expect(body.policy).toMatchObject({ pupilDirectMessages: false, retentionDays: { class: 7, department: 90 } });
    expect((body.updates as { group: string }[]).some((u) => u.group === group)).toBe(true);
    await until(() => t.engine.state(group)!.policy.retentionDays === 7, 20_000, "the class's new retention at the teacher's device");
    expect((await admin('GET', '/api/admin/policy')).body.policy).toMatchObject({ retentionDays: { class: 7 } });
  });

  it("a leaver leaves every group and the sync revokes the leaver's devices", async () => {
    const l = await device(leaver!.id);
    const t = await device(teacher.id);
    const group = t.engine.groups().find((g) => g.kind === 'class' && g.name === `Klasse ${klass.name} (2026/27)`)!.id;
    await until(() => l.engine.canRead(group) && l.engine.keys.epochs(group).length > 0 && t.engine.canRead(group), 20_000, 'the leaver and the teacher read the class');
    const epochBefore = t.engine.state(group)!.currentEpoch!;
    await ldapAdmin((c) => c.del(trees.genericDn(leaver!.id)));
    const report = await syncNow();
    expect(report.outcome).toBe('applied');
    expect(report.leavers).toEqual([leaver!.id]);
    expect(report.revokedDevices).toEqual([l.identity.id]);
    expect(report.changed.some((g) => g.removed.some((r) => r.account === `${leaver!.id}@${relay.info.school.id}` && r.reason === 'left-school'))).toBe(true);
    const devices = (await admin('GET', '/api/admin/devices')).body.devices as { device: string; revoked: boolean }[];
    expect(devices.find((d) => d.device === l.identity.id)?.revoked).toBe(true);
    await until(() => relay.logs.some((line) => line.includes('dropping session') && line.includes(l.identity.id)), 20_000, "the relay drops the leaver's device");
    // The sync account (a manager) removed her without rotating; the teacher's device rotates, and what it posts
    // next cannot be opened with any key the leaver's device holds.
    await until(() => {
      const s = t.engine.state(group)!;
      return !s.members.has(`${leaver!.id}@${relay.info.school.id}`) && s.currentEpoch !== epochBefore && s.removedSince.accounts.length === 0;
    }, 20_000, 'the teacher rotates past the leaver');
    await until(() => t.engine.canRead(group) && t.engine.holdsKey(group, epochIdOf(t.engine.state(group)!.currentEpoch!)), 20_000, 'the teacher holds the new key');
    const posted = await t.engine.post(group, { text: 'Ohne die Abgängerin' });
    await posted.acked;
    const last = (await t.engine.replica.bucketEntries(group, posted.bucket)).filter((e) => e.author === t.identity.id).at(-1)!;
    expect(last.epoch).not.toBe(epochIdOf(epochBefore));
    for (const epoch of l.engine.keys.epochs(group)) await expect(openEntry(last, (await l.engine.keys.aead(group, epoch))!)).rejects.toThrow();
  });

  it('keeps the sync account and its state across a restart', async () => {
    await relay.stop();
    relay = await startRelay(relay.setup);
    const report = await syncNow();
    expect(report.outcome).toBe('applied');
    expect(report.totals).toEqual({ groupsCreated: 0, groupsChanged: 0, groupsEnded: 0, groupsClosed: 0, added: 0, removed: 0, roleChanges: 0 });
  });
});
