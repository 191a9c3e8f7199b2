/**
 * The school's group rules on the relay (relay/src/group-admission.ts): who may create groups, and whether pupils
 * may start direct chats with each other. First the rule on signed ops, then a real relay process that refuses what
 * a modified client creates against the policy while it takes what the policy allows.
 */
import { createOp } from '@schoolmesh/membership';
import { type GroupKind, type Role, type SchoolPolicy, defaultGroupPolicy } from '@schoolmesh/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestSchool, testSchool } from '../../test/support/school.ts';
import { groupCreationRefusal } from '../src/group-admission.ts';
import { type RelayDevice, enrolledDevice, until } from './support/devices.ts';
import { type RelayProcess, removeSetup, setupRelay, startRelay } from './support/relay-process.ts';

describe('group admission: the rule on signed ops', () => {
  let school: TestSchool;
  const roles = new Map<string, Role>([
    ['ben', 'pupil'],
    ['mia', 'pupil'],
    ['schmidt', 'teacher'],
  ]);

  beforeAll(async () => {
    school = await testSchool('Gesamtschule Nord');
  });

  async function createBy(account: string, role: Role, kind: GroupKind, members: string[]): Promise<Uint8Array[]> {
    const device = await school.device(account, role);
    const body = { type: 'create' as const, kind, name: 'Gruppe', policy: defaultGroupPolicy(kind), members: members.map((m) => ({ account: school.ref(m), role: 'member' as const })) };
    return [(await createOp(device, null, [], body, Date.now())).bytes];
  }

  const judge = (ops: Uint8Array[], policy: Partial<SchoolPolicy>, school_ = school.ref('x').slice(2)) =>
    groupCreationRefusal(ops, {
      school: school_,
      policy: () => ({ whoMayCreateGroups: ['teacher', 'staff', 'admin'], pupilDirectMessages: false, ...policy }),
      roleOf: async (ref) => roles.get(ref.slice(0, ref.lastIndexOf('@'))),
    });

  it('lets the roles of whoMayCreateGroups create groups, and refuses the others with a reason', async () => {
    expect(await judge(await createBy('schmidt', 'teacher', 'custom', ['ben']), {})).toBeUndefined();
    expect(await judge(await createBy('ben', 'pupil', 'club', ['mia']), {})).toMatch(/role pupil/);
    expect(await judge(await createBy('ben', 'pupil', 'club', ['mia']), { whoMayCreateGroups: ['pupil', 'teacher'] })).toBeUndefined();
    expect(await judge(await createBy('schmidt', 'teacher', 'announcement', []), { whoMayCreateGroups: ['staff'] })).toMatch(/role teacher/);
    // Admins always may (the directory sync is one).
    expect(await judge(await createBy('sekretariat', 'admin', 'class', ['ben']), { whoMayCreateGroups: [] })).toBeUndefined();
  });

  it('refuses a direct chat between pupils unless the policy allows it; an unknown partner counts as a pupil', async () => {
    expect(await judge(await createBy('ben', 'pupil', 'direct', ['mia']), {})).toMatch(/between pupils/);
    expect(await judge(await createBy('ben', 'pupil', 'direct', ['mia']), { pupilDirectMessages: true })).toBeUndefined();
    expect(await judge(await createBy('ben', 'pupil', 'direct', ['schmidt']), {})).toBeUndefined();
    expect(await judge(await createBy('ben', 'pupil', 'direct', ['niemand']), {})).toMatch(/between pupils/);
    // A teacher may write to any pupil, whatever the pupils' rule says.
    expect(await judge(await createBy('schmidt', 'teacher', 'direct', ['ben']), {})).toBeUndefined();
  });

  it('leaves groups created at another school to that school, and batches without a create op to the replica', async () => {
    expect(await judge(await createBy('ben', 'pupil', 'club', ['mia']), {}, 'another-school')).toBeUndefined();
    expect(await judge([], {})).toBeUndefined();
    expect(await judge([new Uint8Array([1, 2, 3])], {})).toBeUndefined();
  });
});

describe('group admission: a relay applies the school policy to new groups', () => {
  let relay: RelayProcess;
  let teacher: RelayDevice;
  let ben: RelayDevice;
  let mia: RelayDevice;

  beforeAll(async () => {
    relay = await startRelay(await setupRelay('Gymnasium am See', { policy: { pupilDirectMessages: false, whoMayCreateGroups: ['teacher', 'admin'] } }));
    teacher = await enrolledDevice(relay, 'schmidt', 'teacher', 'Frau Schmidt');
    ben = await enrolledDevice(relay, 'ben', 'pupil', 'Ben');
    mia = await enrolledDevice(relay, 'mia', 'pupil', 'Mia');
    await Promise.all([teacher.online(), ben.online(), mia.online()]);
  }, 60_000);

  afterAll(async () => {
    for (const d of [teacher, ben, mia]) await d?.close();
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
  });

  it('takes a group a teacher creates, refuses a club a pupil creates and a direct chat between pupils', async () => {
    // What a modified client could send: the web app offers neither to a pupil under this policy.
    const club = await ben.engine.createGroup({ kind: 'club', name: 'AG Schach (selbst gemacht)', members: [{ account: mia.ref, role: 'member' }] });
    const direct = await ben.engine.createGroup({ kind: 'direct', name: 'Ben · Mia', members: [{ account: mia.ref, role: 'member' }] });
    const toTeacher = await ben.engine.createGroup({ kind: 'direct', name: 'Ben · Frau Schmidt', members: [{ account: teacher.ref, role: 'member' }] });
    const byTeacher = await teacher.engine.createGroup({ kind: 'custom', name: 'Klassenfahrt 7a', members: [{ account: mia.ref, role: 'member' }] });

    // Allowed groups reach their members through the relay...
    await until(() => mia.engine.state(byTeacher) !== undefined, 20_000, 'mia knows the teacher’s group');
    await until(() => teacher.engine.state(toTeacher) !== undefined, 20_000, 'the teacher knows the pupil’s direct chat');
    // ...refused ones never do, and the relay says why.
    await until(() => relay.logs.filter((l) => l.includes('"msg":"group refused"')).length >= 2, 20_000, 'two refusals logged');
    const refusals = relay.logs.filter((l) => l.includes('"msg":"group refused"')).join('\n');
    expect(refusals).toContain(club);
    expect(refusals).toContain(direct);
    expect(refusals).not.toContain(toTeacher);
    expect(mia.engine.state(club)).toBeUndefined();
    expect(mia.engine.state(direct)).toBeUndefined();
    // The relay holds neither: a post there is not stored, while the allowed direct chat's is.
    await (await ben.engine.post(toTeacher, { text: 'Frage zur Hausaufgabe' })).acked;
    await until(async () => (await teacher.engine.messages(toTeacher)).some((m) => m.text === 'Frage zur Hausaufgabe'), 20_000, 'teacher reads it');
    const res = await fetch(`${relay.http}/api/admin/groups`, { headers: { authorization: `Bearer ${relay.setup.keys.adminToken}` } });
    const groups = (await res.json()) as { groups: { id: string }[] };
    const ids = groups.groups.map((g) => g.id);
    expect(ids).toContain(toTeacher);
    expect(ids).toContain(byTeacher);
    expect(ids).not.toContain(club);
    expect(ids).not.toContain(direct);
  });

  it('tells devices the rules with the school info', async () => {
    const info = (await (await fetch(`${relay.http}/api/school`)).json()) as { policy: { pupilDirectMessages: boolean; whoMayCreateGroups: string[] } };
    expect(info.policy).toEqual({ pupilDirectMessages: false, whoMayCreateGroups: ['teacher', 'admin'] });
  });
});
