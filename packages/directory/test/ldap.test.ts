/**
 * The directory package against a real OpenLDAP slapd (Debian's), started for this file on loopback ports with
 * a throwaway configuration, loaded with a generated school of 1,500 people in three tree shapes.
 */
import type { Engine } from '@schoolmesh/engine';
import { openEntry } from '@schoolmesh/entries';
import { epochIdOf } from '@schoolmesh/replica';
import { Attribute, Change, Client, EqualityFilter, SizeLimitExceededError } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, link, testSchool } from '../../../test/support/school.ts';
import {
  type Directory,
  LdapAuthenticator,
  type LdapConfig,
  type LoginRefusal,
  type SyncState,
  TooManyAttemptsError,
  desiredGroups,
  emptySyncState,
  isEmptyPlan,
  readDirectory,
  resolveLdapConfig,
  summarizePlan,
  synchronize,
} from '../src/index.ts';
import {
  GENERIC,
  LIMITED_SERVICE_DN,
  LMN_BASE,
  ODD_SURNAMES,
  SERVICE_DN,
  SERVICE_PASSWORD,
  SUFFIX,
  type School,
  type Trees,
  UCS_SCHOOL,
  generateSchool,
  passwordOf,
  writeTrees,
} from './support/fixture.ts';
import { type Slapd, slapdAvailable, startSlapd } from './support/slapd.ts';

const ROOT_PASSWORD = 'Root-Passwort';
const YEAR = '2026/27';

describe.skipIf(!slapdAvailable)('directory against a real OpenLDAP slapd', () => {
  let slapd: Slapd;
  let school: School;
  let trees: Trees;
  const settings = (extra: Record<string, unknown> = {}) => ({
    url: slapd.url,
    allowPlaintext: true, // loopback only; the TLS test below uses ldaps:// and StartTLS
    bindDn: SERVICE_DN,
    bindPassword: SERVICE_PASSWORD,
    schoolYear: YEAR,
    preset: { name: 'inetorgperson', base: GENERIC },
    ...extra,
  });
  const generic = (extra: Record<string, unknown> = {}): LdapConfig => resolveLdapConfig(settings(extra));
  const expected = (): Directory => ({ ...school.directory, schoolYear: YEAR });
  const admin = async <T>(work: (c: Client) => Promise<T>): Promise<T> => {
    const c = new Client({ url: slapd.url });
    await c.bind(slapd.rootDn, ROOT_PASSWORD);
    try {
      return await work(c);
    } finally {
      await c.unbind();
    }
  };
  const pupilOf = (d: Directory, klass: string, skip = 0) => d.people.filter((p) => p.role === 'pupil' && p.class === klass)[skip]!;

  beforeAll(async () => {
    school = generateSchool();
    trees = writeTrees(school);
    slapd = await startSlapd({
      suffix: SUFFIX,
      rootPassword: ROOT_PASSWORD,
      ldif: trees.ldif,
      databaseConfig: [
        'overlay ppolicy',
        `ppolicy_default "cn=default,ou=policies,${SUFFIX}"`,
        'ppolicy_use_lockout',
        'access to attrs=userPassword by anonymous auth by * none',
        `access to * by dn.exact="${SERVICE_DN}" read by dn.exact="${LIMITED_SERVICE_DN}" read by * none`,
        // What a school's admin grants the sync account: paged searches past the 500-entry limit.
        `limits dn.exact="${SERVICE_DN}" size.prtotal=unlimited`,
      ].join('\n'),
    });
  });

  afterAll(async () => {
    await slapd?.stop();
  });

  it('reads the 1,500 people and their groups with paged searches, equal to the generated school, names with umlauts and DN escapes intact', async () => {
    const { directory, problems, stats } = await readDirectory(generic());
    expect(problems).toEqual([]);
    expect(stats.people).toBe(1500);
    expect(stats.pages).toBeGreaterThanOrEqual(Math.ceil(1500 / 250) + 3);
    expect(directory).toEqual(expected());
    const surnames = new Set(directory.people.map((p) => p.surname));
    for (const odd of ODD_SURNAMES) expect(surnames.has(odd), odd).toBe(true);
    expect(directory.people.find((p) => p.id === 'jörg.groß')).toBeDefined();
    expect(directory.people.find((p) => p.givenName === 'Jörg' && p.surname === 'Müller')).toBeDefined();
    expect(directory.clubs.map((c) => c.name)).toContain('Jugend forscht, Physik');
    console.info(`[directory] LDAP read of ${stats.people} people and ${stats.groups} groups: ${stats.ms} ms in ${stats.pages} pages`);
  });

  it('the 500-entry size limit is real: a plain search fails, and without a paged-results allowance the read fails instead of returning half the school', async () => {
    const c = new Client({ url: slapd.url });
    await c.bind(SERVICE_DN, SERVICE_PASSWORD);
    await expect(c.search(`ou=people,${GENERIC}`, { filter: '(objectClass=inetOrgPerson)', attributes: ['uid'] })).rejects.toBeInstanceOf(SizeLimitExceededError);
    await c.unbind();
    await expect(readDirectory(generic({ bindDn: LIMITED_SERVICE_DN }))).rejects.toBeInstanceOf(SizeLimitExceededError);
  });

  it('the linuxmuster.net-like and UCS@school-like trees give the same school through their presets', async () => {
    const lmn = await readDirectory(
      resolveLdapConfig(settings({ preset: { name: 'linuxmuster', base: LMN_BASE }, people: { children: { attribute: 'seeAlso', kind: 'dn' } } })),
    );
    expect(lmn.problems).toEqual([]);
    expect(lmn.directory).toEqual(expected());
    const ucs = await readDirectory(resolveLdapConfig(settings({ preset: { name: 'ucsschool', base: SUFFIX, school: UCS_SCHOOL } })));
    expect(ucs.problems).toEqual([]);
    // UCS@school has no department heads: everyone in a Fachschaft is a member.
    expect(ucs.directory).toEqual({ ...expected(), departments: expected().departments.map((d) => ({ ...d, heads: [] })) });
  });

  it('sync: the right groups; a second sync changes nothing; a pupil changes class and a leaver leaves in LDAP: exactly that changes, and the pupil cannot read the old class', async () => {
    const config = generic();
    const s = await testSchool();
    const sync = await s.engine(await s.device('schulverwaltung', 'admin'));
    let t = performance.now();
    const d1 = (await readDirectory(config)).directory;
    const readMs = performance.now() - t;
    t = performance.now();
    const first = await synchronize(sync, d1, emptySyncState(s.school.id));
    const firstMs = performance.now() - t;
    let state: SyncState = first.state;
    const want = desiredGroups(d1, { school: s.school.id, self: sync.account });
    expect(Object.keys(state.groups).sort()).toEqual([...want.keys()].sort());
    expect(Object.keys(state.groups)).toHaveLength(26 * 2 + 15 + 14);
    for (const [key, g] of want) {
      const st = sync.state(state.groups[key]!.group)!;
      expect(st.name).toBe(g.name);
      expect(st.kind).toBe(g.kind);
      expect(Object.fromEntries(st.members)).toEqual({ ...Object.fromEntries(g.members), [sync.account]: 'manager' });
    }
    // Spot checks against the generated school itself.
    const gen = school.directory;
    const c7b = gen.classes.find((c) => c.name === '7b')!;
    const class7b = sync.state(state.groups[`class:${YEAR}:7b`]!.group)!;
    expect(class7b.name).toBe(`Klasse 7b (${YEAR})`);
    expect([...class7b.members].filter(([, r]) => r === 'member').map(([a]) => a).sort()).toEqual(gen.people.filter((p) => p.class === '7b').map((p) => s.ref(p.id)).sort());
    expect([...class7b.members].filter(([, r]) => r === 'moderator').map(([a]) => a).sort()).toEqual(c7b.teachers.map(s.ref).sort());
    const parents7b = gen.people.filter((p) => p.children.some((c) => gen.people.find((x) => x.id === c)!.class === '7b'));
    const news7b = sync.state(state.groups[`announcement:${YEAR}:7b`]!.group)!;
    for (const p of parents7b) expect(news7b.members.get(s.ref(p.id))).toBe('reader');
    expect(sync.state(state.groups['department:mathematik']!.group)!.name).toBe('Fachschaft Mathematik');

    // A second sync with an unchanged directory: an empty plan, not one new operation.
    const opsBefore = Object.values(state.groups).reduce((n, g) => n + sync.replica.membershipFor(g.group, []).length, 0);
    t = performance.now();
    const d1again = (await readDirectory(config)).directory;
    const second = await synchronize(sync, d1again, state);
    const secondMs = performance.now() - t;
    expect(isEmptyPlan(second.plan)).toBe(true);
    state = second.state;
    expect(Object.values(state.groups).reduce((n, g) => n + sync.replica.membershipFor(g.group, []).length, 0)).toBe(opsBefore);

    // The moving pupil's device and a class teacher's device are online; the teacher writes to 7a.
    const mover = pupilOf(d1, '7a');
    const leaver = pupilOf(d1, '8b');
    const teacherId = d1.classes.find((c) => c.name === '7a')!.teachers[0]!;
    const pupil = await s.engine(await s.device(mover.id, 'pupil'));
    const teacher = await s.engine(await s.device(teacherId, 'teacher'));
    const g7a = state.groups[`class:${YEAR}:7a`]!.group;
    const g7c = state.groups[`class:${YEAR}:7c`]!.group;
    link(sync, pupil);
    link(sync, teacher);
    // The sync account manages the groups and reads nothing: content goes between the members.
    link(teacher, pupil);
    const ready = (e: Engine, g: string) => {
      const epoch = e.state(g)?.currentEpoch;
      return !!epoch && e.canRead(g) && e.holdsKey(g, epochIdOf(epoch));
    };
    await eventually(() => ready(pupil, g7a) && ready(teacher, g7a));
    await teacher.post(g7a, { text: 'Morgen Wandertag!' });
    await eventually(async () => (await pupil.messages(g7a)).some((m) => m.text === 'Morgen Wandertag!'));

    // In LDAP: the pupil moves from 7a to 7c; the leaver's entry is deleted (its group memberships dangle, as
    // they do without the refint overlay).
    await admin(async (c) => {
      const dn = trees.genericDn(mover.id);
      await c.modify(`cn=7a,ou=classes,${GENERIC}`, new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [dn] }) }));
      await c.modify(`cn=7c,ou=classes,${GENERIC}`, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [dn] }) }));
      await c.del(trees.genericDn(leaver.id));
    });
    const d2 = (await readDirectory(config)).directory;
    expect(d2.people.find((p) => p.id === mover.id)!.class).toBe('7c');
    const moved = await synchronize(sync, d2, state);
    state = moved.state;
    expect(moved.plan.leavers).toEqual([leaver.id]);
    expect(moved.plan.joiners).toEqual([]);
    const moverRef = s.ref(mover.id);
    const leaverRef = s.ref(leaver.id);
    const parentsOf = (id: string) => d1.people.filter((p) => p.children.includes(id)).map((p) => s.ref(p.id));
    for (const c of moved.plan.changes) {
      expect(c.action).toBe('update');
      expect(c.setRole).toEqual([]);
      for (const r of c.remove) expect([moverRef, leaverRef, ...parentsOf(mover.id), ...parentsOf(leaver.id)]).toContain(r.account);
      for (const a of c.add) expect([moverRef, ...parentsOf(mover.id)]).toContain(a.account);
    }
    const changed = (key: string) => moved.plan.changes.find((c) => c.key === key);
    expect(changed(`class:${YEAR}:7a`)!.remove).toEqual([{ account: moverRef, reason: 'left-group' }]);
    expect(changed(`class:${YEAR}:7c`)!.add).toEqual([{ account: moverRef, role: 'member' }]);
    expect(changed(`class:${YEAR}:8b`)!.remove).toEqual([{ account: leaverRef, reason: 'left-school' }]);
    for (const club of d1.clubs.filter((c) => c.members.includes(leaver.id))) expect(changed(`club:${club.id}`)!.remove).toEqual([{ account: leaverRef, reason: 'left-school' }]);
    for (const g of Object.values(state.groups)) expect(sync.state(g.group)!.members.has(leaverRef)).toBe(false);
    console.info(`[directory] change: ${JSON.stringify(summarizePlan(moved.plan))}`);

    // The teacher's device sees the removal and rotates (the sync account holds no key); what it writes to 7a after
    // that, the pupil holds no key for.
    await eventually(() => !teacher.state(g7a)!.members.has(moverRef) && teacher.state(g7a)!.removedSince.accounts.length === 0 && ready(teacher, g7a));
    const posted = await teacher.post(g7a, { text: 'Nur für die 7a' });
    await pupil.replica.addOps(g7a, teacher.replica.membershipFor(g7a, []));
    await pupil.idle();
    expect(pupil.canRead(g7a)).toBe(false);
    const entry = (await teacher.replica.bucketEntries(g7a, posted.bucket)).filter((e) => e.author === teacher.deviceId).at(-1)!;
    expect(pupil.keys.has(g7a, entry.epoch)).toBe(false);
    for (const epoch of pupil.keys.epochs(g7a)) await expect(openEntry(entry, (await pupil.keys.aead(g7a, epoch))!)).rejects.toThrow();
    expect((await pupil.messages(g7a)).map((m) => m.text)).not.toContain('Nur für die 7a');
    await eventually(() => ready(pupil, g7c));

    // And again: nothing to do.
    expect(isEmptyPlan((await synchronize(sync, (await readDirectory(config)).directory, state)).plan)).toBe(true);
    console.info(`[directory] 1,500 people: read ${readMs.toFixed(0)} ms; first sync (${first.plan.changes.length} groups, signed ops) ${firstMs.toFixed(0)} ms; unchanged re-sync (read + plan) ${secondMs.toFixed(0)} ms`);
  });

  it('signs in with the LDAP password (also a non-ASCII user name); wrong passwords, injection attempts and odd input are refused', async () => {
    const refusals: LoginRefusal[] = [];
    const auth = new LdapAuthenticator(settings(), { onRefusal: (r) => refusals.push(r) });
    const teacher = school.directory.people.find((p) => p.role === 'teacher' && p.id !== 'jörg.groß')!;
    expect(await auth.authenticate(teacher.id, passwordOf(teacher.id))).toEqual({ account: teacher.id, displayName: teacher.displayName, role: 'teacher' });
    expect(await auth.authenticate('Jörg.Groß', passwordOf('jörg.groß'))).toMatchObject({ account: 'jörg.groß' });
    const parent = school.directory.people.find((p) => p.role === 'parent')!;
    expect(await auth.authenticate(` ${parent.id} `, passwordOf(parent.id))).toMatchObject({ account: parent.id, role: 'parent' });
    expect(await auth.authenticate(teacher.id, 'falsch')).toBeUndefined();
    expect(await auth.authenticate('niemand', 'falsch')).toBeUndefined();
    expect(refusals).toEqual(['wrong-password', 'unknown-user']);

    refusals.length = 0;
    const attempts = [
      '*',
      '*)(uid=*',
      `${teacher.id})(|(uid=*`,
      'admin)(|(uid=*',
      `${teacher.id}*`,
      '*)(|(objectClass=*',
      `${teacher.id}\0`,
      `${teacher.id}\\2a`,
      'x'.repeat(129),
      '',
    ];
    for (const username of attempts) expect(await auth.authenticate(username, passwordOf(teacher.id)), username).toBeUndefined();
    expect(refusals).toEqual(attempts.map(() => 'bad-input'));
    // An empty password would be an unauthenticated bind, which servers accept: refused before any bind.
    refusals.length = 0;
    for (const password of ['', 'a\0b', 'p'.repeat(1025)]) expect(await auth.authenticate(parent.id, password)).toBeUndefined();
    expect(refusals).toEqual(['bad-input', 'bad-input', 'bad-input']);
    // Even without the input check the look-up is not injectable: the value travels as an equality filter object.
    const c = new Client({ url: slapd.url });
    await c.bind(SERVICE_DN, SERVICE_PASSWORD);
    const literal = await c.search(`ou=people,${GENERIC}`, { filter: new EqualityFilter({ attribute: 'uid', value: '*)(uid=*' }), attributes: ['uid'] });
    expect(literal.searchEntries).toEqual([]);
    await c.unbind();
  });

  it('a locked account cannot sign in: ppolicy pwdAccountLockedTime (refused by us and by the server) and sophomorixStatus L', async () => {
    const [a, b] = school.directory.people.filter((p) => p.role === 'pupil').slice(5, 7);
    const refusals: LoginRefusal[] = [];
    const auth = new LdapAuthenticator(settings(), { onRefusal: (r) => refusals.push(r) });
    expect(await auth.authenticate(a!.id, passwordOf(a!.id))).toBeDefined();
    await admin((c) => c.modify(trees.genericDn(a!.id), new Change({ operation: 'add', modification: new Attribute({ type: 'pwdAccountLockedTime', values: ['000001010000Z'] }) })));
    expect(await auth.authenticate(a!.id, passwordOf(a!.id))).toBeUndefined();
    expect(refusals).toEqual(['locked']);
    // Without our lock rule the server still refuses the bind (the ppolicy overlay).
    const lax = new LdapAuthenticator(settings({ people: { locked: [] } }), { onRefusal: (r) => refusals.push(r) });
    expect(await lax.authenticate(a!.id, passwordOf(a!.id))).toBeUndefined();
    expect(refusals).toEqual(['locked', 'wrong-password']);
    // The sync still lists the person (a lock may be temporary) and marks them.
    expect((await readDirectory(generic())).directory.people.find((p) => p.id === a!.id)!.locked).toBe(true);

    const lmn = new LdapAuthenticator(settings({ preset: { name: 'linuxmuster', base: LMN_BASE } }), { onRefusal: (r) => refusals.push(r) });
    expect(await lmn.authenticate(b!.id, passwordOf(b!.id))).toMatchObject({ account: b!.id, role: 'pupil' });
    await admin((c) => c.modify(trees.lmnDn(b!.id), new Change({ operation: 'replace', modification: new Attribute({ type: 'sophomorixStatus', values: ['L'] }) })));
    expect(await lmn.authenticate(b!.id, passwordOf(b!.id))).toBeUndefined();
    expect(refusals.at(-1)).toBe('locked');
  });

  it('repeated failures are rate-limited per user name and per address, also for the right password, until the window ends', async () => {
    let now = Date.UTC(2026, 8, 1);
    const auth = new LdapAuthenticator(settings({ login: { maxFailuresPerUser: 5, maxFailuresPerAddress: 8, windowSeconds: 300 } }), { clock: () => now });
    const [victim, other, third] = school.directory.people.filter((p) => p.role === 'teacher').slice(10, 13);
    for (let i = 0; i < 5; i++) expect(await auth.authenticate(victim!.id, `rate-${i}`, { address: '10.0.0.1' })).toBeUndefined();
    await expect(auth.authenticate(victim!.id, passwordOf(victim!.id), { address: '10.0.0.2' })).rejects.toBeInstanceOf(TooManyAttemptsError);
    await expect(auth.authenticate(victim!.id.toUpperCase(), passwordOf(victim!.id), { address: '10.0.0.2' })).rejects.toMatchObject({ code: 'too-many-attempts' });
    // Other people are not affected by the victim's lock-out.
    expect(await auth.authenticate(other!.id, passwordOf(other!.id), { address: '10.0.0.3' })).toBeDefined();
    // One address guessing many names: after 8 failures it is refused, for any name.
    for (let i = 0; i < 3; i++) expect(await auth.authenticate(`guess${i}`, 'x', { address: '10.0.0.1' })).toBeUndefined();
    await expect(auth.authenticate(third!.id, passwordOf(third!.id), { address: '10.0.0.1' })).rejects.toBeInstanceOf(TooManyAttemptsError);
    expect(await auth.authenticate(third!.id, passwordOf(third!.id), { address: '10.0.0.4' })).toBeDefined();
    now += 301_000;
    expect(await auth.authenticate(victim!.id, passwordOf(victim!.id), { address: '10.0.0.1' })).toMatchObject({ account: victim!.id });
  });

  it('LDAPS and StartTLS work with the school’s certificate; without it, and in clear text without consent, nothing is sent', async () => {
    const ldaps = generic({ url: slapd.ldapsUrl, allowPlaintext: false, tls: { ca: slapd.certificate } });
    const startTls = generic({ startTls: true, allowPlaintext: false, tls: { ca: slapd.certificate } });
    const people = (await readDirectory(generic())).stats.people;
    for (const config of [ldaps, startTls]) {
      const { stats } = await readDirectory(config);
      expect(stats.people).toBe(people);
      const p = school.directory.people[42]!;
      expect(await new LdapAuthenticator(config).authenticate(p.id, passwordOf(p.id))).toMatchObject({ account: p.id });
    }
    await expect(readDirectory(generic({ url: slapd.ldapsUrl, allowPlaintext: false }))).rejects.toThrow(/certificate/i);
    await expect(readDirectory(generic({ startTls: true, allowPlaintext: false }))).rejects.toThrow(/certificate/i);
    const p = school.directory.people[43]!;
    await expect(new LdapAuthenticator(generic({ url: slapd.ldapsUrl, allowPlaintext: false })).authenticate(p.id, passwordOf(p.id))).rejects.toThrow(/certificate/i);
    expect(() => resolveLdapConfig(settings({ allowPlaintext: false }))).toThrow(/clear text/);
  });
});
