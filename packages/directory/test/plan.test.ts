import { describe, expect, it } from 'vitest';
import { type CurrentGroup, type Directory, type DirectoryInput, type SyncPlan, buildDirectory, desiredGroups, isEmptyPlan, planSync, schoolYearOf, teachersOfParent } from '../src/index.ts';

const SCHOOL = 'schule';
const SELF = `sync@${SCHOOL}`;
const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2026, 5, 1);
const ref = (id: string) => `${id}@${SCHOOL}`;

function dir(input: DirectoryInput): Directory {
  const { directory, problems } = buildDirectory(input);
  expect(problems).toEqual([]);
  return directory;
}

const base = (): DirectoryInput => ({
  schoolYear: '2025/26',
  people: [
    { id: 'schmidt', givenName: 'Anna', surname: 'Schmidt', role: 'teacher', classTeacherOf: ['7a'], departments: ['Mathematik'] },
    { id: 'weiss', givenName: 'Jörg', surname: 'Weiß', role: 'teacher', classTeacherOf: ['7b'], departments: ['Deutsch', 'Mathematik'] },
    { id: 'ben', givenName: 'Ben', surname: 'Öztürk', role: 'pupil', class: '7a', clubs: ['Theater-AG'] },
    { id: 'mia', givenName: 'Mia', surname: 'Groß', role: 'pupil', class: '7a' },
    { id: 'lea', givenName: 'Lea', surname: 'Müller', role: 'pupil', class: '7b', clubs: ['Theater-AG'] },
    { id: 'frau.oeztuerk', givenName: 'Ayşe', surname: 'Öztürk', role: 'parent', children: ['ben'] },
  ],
  departments: [{ name: 'Mathematik', heads: ['schmidt'] }],
  clubs: [{ name: 'Theater-AG', leaders: ['weiss'] }],
});

/** Applies a plan to in-memory "current groups", the way applyPlan does it to an engine. */
function simulate(current: CurrentGroup[], plan: SyncPlan, ids = { n: 0 }): CurrentGroup[] {
  const byKey = new Map(current.map((g) => [g.key, { ...g, members: new Map(g.members) }]));
  for (const c of plan.changes) {
    if (c.action === 'create') {
      byKey.set(c.key, { key: c.key, group: `g${ids.n++}`, kind: c.kind, name: c.name, members: new Map([[SELF, 'owner'], ...(c.members ?? []).map((m) => [m.account, m.role] as const)]), retentionDays: c.policy!.retentionDays });
      continue;
    }
    const g = byKey.get(c.key)!;
    for (const r of c.remove) g.members.delete(r.account);
    for (const r of c.setRole) g.members.set(r.account, r.role);
    for (const a of c.add) g.members.set(a.account, a.role);
    if (c.action === 'end') g.endedAt = plan.now;
    if (c.action === 'reopen') delete g.endedAt;
    if (c.action === 'close') byKey.delete(c.key);
  }
  return [...byKey.values()];
}

const opts = (now = T0) => ({ school: SCHOOL, self: SELF, now });
const members = (groups: CurrentGroup[], key: string) => Object.fromEntries(groups.find((g) => g.key === key)?.members ?? []);

describe('directory model', () => {
  it('normalizes names (NFC, spaces), merges both sides of memberships, sorts naturally', () => {
    const { directory, problems } = buildDirectory({
      people: [
        { id: 'a', givenName: '  Jo\u0308rg ', surname: 'Weiß', role: 'pupil', class: '10a' },
        { id: 'b', role: 'pupil', class: '5a', clubs: ['Chor'] },
        { id: 'c', role: 'teacher', classTeacherOf: ['10a'] },
        { id: 'bad id!', role: 'pupil' },
        { id: 'a', role: 'teacher' },
        { id: 'p', role: 'parent', children: ['a', 'ghost'] },
      ],
      clubs: [{ name: 'Chor', leaders: ['c'] }],
    });
    expect(directory.people.map((p) => p.id)).toEqual(['a', 'b', 'c', 'p']);
    expect(directory.people[0]).toMatchObject({ givenName: 'Jörg', displayName: 'Jörg Weiß', class: '10a' });
    expect(directory.people[1]!.displayName).toBe('b');
    expect(directory.classes.map((c) => c.name)).toEqual(['5a', '10a']);
    expect(directory.clubs).toEqual([{ id: 'Chor', name: 'Chor', members: ['b', 'c'], leaders: ['c'] }]);
    expect(directory.people.find((p) => p.id === 'c')!.groups).toEqual(['Chor']);
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/bad id!/);
    expect(problems.join('\n')).toMatch(/listed twice/);
    expect(problems.join('\n')).toMatch(/ghost/);
  });

  it('school years change on 1 August; parents find their children’s class teachers', () => {
    expect(schoolYearOf(Date.UTC(2026, 6, 31))).toBe('2025/26');
    expect(schoolYearOf(Date.UTC(2026, 7, 1))).toBe('2026/27');
    expect(schoolYearOf(Date.UTC(2099, 8, 1))).toBe('2099/00');
    expect(teachersOfParent(dir(base()), 'frau.oeztuerk')).toEqual(['schmidt']);
  });

  it('derives groups: classes with pupils and class teachers, announcements with parents, departments, clubs', () => {
    const groups = desiredGroups(dir(base()), opts());
    expect([...groups.keys()]).toEqual([
      'class:2025/26:7a',
      'announcement:2025/26:7a',
      'class:2025/26:7b',
      'announcement:2025/26:7b',
      'department:Deutsch',
      'department:Mathematik',
      'club:Theater-AG',
    ]);
    const g = (k: string) => Object.fromEntries(groups.get(k)!.members);
    expect(groups.get('class:2025/26:7a')!.name).toBe('Klasse 7a (2025/26)');
    expect(g('class:2025/26:7a')).toEqual({ [ref('schmidt')]: 'moderator', [ref('ben')]: 'member', [ref('mia')]: 'member' });
    expect(g('announcement:2025/26:7a')).toEqual({ [ref('schmidt')]: 'moderator', [ref('ben')]: 'reader', [ref('mia')]: 'reader', [ref('frau.oeztuerk')]: 'reader' });
    expect(groups.get('announcement:2025/26:7a')!.kind).toBe('announcement');
    expect(g('department:Mathematik')).toEqual({ [ref('schmidt')]: 'moderator', [ref('weiss')]: 'member' });
    expect(groups.get('department:Mathematik')!.name).toBe('Fachschaft Mathematik');
    expect(g('club:Theater-AG')).toEqual({ [ref('weiss')]: 'moderator', [ref('ben')]: 'member', [ref('lea')]: 'member' });
  });
});

describe('planSync', () => {
  it('a first sync creates every group; the same directory again gives an empty plan', () => {
    const d = dir(base());
    const first = planSync(undefined, d, [], opts());
    expect(first.changes.every((c) => c.action === 'create')).toBe(true);
    expect(first.changes).toHaveLength(7);
    expect(first.changes[0]!.policy!.retentionDays).toBe(14);
    const groups = simulate([], first);
    expect(isEmptyPlan(planSync(d, d, groups, opts(T0 + DAY)))).toBe(true);
    // Also without the previous directory, and in full mode: nothing to do.
    expect(isEmptyPlan(planSync(undefined, d, groups, opts()))).toBe(true);
    expect(isEmptyPlan(planSync(d, dir(base()), groups, { ...opts(), full: true }))).toBe(true);
  });

  it('is deterministic: the same inputs in any order give the same plan', () => {
    const input = base();
    const shuffled = { ...input, people: [...input.people].reverse() };
    expect(planSync(undefined, dir(shuffled), [], opts())).toEqual(planSync(undefined, dir(input), [], opts()));
  });

  it('a pupil who changes class is removed from the old class and added to the new one, with the parent', () => {
    const d1 = dir(base());
    const groups = simulate([], planSync(undefined, d1, [], opts()));
    const input = base();
    input.people.find((p) => p.id === 'ben')!.class = '7b';
    const d2 = dir(input);
    const plan = planSync(d1, d2, groups, opts());
    expect(plan.changes.map((c) => [c.key, c.action, c.remove.map((r) => `${r.account}:${r.reason}`), c.add.map((a) => `${a.account}:${a.role}`)])).toEqual([
      ['class:2025/26:7a', 'update', [`${ref('ben')}:left-group`], []],
      ['class:2025/26:7b', 'update', [], [`${ref('ben')}:member`]],
      ['announcement:2025/26:7a', 'update', [`${ref('ben')}:left-group`, `${ref('frau.oeztuerk')}:left-group`], []],
      ['announcement:2025/26:7b', 'update', [], [`${ref('ben')}:reader`, `${ref('frau.oeztuerk')}:reader`]],
    ]);
    const after = simulate(groups, plan);
    expect(isEmptyPlan(planSync(d2, d2, after, opts()))).toBe(true);
  });

  it('a leaver loses every group, also ones a teacher added them to by hand', () => {
    const d1 = dir(base());
    const groups = simulate([], planSync(undefined, d1, [], opts()));
    groups.find((g) => g.key === 'department:Deutsch')!.members = new Map([...groups.find((g) => g.key === 'department:Deutsch')!.members, [ref('lea'), 'reader']]);
    const input = base();
    input.people = input.people.filter((p) => p.id !== 'lea');
    input.clubs = [{ name: 'Theater-AG', leaders: ['weiss'] }];
    const d2 = dir(input);
    const plan = planSync(d1, d2, groups, opts());
    expect(plan.leavers).toEqual(['lea']);
    const removed = plan.changes.flatMap((c) => c.remove.map((r) => `${c.key} ${r.account} ${r.reason}`));
    expect(removed).toEqual([
      `class:2025/26:7b ${ref('lea')} left-school`,
      `announcement:2025/26:7b ${ref('lea')} left-school`,
      `department:Deutsch ${ref('lea')} left-school`,
      `club:Theater-AG ${ref('lea')} left-school`,
    ]);
  });

  it('leaves alone what teachers did by hand, unless in full mode', () => {
    const d = dir(base());
    const groups = simulate([], planSync(undefined, d, [], opts()));
    const club = groups.find((g) => g.key === 'club:Theater-AG')!;
    const m = new Map(club.members);
    m.set(ref('mia'), 'member'); // a teacher added Mia by hand
    m.set(`gast@other-school`, 'member'); // a partner school's pupil
    m.delete(ref('lea')); // a teacher removed Lea
    m.set(ref('ben'), 'moderator'); // and promoted Ben
    club.members = m;
    expect(isEmptyPlan(planSync(d, d, groups, opts()))).toBe(true);
    const full = planSync(d, d, groups, { ...opts(), full: true });
    expect(full.changes).toHaveLength(1);
    expect(full.changes[0]).toMatchObject({
      key: 'club:Theater-AG',
      remove: [{ account: ref('mia'), reason: 'not-in-directory' }],
      setRole: [{ account: ref('ben'), role: 'member', from: 'moderator' }],
      add: [{ account: ref('lea'), role: 'member' }],
    });
  });

  it('a role the directory changes is changed in the group', () => {
    const d1 = dir(base());
    const groups = simulate([], planSync(undefined, d1, [], opts()));
    const input = base();
    input.departments = [{ name: 'Mathematik', heads: ['weiss'] }];
    const plan = planSync(d1, dir(input), groups, opts());
    expect(plan.changes).toEqual([
      expect.objectContaining({
        key: 'department:Mathematik',
        setRole: [
          { account: ref('schmidt'), role: 'member', from: 'moderator' },
          { account: ref('weiss'), role: 'moderator', from: 'member' },
        ],
      }),
    ]);
  });

  it('school-year rollover: 7a moves to 8a in one sync; the old groups end, then close after retention', () => {
    const d1 = dir(base());
    let groups = simulate([], planSync(undefined, d1, [], opts()));
    const input = base();
    input.schoolYear = '2026/27';
    for (const p of input.people) {
      if (p.class === '7a') p.class = '8a';
      if (p.class === '7b') p.class = '8b';
      if (p.classTeacherOf) p.classTeacherOf = p.classTeacherOf.map((c) => c.replace('7', '8'));
    }
    input.people = input.people.filter((p) => p.id !== 'mia'); // Mia leaves the school
    const d2 = dir(input);
    const t1 = T0 + 70 * DAY;
    const plan = planSync(d1, d2, groups, opts(t1));
    expect(plan.leavers).toEqual(['mia']);
    const byAction = (action: string) => plan.changes.filter((c) => c.action === action).map((c) => c.key);
    expect(byAction('create')).toEqual(['class:2026/27:8a', 'class:2026/27:8b', 'announcement:2026/27:8a', 'announcement:2026/27:8b']);
    expect(byAction('end')).toEqual(['class:2025/26:7a', 'class:2025/26:7b', 'announcement:2025/26:7a', 'announcement:2025/26:7b']);
    const old7a = plan.changes.find((c) => c.key === 'class:2025/26:7a')!;
    expect(old7a.remove).toEqual([{ account: ref('mia'), reason: 'left-school' }]);
    expect(old7a.setRole.map((r) => `${r.account}:${r.role}`)).toEqual([`${ref('ben')}:reader`, `${ref('schmidt')}:reader`]);
    expect(plan.changes.find((c) => c.key === 'class:2026/27:8a')!.members).toEqual([
      { account: ref('ben'), role: 'member' },
      { account: ref('schmidt'), role: 'moderator' },
    ]);
    groups = simulate(groups, plan);
    expect(isEmptyPlan(planSync(d2, d2, groups, opts(t1 + DAY)))).toBe(true);
    // After the class groups' retention period (14 days), the ended groups close: everyone is removed.
    const later = planSync(d2, d2, groups, opts(t1 + 15 * DAY));
    expect(later.changes.map((c) => `${c.key} ${c.action}`)).toEqual(['class:2025/26:7a close', 'class:2025/26:7b close']);
    expect(later.changes.find((c) => c.key === 'class:2025/26:7a')!.remove.map((r) => r.reason)).toEqual(['group-closed', 'group-closed']);
    groups = simulate(groups, later);
    // Announcements keep 30 days.
    const latest = planSync(d2, d2, groups, opts(t1 + 31 * DAY));
    expect(latest.changes.map((c) => `${c.key} ${c.action}`)).toEqual(['announcement:2025/26:7a close', 'announcement:2025/26:7b close']);
    groups = simulate(groups, latest);
    expect(groups.map((g) => g.key).filter((k) => k.includes('2025/26'))).toEqual([]);
    expect(isEmptyPlan(planSync(d2, d2, groups, opts(t1 + 32 * DAY)))).toBe(true);
    expect(members(groups, 'club:Theater-AG')).toMatchObject({ [ref('ben')]: 'member' });
  });

  it('never touches the syncing account, even when the directory lists it', () => {
    const input = base();
    input.people.push({ id: 'sync', role: 'admin', clubs: ['Theater-AG'] });
    const plan = planSync(undefined, dir(input), [], opts());
    expect(plan.changes.flatMap((c) => c.members ?? []).some((m) => m.account === SELF)).toBe(false);
  });
});
