/**
 * Reads the whole school directory from LDAP with the service account: people, then classes, departments and
 * clubs, each with a paged search. A sync reads everything every time and lets planSync apply only the
 * difference: change-tracking searches (`modifyTimestamp>=…`) cannot see deletions, and a school of 1,500 people
 * is read in well under a second (see the README for figures).
 */
import type { Entry } from 'ldapts';
import { type DnError, dnKey } from '../escape.ts';
import { type Directory, type DirectoryInput, type PersonInput, buildDirectory } from '../model.ts';
import type { GroupMapping, LdapConfig, Reference } from './config.ts';
import { completeRanges, first, isLocked, pagedSearch, peopleAttributes, roleOf, serviceClient, values } from './connection.ts';

export interface ReadStats {
  people: number;
  skipped: number;
  groups: number;
  pages: number;
  /** Follow-up requests for ranged attributes (Active Directory's groups of more than 1,500 members). */
  rangeRequests: number;
  ms: number;
}

export interface ReadResult {
  directory: Directory;
  /** Entries left out or references dropped, and why (for the sync log). */
  problems: string[];
  stats: ReadStats;
}

const strip = (value: string, prefix: string | undefined) => (prefix && value.startsWith(prefix) ? value.slice(prefix.length) : value);

export async function readDirectory(config: LdapConfig, options: { now?: number } = {}): Promise<ReadResult> {
  const started = performance.now();
  const now = options.now ?? Date.now();
  const problems: string[] = [];
  const stats: ReadStats = { people: 0, skipped: 0, groups: 0, pages: 0, rangeRequests: 0, ms: 0 };
  const client = await serviceClient(config);
  try {
    const people = new Map<string, PersonInput & { childRefs: string[] }>();
    const byDn = new Map<string, string>();
    const p = config.people;
    stats.pages += await pagedSearch(client, config, p.base, p.scope, p.filter, peopleAttributes(p), (entries) => {
      for (const entry of entries) {
        const id = first(entry, p.id).trim();
        if (!id) {
          problems.push(`${entry.dn}: no ${p.id}`);
          stats.skipped++;
          continue;
        }
        const role = roleOf(entry, p);
        if (!role) {
          stats.skipped++;
          continue;
        }
        const person: PersonInput & { childRefs: string[] } = {
          id,
          givenName: first(entry, p.givenName),
          surname: first(entry, p.surname),
          role,
          locked: isLocked(entry, p.locked, now),
          childRefs: p.children ? values(entry, p.children.attribute) : [],
        };
        const display = first(entry, p.displayName);
        if (display) person.displayName = display;
        const klass = strip(first(entry, p.class).trim(), config.classes?.stripPrefix);
        if (klass && role === 'pupil') person.class = klass;
        if (people.has(id)) {
          problems.push(`${entry.dn}: ${p.id} "${id}" is used twice; the first is kept`);
          stats.skipped++;
          continue;
        }
        people.set(id, person);
        try {
          byDn.set(dnKey(entry.dn), id);
        } catch (error) {
          problems.push(`${entry.dn}: ${(error as DnError).message}`);
        }
      }
    });

    const resolve = (entry: Entry, refs: readonly Reference[], where: string): string[] => {
      const out: string[] = [];
      for (const ref of refs) {
        for (const v of values(entry, ref.attribute)) {
          if (ref.kind === 'id') {
            if (people.has(v)) out.push(v);
            continue;
          }
          let key: string;
          try {
            key = dnKey(v);
          } catch {
            problems.push(`${where}: not a DN in ${ref.attribute}: ${v}`);
            continue;
          }
          const id = byDn.get(key);
          // Other members (nested groups, computers, people outside the school's filter) are not ours.
          if (id) out.push(id);
        }
      }
      return out;
    };

    for (const person of people.values()) {
      if (!p.children || person.childRefs.length === 0) continue;
      const fake = { dn: '', [p.children.attribute]: person.childRefs } as Entry;
      person.children = resolve(fake, [p.children], `children of ${person.id}`);
    }

    const input: DirectoryInput = { people: [], classes: [], departments: [], clubs: [] };
    if (config.schoolYear) input.schoolYear = config.schoolYear;
    const readGroups = async (mapping: GroupMapping, each: (id: string, name: string, members: string[], leaders: string[]) => void) => {
      const attributes = [...new Set([mapping.id, mapping.name, ...mapping.members.map((m) => m.attribute), ...mapping.leaders.map((m) => m.attribute)].filter((a): a is string => !!a))];
      const found: Entry[] = [];
      stats.pages += await pagedSearch(client, config, mapping.base, mapping.scope, mapping.filter, attributes, (entries) => found.push(...entries));
      // Large groups in Active Directory come in ranges of 1,500 members: read the rest before using them.
      for (const entry of found) stats.rangeRequests += await completeRanges(client, entry);
      for (const entry of found) {
        const raw = first(entry, mapping.id).trim();
        if (!raw) continue;
        stats.groups++;
        const id = strip(raw, mapping.stripPrefix);
        const name = first(entry, mapping.name).trim() || id;
        const members = resolve(entry, mapping.members, entry.dn);
        const leaders = resolve(entry, mapping.leaders, entry.dn);
        if (mapping.teachersLead) for (const m of members) if (isLeaderRole(people.get(m)?.role)) leaders.push(m);
        each(id, name, members, leaders);
      }
    };
    if (config.classes) {
      await readGroups(config.classes, (name, _display, members, leaders) => {
        const teachers = [...leaders];
        for (const m of members) {
          const person = people.get(m)!;
          if (person.role === 'pupil') {
            if (person.class && person.class !== name) problems.push(`${m}: in class ${person.class} and in the class group ${name}; ${person.class} is kept`);
            else person.class = name;
          } else if (isLeaderRole(person.role)) teachers.push(m);
        }
        input.classes!.push({ name, teachers });
      });
    }
    if (config.departments) await readGroups(config.departments, (id, name, members, heads) => input.departments!.push({ id, name, members, heads }));
    if (config.clubs) await readGroups(config.clubs, (id, name, members, leaders) => input.clubs!.push({ id, name, members, leaders }));

    input.people = [...people.values()].map(({ childRefs: _, ...rest }) => rest);
    stats.people = people.size;
    const built = buildDirectory(input);
    problems.push(...built.problems);
    stats.ms = Math.round(performance.now() - started);
    return { directory: built.directory, problems, stats };
  } finally {
    await client.unbind().catch(() => {});
  }
}

function isLeaderRole(role: string | undefined): boolean {
  return role === 'teacher' || role === 'staff' || role === 'admin';
}
