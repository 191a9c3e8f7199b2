/**
 * The manager role through real engines: a group run by the school's sync account (a manager) whose members make
 * and rotate the keys, and devices revoked by their school that every member's engine treats as removed for keys.
 */
import { openEntry } from '@schoolmesh/entries';
import { type DeviceIdentity, issueRevocationList, type TrustStore } from '@schoolmesh/identity';
import { openEpochKey } from '@schoolmesh/membership';
import { epochIdOf } from '@schoolmesh/replica';
import { MemoryStorage } from '@schoolmesh/storage';
import { describe, expect, it } from 'vitest';
import { eventually, link, type TestSchool, testSchool } from '../../../test/support/school.ts';
import { Engine } from '../src/index.ts';

const texts = async (engine: Engine, group: string) => (await engine.messages(group).catch(() => [])).map((m) => m.text);

/** Holds the current key of the group: ready to read and write. */
function ready(engine: Engine, group: string): boolean {
  const epoch = engine.state(group)?.currentEpoch;
  return !!epoch && engine.canRead(group) && engine.holdsKey(group, epochIdOf(epoch));
}

/** An engine on its own trust store, which the test keeps (to apply a revocation list to it). */
async function open(s: TestSchool, identity: DeviceIdentity, options: { autoKeys?: boolean } = {}): Promise<{ engine: Engine; trust: TrustStore }> {
  const trust = s.trust();
  const engine = await Engine.open({ storage: new MemoryStorage(), identity, trust, clock: s.clock, ...options });
  return { engine, trust };
}

/** The newest entry `author` wrote in the group today. */
async function latestOf(author: Engine, group: string, bucket: number) {
  return (await author.replica.bucketEntries(group, bucket)).filter((e) => e.author === author.deviceId).at(-1)!;
}

/** Does any key `holder` has for the group open `entry`? */
async function opens(holder: Engine, group: string, entry: Awaited<ReturnType<typeof latestOf>>): Promise<boolean> {
  for (const epoch of holder.keys.epochs(group)) {
    const key = await holder.keys.aead(group, epoch);
    if (key && (await openEntry(entry, key).then(() => true, () => false))) return true;
  }
  return false;
}

describe('engine: a group managed without content keys', () => {
  it('a manager creates a class, members chat under keys they made; the manager holds no key and opens no entry', async () => {
    const s = await testSchool();
    const syncId = await s.device('verwaltung', 'admin');
    const sync = (await open(s, syncId)).engine;
    const teacher = (await open(s, await s.device('schmidt', 'teacher'))).engine;
    const pupil = (await open(s, await s.device('ben', 'pupil'))).engine;
    const group = await sync.createGroup({
      kind: 'class',
      name: 'Klasse 7a',
      members: [
        { account: s.ref('schmidt'), role: 'moderator' },
        { account: s.ref('ben'), role: 'member' },
      ],
      creatorRole: 'manager',
    });
    expect(sync.groups()).toMatchObject([{ id: group, myRole: 'manager' }]);
    expect(sync.state(group)!.currentEpoch).toBeUndefined();
    // The manager's device carries membership; content goes between the members (it is not a reader to them).
    link(sync, teacher);
    link(sync, pupil);
    link(teacher, pupil);
    await eventually(() => ready(teacher, group) && ready(pupil, group) && teacher.state(group)!.currentEpoch === pupil.state(group)!.currentEpoch);
    const hello = await teacher.post(group, { text: 'Guten Morgen, 7a!' });
    await eventually(async () => (await texts(pupil, group)).includes('Guten Morgen, 7a!'));
    await pupil.post(group, { text: 'Morgen!' });
    await eventually(async () => (await texts(teacher, group)).includes('Morgen!'));

    await eventually(() => sync.state(group)!.epochs.length === teacher.state(group)!.epochs.length);
    const state = sync.state(group)!;
    expect(state.epochs.length).toBeGreaterThan(0);
    for (const epoch of state.epochs) {
      expect(state.sealedKeys.get(epoch)!.has(sync.deviceId)).toBe(false);
      await expect(openEpochKey(state, epoch, syncId)).rejects.toMatchObject({ code: 'not-sealed-to-device' });
    }
    expect(sync.keys.epochs(group)).toEqual([]);
    expect(sync.canRead(group)).toBe(false);
    expect(await opens(sync, group, await latestOf(teacher, group, hello.bucket))).toBe(false);
    await expect(sync.post(group, { text: 'von der Verwaltung' })).rejects.toMatchObject({ code: 'forbidden' });

    // The manager removes the pupil; it cannot rotate, the teacher's device does, and the pupil reads nothing after.
    const before = teacher.state(group)!.currentEpoch;
    await sync.removeMember(group, s.ref('ben'));
    await eventually(() => !teacher.state(group)!.members.has(s.ref('ben')) && teacher.state(group)!.currentEpoch !== before && ready(teacher, group));
    expect(teacher.state(group)!.removedSince).toEqual({ accounts: [], devices: [] });
    const after = await teacher.post(group, { text: 'Nur noch für die 7a' });
    const entry = await latestOf(teacher, group, after.bucket);
    expect(entry.epoch).not.toBe(epochIdOf(before!));
    await pupil.replica.addOps(group, teacher.replica.membershipFor(group, []));
    await pupil.idle();
    expect(pupil.canRead(group)).toBe(false);
    expect(await opens(pupil, group, entry)).toBe(false);
    expect(await texts(pupil, group)).not.toContain('Nur noch für die 7a');
  });

  it('members who each make a first epoch while apart converge on one current key and read each other (10 rounds)', async () => {
    for (let round = 0; round < 10; round++) {
      const s = await testSchool();
      const sync = (await open(s, await s.device('verwaltung', 'admin'))).engine;
      const names = ['schmidt', 'ben', 'clara'] as const;
      const members = await Promise.all(names.map(async (n) => (await open(s, await s.device(n, n === 'schmidt' ? 'teacher' : 'pupil'))).engine));
      const group = await sync.createGroup({
        kind: 'club',
        name: `AG ${round}`,
        members: names.map((n) => ({ account: s.ref(n), role: n === 'schmidt' ? ('moderator' as const) : ('member' as const) })),
        creatorRole: 'manager',
      });
      // Each member learns of the group from the manager alone, joins and writes under an epoch of its own.
      for (const m of members) {
        const l = link(sync, m);
        await eventually(() => m.state(group)?.devices.has(m.deviceId) === true);
        await m.post(group, { text: `erste Nachricht von ${m.account}` });
        l.close();
      }
      expect(new Set(members.map((m) => m.state(group)!.currentEpoch)).size).toBeGreaterThan(1);
      // Then they meet, in an order that changes with the round.
      const order = round % 2 === 0 ? [0, 1, 2] : [2, 1, 0];
      link(sync, members[order[0]!]!);
      link(members[order[0]!]!, members[order[1]!]!);
      link(members[order[1]!]!, members[order[2]!]!);
      await eventually(async () => {
        const epochs = new Set(members.map((m) => m.state(group)!.currentEpoch));
        if (epochs.size !== 1 || !members.every((m) => ready(m, group))) return false;
        for (const m of members) {
          const seen = await texts(m, group);
          if (!members.every((o) => seen.includes(`erste Nachricht von ${o.account}`))) return false;
        }
        return true;
      }, 20_000);
      expect(sync.keys.epochs(group)).toEqual([]);
      for (const e of [sync, ...members]) await e.close();
    }
  });

  it('once a removal is known, nothing is written under the old key, even by an engine that rotates nothing by itself', async () => {
    const s = await testSchool();
    const sync = (await open(s, await s.device('verwaltung', 'admin'))).engine;
    const teacherId = await s.device('schmidt', 'teacher');
    const stored = new MemoryStorage();
    // The teacher's store outlives its first engine (close would close it).
    const storage = new Proxy(stored, { get: (target, p) => (p === 'close' ? async () => {} : Reflect.get(target, p, target).bind?.(target) ?? Reflect.get(target, p, target)) });
    let teacher = await Engine.open({ storage, identity: teacherId, trust: s.trust(), clock: s.clock });
    const pupil = (await open(s, await s.device('ben', 'pupil'))).engine;
    const group = await sync.createGroup({ kind: 'class', name: 'Klasse 7b', members: [{ account: s.ref('schmidt'), role: 'moderator' }, { account: s.ref('ben'), role: 'member' }], creatorRole: 'manager' });
    link(sync, teacher);
    link(sync, pupil);
    link(teacher, pupil);
    await eventually(() => ready(teacher, group) && ready(pupil, group) && teacher.state(group)!.currentEpoch === pupil.state(group)!.currentEpoch);
    await teacher.close();
    // The same device again, with autoKeys off: it rotates or shares nothing when the membership changes.
    teacher = await Engine.open({ storage, identity: teacherId, trust: s.trust(), clock: s.clock, autoKeys: false });
    const old = teacher.state(group)!.currentEpoch!;
    expect(teacher.holdsKey(group, epochIdOf(old))).toBe(true);
    await sync.removeMember(group, s.ref('ben'));
    await teacher.replica.addOps(group, sync.replica.membershipFor(group, []));
    await teacher.idle();
    expect(teacher.state(group)!.members.has(s.ref('ben'))).toBe(false);
    expect(teacher.state(group)!.currentEpoch).toBe(old); // nobody rotated yet
    const posted = await teacher.post(group, { text: 'nach der Entfernung' });
    const entry = await latestOf(teacher, group, posted.bucket);
    expect(entry.epoch).not.toBe(epochIdOf(old));
    expect(teacher.state(group)!.sealedKeys.get(teacher.state(group)!.currentEpoch!)!.has(pupil.deviceId)).toBe(false);
    expect(await opens(pupil, group, entry)).toBe(false);
  });
});

describe('engine: devices revoked by their school are removed for key purposes', () => {
  it('the next writer rotates away from a key a revoked device holds, seals and shares nothing to it, and nobody has to remove it first', async () => {
    const s = await testSchool();
    const t = await open(s, await s.device('schmidt', 'teacher'));
    const b = await open(s, await s.device('ben', 'pupil'));
    const c = await open(s, await s.device('clara', 'pupil'));
    const [teacher, ben, clara] = [t.engine, b.engine, c.engine];
    const group = await teacher.createGroup({ kind: 'custom', name: 'Theater-AG', members: [{ account: s.ref('ben'), role: 'member' }, { account: s.ref('clara'), role: 'member' }] });
    link(teacher, ben);
    const lc = link(teacher, clara);
    await eventually(() => ready(ben, group) && ready(clara, group));
    const held = teacher.state(group)!.currentEpoch!;
    expect(teacher.state(group)!.sealedKeys.get(held)!.has(clara.deviceId)).toBe(true);
    lc.close();

    // The school revokes Clara's device (a lost phone). Nobody takes it out of the group.
    const list = await issueRevocationList(s.school.authority, s.school.authorityCert, { sequence: 1, issuedAt: s.clock.now(), revokedDevices: [clara.deviceId] });
    for (const trust of [t.trust, b.trust]) await trust.applyRevocationList(list);
    expect(teacher.state(group)!.devices.has(clara.deviceId)).toBe(true);

    const posted = await teacher.post(group, { text: 'Probe am Donnerstag' });
    const entry = await latestOf(teacher, group, posted.bucket);
    const now = teacher.state(group)!;
    expect(entry.epoch).not.toBe(epochIdOf(held));
    expect(now.sealedKeys.get(now.currentEpoch!)!.has(clara.deviceId)).toBe(false);
    expect(await opens(clara, group, entry)).toBe(false);
    await eventually(async () => (await texts(ben, group)).includes('Probe am Donnerstag'));
    // Reconciling afterwards shares no key to the revoked device (history is retained in this group).
    await teacher.idle();
    await ben.idle();
    for (const epoch of teacher.state(group)!.epochs) if (epoch !== held) expect(teacher.state(group)!.sealedKeys.get(epoch)!.has(clara.deviceId)).toBe(false);
    // Even handed every op, Clara's device finds no box for the new epoch.
    await clara.replica.addOps(group, teacher.replica.membershipFor(group, []));
    await clara.idle();
    expect(clara.holdsKey(group, entry.epoch)).toBe(false);

  });

  it('applyRevocations rotates the groups where a revoked device holds the current key, once', async () => {
    const s = await testSchool();
    const t = await open(s, await s.device('schmidt', 'teacher'));
    const b = await open(s, await s.device('ben', 'pupil'));
    const group = await t.engine.createGroup({ kind: 'custom', name: 'Schach-AG', members: [{ account: s.ref('ben'), role: 'member' }] });
    const other = await t.engine.createGroup({ kind: 'custom', name: 'Chor', members: [] });
    const l = link(t.engine, b.engine);
    await eventually(() => ready(b.engine, group));
    l.close();
    expect(await t.engine.applyRevocations()).toBe(0);
    const list = await issueRevocationList(s.school.authority, s.school.authorityCert, { sequence: 1, issuedAt: s.clock.now(), revokedDevices: [b.engine.deviceId] });
    await t.trust.applyRevocationList(list);
    // The revoked device itself, told of its revocation while it holds the current key, does not treat itself as
    // removed (a rotation must seal to its author: it would loop).
    await b.trust.applyRevocationList(list);
    const ops = b.engine.replica.membershipFor(group, []).length;
    expect(await b.engine.applyRevocations()).toBe(0);
    await b.engine.idle();
    expect(b.engine.replica.membershipFor(group, []).length).toBe(ops);
    const before = t.engine.state(other)!.currentEpoch;
    expect(await t.engine.applyRevocations()).toBe(1);
    expect(t.engine.state(group)!.sealedKeys.get(t.engine.state(group)!.currentEpoch!)!.has(b.engine.deviceId)).toBe(false);
    expect(t.engine.state(other)!.currentEpoch).toBe(before);
    expect(await t.engine.applyRevocations()).toBe(0);
  });
});
