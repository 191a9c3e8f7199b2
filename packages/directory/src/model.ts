/**
 * The normalized school directory: who is in the school, in which role, which class, department and club. Every
 * source (LDAP with any preset, CSV) is turned into this one shape; group planning works on it alone.
 */
import { type Role, isRole } from '@schoolmesh/model';

export interface Person {
  /** The account id (LDAP uid / sAMAccountName, CSV "id"); unique in the school, used in `id@school`. */
  id: string;
  givenName: string;
  surname: string;
  displayName: string;
  role: Role;
  /** Pupils: the class they are in. Empty for everyone else (a class teacher is listed on the class). */
  class?: string;
  /** Ids of the departments and clubs the person is in (derived from those; sorted). */
  groups: string[];
  /** Ids of the person's children (parents). */
  children: string[];
  /** Sign-in is refused. Group membership is kept: a lock may be temporary (ppolicy lockout after failures). */
  locked: boolean;
}

export interface SchoolClass {
  /** As the school writes it: `7a`, `10b`, `Q1`. */
  name: string;
  /** Class teachers (Klassenleitung). */
  teachers: string[];
}

/** A subject department (Fachschaft): its teachers, heads among them. */
export interface Department {
  id: string;
  name: string;
  members: string[];
  heads: string[];
}

/** A club (AG): members, and leaders among them. */
export interface Club {
  id: string;
  name: string;
  members: string[];
  leaders: string[];
}

export interface Directory {
  /** For example `2026/27`. Class groups belong to a school year: a new year forms new class groups. */
  schoolYear?: string;
  people: Person[];
  classes: SchoolClass[];
  departments: Department[];
  clubs: Club[];
}

/** What a source delivers: memberships may be given on the person's side, on the group's side, or both. */
export interface PersonInput {
  id: string;
  givenName?: string;
  surname?: string;
  displayName?: string;
  role: Role;
  class?: string;
  /** Classes this person leads (teachers). */
  classTeacherOf?: string[];
  departments?: string[];
  clubs?: string[];
  children?: string[];
  locked?: boolean;
}

export interface DirectoryInput {
  schoolYear?: string;
  people: PersonInput[];
  classes?: { name: string; teachers?: string[] }[];
  departments?: { id?: string; name: string; members?: string[]; heads?: string[] }[];
  clubs?: { id?: string; name: string; members?: string[]; leaders?: string[] }[];
}

/** The account ids the relay accepts (the same rule as enrollment's `checkAccount`). */
export const ACCOUNT_ID = /^[\p{L}\p{N}._-]{1,64}$/u;
const SCHOOL_YEAR = /^[^:\s][^:]{0,19}$/;
const MAX_NAME = 200;

const collator = new Intl.Collator('de', { numeric: true, sensitivity: 'variant' });
/** Natural, German order: `5a` before `10a`, `Müller` next to `Muller`. Ties broken by code units, so it is total. */
export function compareNatural(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort(compareNatural);
}

function clean(value: string | undefined): string {
  return (value ?? '').normalize('NFC').replace(/\s+/g, ' ').trim();
}


/**
 * Builds the normalized directory: trims and NFC-normalizes names, merges memberships from both sides, drops
 * references to unknown people, sorts everything. `problems` lists what was dropped and why (a sync logs them; the
 * CSV import turns its own into line errors before it gets here).
 */
export function buildDirectory(input: DirectoryInput): { directory: Directory; problems: string[] } {
  const problems: string[] = [];
  const people = new Map<string, PersonInput & { id: string }>();
  for (const raw of input.people) {
    const id = clean(raw.id);
    if (!ACCOUNT_ID.test(id)) {
      problems.push(`person "${raw.id}": an id has 1–64 letters, digits, ".", "_" or "-"`);
      continue;
    }
    if (!isRole(raw.role)) {
      problems.push(`person ${id}: unknown role "${String(raw.role)}"`);
      continue;
    }
    if (people.has(id)) {
      problems.push(`person ${id}: listed twice; the first is kept`);
      continue;
    }
    people.set(id, { ...raw, id });
  }
  const known = (who: string, where: string): boolean => {
    if (people.has(who)) return true;
    problems.push(`${where}: unknown person "${who}"`);
    return false;
  };

  // Classes: named by pupils, by class teachers, or listed.
  const classes = new Map<string, Set<string>>();
  const classOf = (name: string) => {
    const n = clean(name);
    let set = classes.get(n);
    if (!set) {
      set = new Set();
      classes.set(n, set);
    }
    return set;
  };
  for (const c of input.classes ?? []) {
    if (!clean(c.name)) continue;
    const teachers = classOf(c.name);
    for (const t of c.teachers ?? []) if (known(clean(t), `class ${clean(c.name)}`)) teachers.add(clean(t));
  }
  for (const p of people.values()) {
    for (const c of p.classTeacherOf ?? []) if (clean(c)) classOf(c).add(p.id);
    if (p.role === 'pupil' && clean(p.class)) classOf(p.class!);
  }
  for (const [name, teachers] of classes) {
    for (const t of [...teachers]) {
      const role = people.get(t)?.role;
      if (role === 'pupil' || role === 'parent') {
        problems.push(`class ${name}: ${t} is a ${role}, not a class teacher`);
        teachers.delete(t);
      }
    }
  }

  // Departments and clubs: keyed by id (default: the name).
  type Circle = { id: string; name: string; members: Set<string>; leads: Set<string> };
  const circles = (kind: 'department' | 'club') => {
    const map = new Map<string, Circle>();
    const list = kind === 'department' ? input.departments : input.clubs;
    for (const g of list ?? []) {
      const name = clean(g.name).slice(0, MAX_NAME);
      const id = clean(g.id) || name;
      if (!id) continue;
      let c = map.get(id);
      if (!c) {
        c = { id, name: name || id, members: new Set(), leads: new Set() };
        map.set(id, c);
      }
      const leads = kind === 'department' ? (g as { heads?: string[] }).heads : (g as { leaders?: string[] }).leaders;
      for (const m of g.members ?? []) if (known(clean(m), `${kind} ${id}`)) c.members.add(clean(m));
      for (const m of leads ?? []) if (known(clean(m), `${kind} ${id}`)) c.leads.add(clean(m));
    }
    for (const p of people.values()) {
      for (const g of (kind === 'department' ? p.departments : p.clubs) ?? []) {
        const id = clean(g);
        if (!id) continue;
        let c = map.get(id);
        if (!c) {
          c = { id, name: id, members: new Set(), leads: new Set() };
          map.set(id, c);
        }
        c.members.add(p.id);
      }
    }
    for (const c of map.values()) for (const l of c.leads) c.members.add(l);
    return map;
  };
  const departments = circles('department');
  const clubs = circles('club');

  const groupsOf = new Map<string, string[]>();
  for (const c of [...departments.values(), ...clubs.values()]) {
    for (const m of c.members) groupsOf.set(m, [...(groupsOf.get(m) ?? []), c.id]);
  }

  const out: Person[] = [];
  for (const p of people.values()) {
    const givenName = clean(p.givenName).slice(0, MAX_NAME);
    const surname = clean(p.surname).slice(0, MAX_NAME);
    const displayName = (clean(p.displayName) || clean(`${givenName} ${surname}`) || p.id).slice(0, MAX_NAME);
    const children: string[] = [];
    for (const c of p.children ?? []) {
      const child = clean(c);
      if (child === p.id) problems.push(`person ${p.id}: cannot be their own child`);
      else if (known(child, `children of ${p.id}`)) children.push(child);
    }
    const person: Person = {
      id: p.id,
      givenName,
      surname,
      displayName,
      role: p.role,
      groups: sortedUnique(groupsOf.get(p.id) ?? []),
      children: sortedUnique(children),
      locked: p.locked === true,
    };
    if (p.role === 'pupil') {
      const c = clean(p.class);
      if (c) person.class = c;
    }
    out.push(person);
  }
  out.sort((a, b) => compareNatural(a.id, b.id));

  const directory: Directory = {
    people: out,
    classes: [...classes]
      .map(([name, teachers]) => ({ name, teachers: sortedUnique(teachers) }))
      .sort((a, b) => compareNatural(a.name, b.name)),
    departments: [...departments.values()]
      .map((c) => ({ id: c.id, name: c.name, members: sortedUnique(c.members), heads: sortedUnique(c.leads) }))
      .sort((a, b) => compareNatural(a.id, b.id)),
    clubs: [...clubs.values()]
      .map((c) => ({ id: c.id, name: c.name, members: sortedUnique(c.members), leaders: sortedUnique(c.leads) }))
      .sort((a, b) => compareNatural(a.id, b.id)),
  };
  const year = clean(input.schoolYear);
  if (year) {
    if (SCHOOL_YEAR.test(year)) directory.schoolYear = year;
    else problems.push(`school year "${year}": up to 20 characters, no ":"`);
  }
  return { directory, problems };
}

/** The school year a date falls in, with the German change on 1 August: `2026/27` from 2026-08-01. */
export function schoolYearOf(time: number): string {
  const d = new Date(time);
  const start = d.getUTCMonth() >= 7 ? d.getUTCFullYear() : d.getUTCFullYear() - 1;
  return `${start}/${String((start + 1) % 100).padStart(2, '0')}`;
}

/** Index helpers for consumers (the web app's directory view, parent → teachers). */
export function indexPeople(directory: Directory): Map<string, Person> {
  return new Map(directory.people.map((p) => [p.id, p]));
}

/**
 * The teachers a parent may write to under the default school policy: the class teachers of their children's
 * classes. The web app offers these first; `mayDirectMessage` in @schoolmesh/model still decides.
 */
export function teachersOfParent(directory: Directory, parentId: string): string[] {
  const people = indexPeople(directory);
  const parent = people.get(parentId);
  if (!parent) return [];
  const classes = new Set(parent.children.map((c) => people.get(c)?.class).filter((c): c is string => !!c));
  return sortedUnique(directory.classes.filter((c) => classes.has(c.name)).flatMap((c) => c.teachers));
}
