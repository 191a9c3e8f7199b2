/**
 * A generated school of about 1,500 people (seeded, the same on every run): pupils in classes 5a–10d and Q1/Q2,
 * teachers with two subjects each, class teachers, department heads, clubs with leaders, parents with one or two
 * children, staff. Names carry umlauts, ß, and characters that need DN escaping (`Müller, Jörg`, `O'Brien`,
 * `Groß+Klein`, `#`, `;`, `\`, `<>`, `"`, `=`). The same school is written as LDIF in three shapes: plain
 * inetOrgPerson/groupOfNames, linuxmuster.net-like (sophomorix attributes on AD-like objects) and UCS@school-like.
 */
import { createHash, randomBytes } from 'node:crypto';
import { prng } from '../../../../test/support/prng.ts';
import { type Directory, type DirectoryInput, type Person, buildDirectory, escapeDnValue } from '../../src/index.ts';

export const SUFFIX = 'dc=schule,dc=test';
export const GENERIC = `ou=generic,${SUFFIX}`;
export const LMN_BASE = `OU=SCHOOLS,${SUFFIX}`;
export const LMN_SCHOOL = 'default-school';
export const UCS_SCHOOL = 'gym1';
export const SERVICE_DN = `cn=sync,ou=services,${SUFFIX}`;
export const LIMITED_SERVICE_DN = `cn=sync-limited,ou=services,${SUFFIX}`;
export const SERVICE_PASSWORD = 'Sync-Passwort-2026';

export const passwordOf = (id: string) => `Geheim-${id}-42`;

const GIVEN = [
  'Jörg', 'Jürgen', 'Björn', 'Sören', 'Zoë', 'Ayşe', 'Gülşen', 'Özlem', 'Ümit', 'Chloé', 'Anaïs', 'Jérôme', 'Léa', 'Mia', 'Ben', 'Emma',
  'Noah', 'Hannah', 'Elias', 'Lina', 'Paul', 'Marie', 'Luca', 'Sophie', 'Finn', 'Emilia', 'Jonas', 'Ida', 'Maximilian', 'Clara', 'Käthe',
  'Małgorzata', 'Łukasz', 'Dragoș', 'Fränzi', 'Mehmet', 'Leonie', 'Tim', 'Greta', 'Oskar',
];
const SURNAMES = [
  'Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Schulz', 'Hoffmann', 'Schäfer', 'Koch', 'Bauer',
  'Richter', 'Klein', 'Wolf', 'Schröder', 'Neumann', 'Schwarz', 'Zimmermann', 'Braun', 'Krüger', 'Hofmann', 'Hartmann', 'Lange', 'Werner',
  'Krause', 'Lehmann', 'Groß', 'Weiß', 'Öztürk', 'Yılmaz', 'Kowalski', 'Nguyễn', 'Böhm', 'Jäger', 'Förster', 'Müller-Lüdenscheidt',
  'von der Heide', 'Straßburger',
];
/** Surnames that need DN escaping; each is used at least once, early. */
export const ODD_SURNAMES = ["O'Brien", 'Groß+Klein', 'Semi;Kolon', 'Back\\slash', '#Hashtag', 'Kleiner<Größer>', 'Anführungs"zeichen', 'Gleich=heit'];
const SUBJECTS = ['Mathematik', 'Deutsch', 'Englisch', 'Französisch', 'Latein', 'Physik', 'Chemie', 'Biologie', 'Geschichte', 'Erdkunde', 'Kunst', 'Musik', 'Sport', 'Religion', 'Informatik'];
const CLUBS: [string, string][] = [
  ['theater', 'Theater-AG'],
  ['chor', 'Schulchor'],
  ['bigband', 'Big Band'],
  ['robotik', 'Robotik'],
  ['schach', 'Schach'],
  ['jufo', 'Jugend forscht, Physik'],
  ['fussball', 'Fußball (Mädchen)'],
  ['zeitung', 'Schülerzeitung „Blickpunkt“'],
  ['garten', 'Garten & Natur'],
  ['streit', 'Streitschlichtung'],
  ['imkerei', 'Imkerei'],
  ['basteln', 'Programmieren+Basteln'],
  ['austausch', 'Französisch-Austausch'],
  ['sani', 'Erste Hilfe'],
];

export function fold(s: string): string {
  return s
    .toLowerCase()
    .replace(/ä/g, 'ae')
    .replace(/ö/g, 'oe')
    .replace(/ü/g, 'ue')
    .replace(/ß/g, 'ss')
    .replace(/ł/g, 'l')
    .replace(/ı/g, 'i')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '');
}

export interface School {
  directory: Directory;
  /** The cn (the RDN value) of each person in the plain tree: `Müller, Jörg`. */
  cn: Map<string, string>;
}

export function generateSchool(seed = 2026, total = 1500): School {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const people: DirectoryInput['people'] = [];
  const ids = new Set<string>();
  const cns = new Set<string>();
  const cn = new Map<string, string>();
  let odd = 0;
  const person = (role: Person['role'], extra: Partial<DirectoryInput['people'][number]> = {}) => {
    const givenName = people.length <= 1 ? 'Jörg' : pick(GIVEN);
    const surname = people.length === 0 ? 'Müller' : people.length === 1 ? 'Groß' : odd < ODD_SURNAMES.length && people.length % 7 === 3 ? ODD_SURNAMES[odd++]! : pick(SURNAMES);
    // One account id with umlauts and ß (a login name that is not ASCII); the rest folded to ASCII.
    let id = people.length === 1 ? 'jörg.groß' : `${fold(givenName)}.${fold(surname)}`;
    for (let n = 2; ids.has(id); n++) id = `${fold(givenName)}.${fold(surname)}${n}`;
    ids.add(id);
    let name = `${surname}, ${givenName}`;
    for (let n = 2; cns.has(name.toLowerCase()); n++) name = `${surname}, ${givenName} ${n}`;
    cns.add(name.toLowerCase());
    cn.set(id, name);
    const p = { id, givenName, surname, role, ...extra };
    people.push(p);
    return p;
  };

  const classes: string[] = [];
  for (let grade = 5; grade <= 10; grade++) for (const letter of 'abcd') classes.push(`${grade}${letter}`);
  classes.push('Q1', 'Q2');
  const teachers = Array.from({ length: 80 }, () => person('teacher'));
  const pupils: DirectoryInput['people'] = [];
  for (const c of classes) {
    const size = c.startsWith('Q') ? int(55, 65) : int(26, 30);
    for (let i = 0; i < size; i++) pupils.push(person('pupil', { class: c }));
  }
  for (let i = 0; i < 8; i++) person('staff');
  for (let i = 0; i < 2; i++) person('admin');
  const parentsNeeded = total - people.length;
  for (let i = 0; i < parentsNeeded; i++) {
    const first = pick(pupils);
    const children = [first.id];
    if (random() < 0.2) {
      const sibling = pick(pupils);
      if (sibling.id !== first.id) children.push(sibling.id);
    }
    person('parent', { children });
  }

  // Subjects: two per teacher; the first teacher of a subject heads its department.
  const subjectTeachers = new Map<string, string[]>();
  for (const t of teachers) {
    const a = pick(SUBJECTS);
    let b = pick(SUBJECTS);
    while (b === a) b = pick(SUBJECTS);
    for (const s of [a, b]) subjectTeachers.set(s, [...(subjectTeachers.get(s) ?? []), t.id]);
  }
  // Class teachers: one or two per class.
  const classTeachers = new Map<string, string[]>();
  for (const c of classes) {
    const chosen = new Set([pick(teachers).id]);
    if (random() < 0.4) chosen.add(pick(teachers).id);
    classTeachers.set(c, [...chosen]);
  }
  // Clubs: one or two teacher leaders, 8–25 pupils.
  const clubs: NonNullable<DirectoryInput['clubs']> = [];
  for (const [id, name] of CLUBS) {
    const leaders = new Set([pick(teachers).id]);
    if (random() < 0.3) leaders.add(pick(teachers).id);
    const members = new Set<string>();
    const n = int(8, 25);
    while (members.size < n) members.add(pick(pupils).id);
    clubs.push({ id, name, members: [...members], leaders: [...leaders] });
  }
  const { directory, problems } = buildDirectory({
    people,
    classes: classes.map((name) => ({ name, teachers: classTeachers.get(name)! })),
    departments: SUBJECTS.filter((s) => subjectTeachers.has(s)).map((s) => ({ id: fold(s), name: s, members: subjectTeachers.get(s)!, heads: [subjectTeachers.get(s)![0]!] })),
    clubs,
  });
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return { directory, cn };
}

/** Runs a directory through buildDirectory again (after edits), so that lists are sorted and derived fields fresh. */
export function rebuild(d: Directory): Directory {
  const { directory, problems } = buildDirectory({
    ...(d.schoolYear ? { schoolYear: d.schoolYear } : {}),
    people: d.people.map((p) => {
      const out: DirectoryInput['people'][number] = { id: p.id, givenName: p.givenName, surname: p.surname, displayName: p.displayName, role: p.role, children: p.children, locked: p.locked };
      if (p.class) out.class = p.class;
      return out;
    }),
    classes: d.classes,
    departments: d.departments,
    clubs: d.clubs,
  });
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return directory;
}

// ------------------------------------------------------------------ LDIF

type Attrs = Record<string, string | string[] | undefined>;

function ldifValue(name: string, value: string): string {
  // RFC 2849 SAFE-STRING: ASCII without NUL, LF, CR; not starting with space, ":" or "<"; we also avoid a trailing space.
  const codes = [...value].map((c) => c.codePointAt(0)!);
  const safe = codes.every((c) => c >= 1 && c <= 0x7f && c !== 0x0a && c !== 0x0d) && ![0x20, 0x3a, 0x3c].includes(codes[0] ?? 0) && !value.endsWith(' ');
  return safe ? `${name}: ${value}` : `${name}:: ${Buffer.from(value, 'utf8').toString('base64')}`;
}

export function ldifEntry(dn: string, attrs: Attrs): string {
  const lines = [ldifValue('dn', dn)];
  for (const [name, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    for (const value of Array.isArray(v) ? v : [v]) lines.push(ldifValue(name, value));
  }
  return `${lines.join('\n')}\n\n`;
}

export function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** Hex-escapes every non-ASCII byte and special of a DN value: another valid spelling of the same DN. */
function hexDnValue(value: string): string {
  return [...Buffer.from(value, 'utf8')].map((b) => (b < 0x80 && /[A-Za-z0-9 ]/.test(String.fromCharCode(b)) && b !== 0x20 ? String.fromCharCode(b) : `\\${b.toString(16).padStart(2, '0')}`)).join('');
}

export interface Trees {
  ldif: string;
  genericDn: (id: string) => string;
  lmnDn: (id: string) => string;
  ucsDn: (id: string) => string;
}

export function writeTrees(school: School): Trees {
  const d = school.directory;
  const hash = new Map(d.people.map((p) => [p.id, ssha(passwordOf(p.id))]));
  const out: string[] = [];
  const e = (dn: string, attrs: Attrs) => out.push(ldifEntry(dn, attrs));
  const ou = (dn: string, name: string) => e(dn, { objectClass: 'organizationalUnit', ou: name });

  e(SUFFIX, { objectClass: ['dcObject', 'organization'], dc: 'schule', o: 'Gesamtschule Nord' });
  ou(`ou=services,${SUFFIX}`, 'services');
  e(SERVICE_DN, { objectClass: ['organizationalRole', 'simpleSecurityObject'], cn: 'sync', userPassword: ssha(SERVICE_PASSWORD) });
  e(LIMITED_SERVICE_DN, { objectClass: ['organizationalRole', 'simpleSecurityObject'], cn: 'sync-limited', userPassword: ssha(SERVICE_PASSWORD) });
  ou(`ou=policies,${SUFFIX}`, 'policies');
  e(`cn=default,ou=policies,${SUFFIX}`, { objectClass: ['device', 'pwdPolicy'], cn: 'default', pwdAttribute: 'userPassword', pwdMaxFailure: '50', pwdLockout: 'TRUE' });

  // Plain inetOrgPerson / groupOfNames.
  ou(GENERIC, 'generic');
  for (const o of ['people', 'classes', 'departments', 'clubs']) ou(`ou=${o},${GENERIC}`, o);
  const genericDn = (id: string) => `cn=${escapeDnValue(school.cn.get(id)!)},ou=people,${GENERIC}`;
  // Other spellings of the same DN in references: hex pairs and upper-case types, as other tools write them.
  const genericRef = (id: string, k: number) => (k % 2 === 0 ? genericDn(id) : `CN=${hexDnValue(school.cn.get(id)!)},OU=People,${GENERIC.toUpperCase()}`);
  const roleWord: Record<string, string[]> = { pupil: ['pupil', 'Schüler', 'student'], teacher: ['teacher', 'Lehrerin', 'Lehrer'], parent: ['parent', 'Eltern'], staff: ['staff'], admin: ['admin'] };
  d.people.forEach((p, k) => {
    e(genericDn(p.id), {
      objectClass: 'inetOrgPerson',
      cn: school.cn.get(p.id)!,
      uid: p.id,
      givenName: p.givenName,
      sn: p.surname,
      displayName: p.displayName,
      employeeType: roleWord[p.role]![k % roleWord[p.role]!.length]!,
      mail: `${p.id}@schule.test`,
      userPassword: hash.get(p.id)!,
      seeAlso: p.children.length > 0 ? p.children.map((c, j) => genericRef(c, k + j)) : undefined,
    });
  });
  const pupilsOf = (c: string) => d.people.filter((p) => p.class === c).map((p) => p.id);
  d.classes.forEach((c, k) => {
    const members = pupilsOf(c.name);
    e(`cn=${escapeDnValue(c.name)},ou=classes,${GENERIC}`, {
      objectClass: 'groupOfNames',
      cn: c.name,
      member: members.length > 0 ? members.map((m, j) => genericRef(m, k + j)) : [genericDn(c.teachers[0]!)],
      owner: c.teachers.map((t) => genericDn(t)),
    });
  });
  for (const dep of d.departments) {
    e(`cn=${escapeDnValue(dep.id)},ou=departments,${GENERIC}`, { objectClass: 'groupOfNames', cn: dep.id, description: dep.name, member: dep.members.map(genericDn), owner: dep.heads.map(genericDn) });
  }
  for (const club of d.clubs) {
    e(`cn=${escapeDnValue(club.id)},ou=clubs,${GENERIC}`, { objectClass: 'groupOfNames', cn: club.id, description: club.name, member: club.members.map(genericDn), owner: club.leaders.map(genericDn) });
  }

  // linuxmuster.net-like: AD-style users and groups with sophomorix attributes.
  const lmnOu = `OU=${LMN_SCHOOL},${LMN_BASE}`;
  ou(LMN_BASE, 'SCHOOLS');
  ou(lmnOu, LMN_SCHOOL);
  const sub = { pupil: 'Students', teacher: 'Teachers', parent: 'Parents', staff: 'Staff', admin: 'Management' } as const;
  for (const s of [...Object.values(sub), 'Groups', 'Devices']) ou(`OU=${s},${lmnOu}`, s);
  const lmnDn = (id: string) => `CN=${escapeDnValue(id)},OU=${sub[d.people.find((p) => p.id === id)!.role]},${lmnOu}`;
  const sophomorixRole = { pupil: 'student', teacher: 'teacher', parent: 'parent', staff: 'staff', admin: 'schooladministrator' } as const;
  for (const p of d.people) {
    e(lmnDn(p.id), {
      objectClass: 'user',
      cn: p.id,
      sAMAccountName: p.id,
      givenName: p.givenName,
      sn: p.surname,
      displayName: p.displayName,
      sophomorixRole: sophomorixRole[p.role],
      sophomorixAdminClass: p.role === 'pupil' ? p.class! : p.role === 'teacher' ? 'teachers' : undefined,
      sophomorixStatus: 'U',
      userAccountControl: '512',
      accountExpires: '9223372036854775807',
      userPassword: hash.get(p.id)!,
      seeAlso: p.children.length > 0 ? p.children.map(lmnDn) : undefined,
    });
  }
  // Not people of the school: a computer account (AD computers are users too) and a pupil about to be removed.
  e(`CN=PC-R101,OU=Devices,${lmnOu}`, { objectClass: 'computer', cn: 'PC-R101', sn: 'PC-R101', sAMAccountName: 'pc-r101$', sophomorixRole: 'student' });
  e(`CN=abgang,OU=Students,${lmnOu}`, { objectClass: 'user', cn: 'abgang', sn: 'Abgang', sAMAccountName: 'abgang', sophomorixRole: 'student', sophomorixStatus: 'R', sophomorixAdminClass: '5a' });
  for (const c of d.classes) {
    e(`CN=${escapeDnValue(c.name)},OU=Groups,${lmnOu}`, { objectClass: 'group', cn: c.name, sophomorixType: 'adminclass', member: pupilsOf(c.name).map(lmnDn), sophomorixAdmins: c.teachers });
  }
  e(`CN=teachers,OU=Groups,${lmnOu}`, { objectClass: 'group', cn: 'teachers', sophomorixType: 'teacherclass', member: d.people.filter((p) => p.role === 'teacher').map((p) => lmnDn(p.id)) });
  for (const dep of d.departments) {
    e(`CN=p_fs_${dep.id},OU=Groups,${lmnOu}`, { objectClass: 'group', cn: `p_fs_${dep.id}`, displayName: dep.name, sophomorixType: 'project', sophomorixMembers: dep.members, sophomorixAdmins: dep.heads });
  }
  for (const club of d.clubs) {
    e(`CN=p_ag_${club.id},OU=Groups,${lmnOu}`, { objectClass: 'group', cn: `p_ag_${club.id}`, displayName: club.name, sophomorixType: 'project', sophomorixMembers: club.members, sophomorixAdmins: club.leaders });
  }

  // UCS@school-like.
  const ucsOu = `ou=${UCS_SCHOOL},${SUFFIX}`;
  ou(ucsOu, UCS_SCHOOL);
  e(`cn=users,${ucsOu}`, { objectClass: 'organizationalRole', cn: 'users' });
  e(`cn=groups,${ucsOu}`, { objectClass: 'organizationalRole', cn: 'groups' });
  e(`cn=klassen,cn=groups,${ucsOu}`, { objectClass: 'organizationalRole', cn: 'klassen' });
  e(`cn=schueler,cn=groups,${ucsOu}`, { objectClass: 'organizationalRole', cn: 'schueler' });
  const ucsDn = (id: string) => `uid=${escapeDnValue(id)},cn=users,${ucsOu}`;
  const ucsRole = { pupil: 'student', teacher: 'teacher', parent: 'legal_guardian', staff: 'staff', admin: 'school_admin' } as const;
  for (const p of d.people) {
    e(ucsDn(p.id), {
      objectClass: ['inetOrgPerson', 'ucsschoolType'],
      uid: p.id,
      cn: p.displayName,
      givenName: p.givenName,
      sn: p.surname,
      displayName: p.displayName,
      ucsschoolSchool: UCS_SCHOOL,
      ucsschoolRole: `${ucsRole[p.role]}:school:${UCS_SCHOOL}`,
      ucsschoolLegalWard: p.children.length > 0 ? p.children.map(ucsDn) : undefined,
      sambaAcctFlags: '[U          ]',
      userPassword: hash.get(p.id)!,
    });
  }
  e(`uid=fremd,cn=users,${ucsOu}`, { objectClass: ['inetOrgPerson', 'ucsschoolType'], uid: 'fremd', cn: 'Fremd', sn: 'Fremd', ucsschoolSchool: 'gym2', ucsschoolRole: 'student:school:gym2' });
  for (const c of d.classes) {
    e(`cn=${UCS_SCHOOL}-${escapeDnValue(c.name)},cn=klassen,cn=groups,${ucsOu}`, {
      objectClass: ['groupOfUniqueNames', 'ucsschoolType'],
      cn: `${UCS_SCHOOL}-${c.name}`,
      ucsschoolRole: `school_class:school:${UCS_SCHOOL}`,
      uniqueMember: [...pupilsOf(c.name), ...c.teachers].map(ucsDn),
    });
  }
  const workgroup = (kind: string, id: string, name: string, members: string[]) =>
    e(`cn=${UCS_SCHOOL}-${kind}-${escapeDnValue(id)},cn=schueler,cn=groups,${ucsOu}`, {
      objectClass: ['groupOfUniqueNames', 'ucsschoolType'],
      cn: `${UCS_SCHOOL}-${kind}-${id}`,
      description: name,
      ucsschoolRole: `workgroup:school:${UCS_SCHOOL}`,
      uniqueMember: members.map(ucsDn),
    });
  for (const dep of d.departments) workgroup('fs', dep.id, dep.name, dep.members);
  for (const club of d.clubs) workgroup('ag', club.id, club.name, club.members);

  return { ldif: out.join(''), genericDn, lmnDn, ucsDn };
}
