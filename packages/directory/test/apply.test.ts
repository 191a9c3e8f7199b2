/**
 * applyPlan through real engines (memory storage, real keys, real sync over memory channels): the sync account's
 * device signs every membership change as the groups' manager and is never sealed a key; the members' devices make
 * and rotate the keys; a removed pupil cannot read what is written after the removal.
 */
import { openEntry } from '@schoolmesh/entries';
import type { Engine } from '@schoolmesh/engine';
import { epochIdOf } from '@schoolmesh/replica';
import { describe, expect, it } from 'vitest';
import { DAY, type TestSchool, eventually, link, testSchool } from '../../../test/support/school.ts';
import { openDevice, openRelay, syncWithRelay } from '../../../test/support/security.ts';
import { type Directory, type DirectoryInput, SyncGuardError, type SyncState, buildDirectory, emptySyncState, isEmptyPlan, reportOfPlan, synchronize } from '../src/index.ts';

function dir(input: DirectoryInput): Directory {
  const { directory, problems } = buildDirectory(input);
  expect(problems).toEqual([]);
  return directory;
}

const people = (): DirectoryInput['people'] => [
  { id: 'schmidt', givenName: 'Anna', surname: 'Schmidt', role: 'teacher', classTeacherOf: ['7a'] },
  { id: 'weiss', givenName: 'Jörg', surname: 'Weiß', role: 'teacher', classTeacherOf: ['7b'] },
  { id: 'ben', givenName: 'Ben', surname: 'Öztürk', role: 'pupil', class: '7a' },
  { id: 'mia', givenName: 'Mia', surname: 'Groß', role: 'pupil', class: '7a' },
  { id: 'lea', givenName: 'Lea', surname: 'Müller', role: 'pupil', class: '7b' },
];

const texts = async (engine: Engine, group: string) => (await engine.messages(group).catch(() => [])).map((m) => m.text);
/** Member with the current key: ready to read and (if allowed) to post. */
function ready(engine: Engine, group: string): boolean {
  const epoch = engine.state(group)?.currentEpoch;
  return !!epoch && engine.canRead(group) && engine.holdsKey(group, epochIdOf(epoch));
}

const groupByName = (engine: Engine, name: string) => engine.groups().find((g) => g.name === name)?.id;

async function school(): Promise<{ s: TestSchool; sync: Engine; devices: Record<string, Engine> }> {
  const s = await testSchool();
  const sync = await s.engine(await s.device('schulverwaltung', 'admin'));
  const devices: Record<string, Engine> = {};
  for (const p of people()) devices[p.id] = await s.engine(await s.device(p.id, p.role));
  return { s, sync, devices };
}

/** Does `engine` hold a key that opens the newest entry of `author` in the group today? */
async function canDecryptLatest(reader: Engine, author: Engine, group: string, bucket: number): Promise<boolean> {
  const entry = (await author.replica.bucketEntries(group, bucket)).filter((e) => e.author === author.deviceId).at(-1)!;
  for (const epoch of reader.keys.epochs(group)) {
    const key = await reader.keys.aead(group, epoch);
    if (!key) continue;
    try {
      await openEntry(entry, key);
      return true;
    } catch {
      // not this key
    }
  }
  return false;
}

describe('applyPlan through engines', () => {
  it('creates the groups with signed ops; a second sync changes nothing; a pupil who changes class cannot read the old class any more', async () => {
    const { s, sync, devices } = await school();
    const { schmidt, ben, weiss } = devices as Record<string, Engine>;
    let state: SyncState = emptySyncState(s.school.id);
    const d1 = dir({ people: people() });
    const first = await synchronize(sync, d1, state);
    state = first.state;
    expect(first.plan.changes.map((c) => c.action)).toEqual(['create', 'create', 'create', 'create']);
    expect(Object.keys(state.groups)).toEqual(['class::7a', 'class::7b', 'announcement::7a', 'announcement::7b']);
    const g7a = state.groups['class::7a']!.group;
    const g7b = state.groups['class::7b']!.group;
    expect(Object.fromEntries(sync.state(g7a)!.members)).toEqual({
      [s.ref('schulverwaltung')]: 'manager',
      [s.ref('schmidt')]: 'moderator',
      [s.ref('ben')]: 'member',
      [s.ref('mia')]: 'member',
    });
    // A second sync with the same directory: empty plan, no new ops.
    const ops = sync.replica.membershipFor(g7a, []).length;
    const second = await synchronize(sync, d1, state);
    expect(isEmptyPlan(second.plan)).toBe(true);
    expect(sync.replica.membershipFor(g7a, []).length).toBe(ops);

    // The sync account's device carries the membership; teachers and Ben connect to it and join. It reads nothing, so
    // content goes between the members (at school: through the relay); their devices make the first keys.
    for (const d of [schmidt!, weiss!, ben!]) link(sync, d);
    link(schmidt!, ben!);
    link(weiss!, ben!);
    await eventually(() => ready(ben!, g7a) && ready(schmidt!, g7a) && ready(weiss!, g7b) && ben!.state(g7a)!.currentEpoch === schmidt!.state(g7a)!.currentEpoch);
    expect(sync.canRead(g7a)).toBe(false);
    expect(sync.keys.epochs(g7a)).toEqual([]);
    await schmidt!.post(g7a, { text: 'Guten Morgen, 7a!' });
    await eventually(async () => (await texts(ben!, g7a)).includes('Guten Morgen, 7a!'));

    // Ben moves to 7b.
    const d2 = dir({ people: people().map((p) => (p.id === 'ben' ? { ...p, class: '7b' } : p)) });
    const epochBefore = sync.state(g7a)!.currentEpoch;
    const move = await synchronize(sync, d2, state);
    state = move.state;
    expect(move.plan.changes.map((c) => `${c.key} ${c.action} -${c.remove.length} +${c.add.length}`)).toEqual([
      'class::7a update -1 +0',
      'class::7b update -0 +1',
      'announcement::7a update -1 +0',
      'announcement::7b update -0 +1',
    ]);
    expect(sync.state(g7a)!.members.has(s.ref('ben'))).toBe(false);
    // The manager holds no key: the teacher's device rotates past Ben as soon as it sees the removal.
    await eventually(() => schmidt!.state(g7a)!.currentEpoch !== epochBefore && schmidt!.state(g7a)!.removedSince.accounts.length === 0 && ready(schmidt!, g7a));
    expect(sync.keys.epochs(g7a)).toEqual([]);
    const after = await schmidt!.post(g7a, { text: 'Nur noch für die 7a' });
    // A curious relay hands Ben every membership op and the new ciphertext: he still cannot read it.
    await ben!.replica.addOps(g7a, schmidt!.replica.membershipFor(g7a, []));
    await ben!.idle();
    expect(ben!.canRead(g7a)).toBe(false);
    expect(await canDecryptLatest(ben!, schmidt!, g7a, after.bucket)).toBe(false);
    expect(await canDecryptLatest(schmidt!, schmidt!, g7a, after.bucket)).toBe(true);
    expect(await texts(ben!, g7a)).not.toContain('Nur noch für die 7a');
    // ...and reads his new class.
    await eventually(() => weiss!.state(g7b)!.members.has(s.ref('ben')) && ready(ben!, g7b) && ready(weiss!, g7b));
    await weiss!.post(g7b, { text: 'Willkommen, Ben!' });
    await eventually(async () => (await texts(ben!, g7b)).includes('Willkommen, Ben!'));
    expect(isEmptyPlan((await synchronize(sync, d2, state)).plan)).toBe(true);
  });

  it('a department the directory renames keeps its group: one signed rename op, the report says so, the next sync is empty', async () => {
    const { s, sync } = await school();
    const withDepartment = (name: string) => dir({ people: people(), departments: [{ id: 'ma', name, members: ['schmidt', 'weiss'], heads: ['schmidt'] }] });
    const first = await synchronize(sync, withDepartment('Mathematik'), emptySyncState(s.school.id));
    const group = first.state.groups['department:ma']!.group;
    expect(sync.state(group)!.name).toBe('Fachschaft Mathematik');
    const renamed = await synchronize(sync, withDepartment('Mathematik und Informatik'), first.state);
    expect(renamed.plan.changes.map((c) => [c.key, c.action, c.name, c.renamedFrom])).toEqual([['department:ma', 'update', 'Fachschaft Mathematik und Informatik', 'Fachschaft Mathematik']]);
    expect(renamed.state.groups['department:ma']!.group).toBe(group);
    expect(sync.state(group)!.name).toBe('Fachschaft Mathematik und Informatik');
    expect(sync.state(group)!.members.get(s.ref('weiss'))).toBe('member');
    expect(reportOfPlan(renamed.plan).changed).toMatchObject([{ key: 'department:ma', renamedFrom: 'Fachschaft Mathematik', name: 'Fachschaft Mathematik und Informatik', added: [], removed: [] }]);
    const again = await synchronize(sync, withDepartment('Mathematik und Informatik'), renamed.state);
    expect(isEmptyPlan(again.plan)).toBe(true);
  });

  it('school-year rollover in one sync: new classes form, old ones become read-only, a leaver loses access at once', async () => {
    const { s, sync, devices } = await school();
    const { schmidt, ben, mia } = devices as Record<string, Engine>;
    const d1 = dir({ schoolYear: '2025/26', people: people() });
    let { state } = await synchronize(sync, d1, emptySyncState(s.school.id), { announcements: false });
    const old7a = state.groups['class:2025/26:7a']!.group;
    for (const d of [schmidt!, ben!, mia!]) link(sync, d);
    link(schmidt!, ben!);
    link(schmidt!, mia!);
    await eventually(() => ready(ben!, old7a) && ready(mia!, old7a) && ready(schmidt!, old7a) && new Set([ben!, mia!, schmidt!].map((e) => e.state(old7a)!.currentEpoch)).size === 1);

    // Summer: 7a becomes 8a, Mia leaves the school.
    const d2 = dir({
      schoolYear: '2026/27',
      people: people()
        .filter((p) => p.id !== 'mia')
        .map((p) => ({ ...p, ...(p.class ? { class: p.class.replace('7', '8') } : {}), ...(p.classTeacherOf ? { classTeacherOf: p.classTeacherOf.map((c) => c.replace('7', '8')) } : {}) })),
    });
    s.clock.advance(10 * DAY); // device certificates last 30 days: stay within them
    const rollover = await synchronize(sync, d2, state, { announcements: false });
    state = rollover.state;
    expect(rollover.plan.leavers).toEqual(['mia']);
    expect(rollover.plan.changes.map((c) => `${c.key} ${c.action}`)).toEqual([
      'class:2025/26:7a end',
      'class:2025/26:7b end',
      'class:2026/27:8a create',
      'class:2026/27:8b create',
    ]);
    const new8a = state.groups['class:2026/27:8a']!.group;
    expect(groupByName(sync, 'Klasse 8a (2026/27)')).toBe(new8a);
    expect(Object.fromEntries(sync.state(old7a)!.members)).toEqual({
      [s.ref('schulverwaltung')]: 'manager',
      [s.ref('schmidt')]: 'reader',
      [s.ref('ben')]: 'reader',
    });
    // The leaver is out at once: removed, and the key rotated past her by a member's device.
    expect(sync.state(old7a)!.members.has(s.ref('mia'))).toBe(false);
    await eventually(() => sync.state(old7a)!.removedSince.accounts.length === 0 && ready(schmidt!, old7a));
    const old = sync.state(old7a)!;
    expect(mia!.holdsKey(old7a, epochIdOf(old.currentEpoch!))).toBe(false);
    expect(old.sealedKeys.get(old.currentEpoch!)!.has(mia!.deviceId)).toBe(false);
    // The old class is read-only for everyone still in it.
    await eventually(() => schmidt!.state(old7a)!.members.get(s.ref('schmidt')) === 'reader' && ready(schmidt!, old7a));
    await expect(schmidt!.post(old7a, { text: 'noch da?' })).rejects.toMatchObject({ code: 'forbidden' });
    await eventually(() => ready(ben!, new8a) && ready(schmidt!, new8a));
    await schmidt!.post(new8a, { text: 'Willkommen in der 8a' });
    await eventually(async () => (await texts(ben!, new8a)).includes('Willkommen in der 8a'));
    expect(mia!.groups().some((g) => g.id === new8a)).toBe(false);
    expect(isEmptyPlan((await synchronize(sync, d2, state, { announcements: false })).plan)).toBe(true);

    // After the retention period of class groups, the old groups close: every member is removed.
    s.clock.advance(15 * DAY);
    const close = await synchronize(sync, d2, state, { announcements: false });
    state = close.state;
    expect(close.plan.changes.map((c) => `${c.key} ${c.action}`)).toEqual(['class:2025/26:7a close', 'class:2025/26:7b close']);
    expect([...sync.state(old7a)!.members.keys()]).toEqual([s.ref('schulverwaltung')]);
    expect(Object.keys(state.groups)).toEqual(['class:2026/27:8a', 'class:2026/27:8b']);
  });

  it('refuses a sync in which an implausible share of the school leaves (a wrong filter, a half-read tree) unless forced', async () => {
    const { s, sync } = await school();
    const { state } = await synchronize(sync, dir({ people: people() }), emptySyncState(s.school.id));
    const few = dir({ people: people().filter((p) => p.role === 'teacher') });
    const refused = synchronize(sync, few, state);
    await expect(refused).rejects.toBeInstanceOf(SyncGuardError);
    await expect(refused).rejects.toThrow(/3 of 5 people/);
    expect(sync.state(state.groups['class::7a']!.group)!.members.size).toBe(4);
    const forced = await synchronize(sync, few, state, { force: true });
    expect(forced.plan.leavers).toEqual(['ben', 'lea', 'mia']);
    expect(new Set(sync.state(state.groups['class::7a']!.group)!.members.keys())).toEqual(new Set([s.ref('schulverwaltung'), s.ref('schmidt')]));
  });

  it('adopts groups an older version created as owner: it makes itself manager and a member rotates the key past it', async () => {
    const { s, sync, devices } = await school();
    const { schmidt, ben } = devices as Record<string, Engine>;
    const d1 = dir({ people: people() });
    const old = await synchronize(sync, d1, emptySyncState(s.school.id), { creatorRole: 'owner', announcements: false });
    expect(old.adopted).toEqual([]);
    const g7a = old.state.groups['class::7a']!.group;
    expect(sync.state(g7a)!.members.get(s.ref('schulverwaltung'))).toBe('owner');
    const ownedEpoch = sync.state(g7a)!.currentEpoch!;
    expect(sync.holdsKey(g7a, epochIdOf(ownedEpoch))).toBe(true);
    for (const d of [schmidt!, ben!]) link(sync, d);
    link(schmidt!, ben!);
    await eventually(() => ready(schmidt!, g7a) && ready(ben!, g7a));

    const next = await synchronize(sync, d1, old.state, { announcements: false });
    expect(next.adopted.sort()).toEqual(Object.values(old.state.groups).map((g) => g.group).sort());
    expect(isEmptyPlan(next.plan)).toBe(true);
    expect(sync.state(g7a)!.members.get(s.ref('schulverwaltung'))).toBe('manager');
    expect(sync.canRead(g7a)).toBe(false);
    // The members' devices rotate past it; it keeps only the key of the epoch it had (until retention erases it).
    await eventually(() => schmidt!.state(g7a)!.currentEpoch !== ownedEpoch && schmidt!.state(g7a)!.removedSince.accounts.length === 0 && ready(schmidt!, g7a));
    const current = schmidt!.state(g7a)!.currentEpoch!;
    expect(schmidt!.state(g7a)!.sealedKeys.get(current)!.has(sync.deviceId)).toBe(false);
    const posted = await schmidt!.post(g7a, { text: 'Ohne die Verwaltung' });
    await eventually(async () => (await texts(ben!, g7a)).includes('Ohne die Verwaltung'));
    expect(await canDecryptLatest(sync, schmidt!, g7a, posted.bucket)).toBe(false);
    expect(sync.keys.epochs(g7a)).toEqual([epochIdOf(ownedEpoch)]);
    // A second adoption has nothing to do.
    expect((await synchronize(sync, d1, next.state, { announcements: false })).adopted).toEqual([]);
  });

  it('a relay verifies every op of the sync (signatures, roles) and computes the same groups, also after a move', async () => {
    const s = await testSchool();
    const admin = await openDevice(s, 'schulverwaltung', 'admin');
    const relay = await openRelay(s);
    let { state } = await synchronize(admin.engine, dir({ people: people() }), emptySyncState(s.school.id));
    const same = () => {
      for (const { group } of Object.values(state.groups)) {
        const at = relay.replica.state(group);
        expect(at, group).toBeDefined();
        expect(at!.ignored).toEqual([]);
        expect(Object.fromEntries(at!.members)).toEqual(Object.fromEntries(admin.engine.state(group)!.members));
        expect(at!.currentEpoch).toBe(admin.engine.state(group)!.currentEpoch);
      }
    };
    await syncWithRelay(s, relay, admin);
    same();
    ({ state } = await synchronize(admin.engine, dir({ people: people().map((p) => (p.id === 'mia' ? { ...p, class: '7b' } : p)) }), state));
    await syncWithRelay(s, relay, admin);
    same();
    expect(relay.replica.state(state.groups['class::7a']!.group)!.members.has(s.ref('mia'))).toBe(false);
  });
});
