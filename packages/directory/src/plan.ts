/**
 * Groups from the school's structure, and the membership changes that bring a school's groups in line with its
 * directory. Pure: same inputs, same plan, in the same order.
 */
import {
  type AccountRef,
  type GroupKind,
  type GroupPolicy,
  type GroupRole,
  type SchoolPolicy,
  accountRef,
  defaultGroupPolicy,
  defaultSchoolPolicy,
  parseAccountRef,
  rankOf,
} from '@schoolmesh/model';
import { type Directory, compareNatural } from './model.ts';

const DAY = 24 * 60 * 60 * 1000;

/** A group the directory asks for. `key` is stable across syncs: it names the group in the sync state. */
export interface DesiredGroup {
  key: string;
  kind: GroupKind;
  name: string;
  members: Map<AccountRef, GroupRole>;
}

/** A group the sync made earlier, as its membership log says now. */
export interface CurrentGroup {
  key: string;
  group: string;
  kind: GroupKind;
  name: string;
  members: ReadonlyMap<AccountRef, GroupRole>;
  retentionDays: number;
  /** When the directory stopped asking for it (it is read-only since, and closed after its retention period). */
  endedAt?: number;
}

export type RemovalReason = 'left-school' | 'left-group' | 'not-in-directory' | 'group-closed';

/**
 * What happens to one group:
 * - `create`: a new group, the syncing account as its manager (or owner, `ApplyOptions`), `members` in it;
 * - `update`: `remove`, then `setRole`, then `add`;
 * - `end`: the directory no longer has it (last year's class): everyone becomes a reader; content stays readable
 *   until retention deletes it;
 * - `close`: an ended group whose retention period has passed: everyone is removed (the key rotates);
 * - `reopen`: an ended group the directory has again.
 */
export interface GroupChange {
  key: string;
  action: 'create' | 'update' | 'end' | 'close' | 'reopen';
  kind: GroupKind;
  name: string;
  /** The group id; absent for `create`. */
  group?: string;
  /** The directory renamed the group (a department or club with a new name): `name` is the new one, signed as a rename op. */
  renamedFrom?: string;
  policy?: GroupPolicy;
  /** `create`: the first members (the syncing account, its manager or owner, is not listed). */
  members?: { account: AccountRef; role: GroupRole }[];
  remove: { account: AccountRef; reason: RemovalReason }[];
  setRole: { account: AccountRef; role: GroupRole; from: GroupRole }[];
  add: { account: AccountRef; role: GroupRole }[];
}

export interface SyncPlan {
  school: string;
  /** The directory this plan brings the groups to; it becomes the next sync's previous directory. */
  directory: Directory;
  /** When it was planned (an `end` records this time). */
  now: number;
  changes: GroupChange[];
  /** Account ids in the previous directory and not in this one: they lose every group (the relay should revoke their devices). */
  leavers: string[];
  /** Account ids new in this directory. */
  joiners: string[];
}

export interface PlanOptions {
  /** The school id (accounts are `id@school`). */
  school: string;
  /** The account that runs the sync and manages the groups; the plan never adds, demotes or removes it. */
  self: AccountRef;
  now: number;
  /**
   * Authoritative mode: every member of this school that the directory does not put in a group is removed from
   * it, and every role is reset to the directory's. The default (incremental) applies the directory's changes and
   * leaves alone what people did by hand: a member a teacher added, or removed, or promoted.
   */
  full?: boolean;
  policy?: SchoolPolicy;
  /** Group names (German by default). */
  names?: Partial<GroupNames>;
  /** A class announcement group (class teachers post; pupils and their parents read). Default true. */
  announcements?: boolean;
}

export interface GroupNames {
  class: (name: string, year: string | undefined) => string;
  announcement: (name: string, year: string | undefined) => string;
  department: (name: string) => string;
  club: (name: string) => string;
}

const withYear = (text: string, year: string | undefined) => (year ? `${text} (${year})` : text);

export const germanGroupNames: GroupNames = {
  class: (name, year) => withYear(`Klasse ${name}`, year),
  announcement: (name, year) => withYear(`Klasse ${name}: Eltern und Ankündigungen`, year),
  department: (name) => (/^fachschaft\b/i.test(name) ? name : `Fachschaft ${name}`),
  club: (name) => name,
};

const KIND_ORDER: Record<GroupKind, number> = { class: 0, announcement: 1, department: 2, club: 3, custom: 4, direct: 5 };

export function classKey(name: string, year: string | undefined): string {
  return `class:${year ?? ''}:${name}`;
}

/** The groups a directory asks for, by key. */
export function desiredGroups(directory: Directory, options: Pick<PlanOptions, 'school' | 'self' | 'names' | 'announcements'>): Map<string, DesiredGroup> {
  const names = { ...germanGroupNames, ...options.names };
  const ref = (id: string) => accountRef(options.school, id);
  const out = new Map<string, DesiredGroup>();
  const put = (group: DesiredGroup, id: string, role: GroupRole) => {
    const account = ref(id);
    if (account === options.self) return;
    const had = group.members.get(account);
    if (!had || rankOf(role) > rankOf(had)) group.members.set(account, role);
  };
  const year = directory.schoolYear;
  const pupilsOf = new Map<string, string[]>();
  const parentsOf = new Map<string, string[]>();
  for (const p of directory.people) {
    if (p.role === 'pupil' && p.class) pupilsOf.set(p.class, [...(pupilsOf.get(p.class) ?? []), p.id]);
    for (const c of p.children) parentsOf.set(c, [...(parentsOf.get(c) ?? []), p.id]);
  }
  for (const c of directory.classes) {
    const pupils = pupilsOf.get(c.name) ?? [];
    if (pupils.length === 0 && c.teachers.length === 0) continue;
    const group: DesiredGroup = { key: classKey(c.name, year), kind: 'class', name: names.class(c.name, year), members: new Map() };
    for (const t of c.teachers) put(group, t, 'moderator');
    for (const p of pupils) put(group, p, 'member');
    out.set(group.key, group);
    if (options.announcements === false) continue;
    const news: DesiredGroup = { key: `announcement:${year ?? ''}:${c.name}`, kind: 'announcement', name: names.announcement(c.name, year), members: new Map() };
    for (const t of c.teachers) put(news, t, 'moderator');
    for (const p of pupils) {
      put(news, p, 'reader');
      for (const parent of parentsOf.get(p) ?? []) put(news, parent, 'reader');
    }
    out.set(news.key, news);
  }
  for (const d of directory.departments) {
    if (d.members.length === 0) continue;
    const group: DesiredGroup = { key: `department:${d.id}`, kind: 'department', name: names.department(d.name), members: new Map() };
    for (const h of d.heads) put(group, h, 'moderator');
    for (const m of d.members) put(group, m, 'member');
    out.set(group.key, group);
  }
  for (const c of directory.clubs) {
    if (c.members.length === 0) continue;
    const group: DesiredGroup = { key: `club:${c.id}`, kind: 'club', name: names.club(c.name), members: new Map() };
    for (const l of c.leaders) put(group, l, 'moderator');
    for (const m of c.members) put(group, m, 'member');
    out.set(group.key, group);
  }
  return out;
}

const byAccount = <T extends { account: string }>(a: T, b: T) => compareNatural(a.account, b.account);

/**
 * The membership changes that bring `current` (the groups the sync made before) in line with `directory`.
 * `previous` is the directory of the last sync that was applied; without it (a first sync), nobody is removed
 * except in `full` mode. A second call with the same directory, after the first plan was applied, is empty.
 */
export function planSync(previous: Directory | undefined, directory: Directory, current: readonly CurrentGroup[], options: PlanOptions): SyncPlan {
  const policy = options.policy ?? defaultSchoolPolicy;
  const desired = desiredGroups(directory, options);
  const before = previous ? desiredGroups(previous, options) : undefined;
  const nowIds = new Set(directory.people.map((p) => p.id));
  const leavers = previous ? previous.people.map((p) => p.id).filter((id) => !nowIds.has(id)) : [];
  const prevIds = new Set(previous?.people.map((p) => p.id) ?? []);
  const joiners = previous ? directory.people.map((p) => p.id).filter((id) => !prevIds.has(id)) : directory.people.map((p) => p.id);
  const leaverRefs = new Set(leavers.map((id) => accountRef(options.school, id)));
  const ours = (account: AccountRef) => {
    try {
      return parseAccountRef(account).school === options.school;
    } catch {
      return false;
    }
  };

  const changes: GroupChange[] = [];
  const seen = new Set<string>();
  for (const cur of current) {
    seen.add(cur.key);
    const want = desired.get(cur.key);
    const change: GroupChange = { key: cur.key, action: 'update', kind: cur.kind, name: cur.name, group: cur.group, remove: [], setRole: [], add: [] };
    if (!want) {
      // The directory no longer has this group: end it (read-only), close it after its retention period.
      const closing = cur.endedAt !== undefined && options.now >= cur.endedAt + cur.retentionDays * DAY;
      for (const [account, role] of cur.members) {
        if (account === options.self) continue;
        if (closing) change.remove.push({ account, reason: 'group-closed' });
        else if (leaverRefs.has(account)) change.remove.push({ account, reason: 'left-school' });
        else if (cur.endedAt === undefined && role !== 'reader') change.setRole.push({ account, role: 'reader', from: role });
      }
      if (closing) change.action = 'close';
      else if (cur.endedAt === undefined) change.action = 'end';
    } else {
      const full = options.full === true || cur.endedAt !== undefined;
      if (cur.endedAt !== undefined) change.action = 'reopen';
      if (want.name !== cur.name) {
        change.renamedFrom = cur.name;
        change.name = want.name;
      }
      const was = before?.get(cur.key)?.members;
      for (const account of cur.members.keys()) {
        if (account === options.self || want.members.has(account)) continue;
        if (leaverRefs.has(account)) change.remove.push({ account, reason: 'left-school' });
        else if (was?.has(account)) change.remove.push({ account, reason: 'left-group' });
        else if (full && ours(account)) change.remove.push({ account, reason: 'not-in-directory' });
      }
      for (const [account, role] of want.members) {
        const has = cur.members.get(account);
        const had = was?.get(account);
        if (has === undefined) {
          if (full || had === undefined) change.add.push({ account, role });
        } else if (has !== role && (full || had !== role)) {
          change.setRole.push({ account, role, from: has });
        }
      }
    }
    change.remove.sort(byAccount);
    change.setRole.sort(byAccount);
    change.add.sort(byAccount);
    if (change.action !== 'update' || change.renamedFrom !== undefined || change.remove.length + change.setRole.length + change.add.length > 0) changes.push(change);
  }
  for (const want of desired.values()) {
    if (seen.has(want.key)) continue;
    changes.push({
      key: want.key,
      action: 'create',
      kind: want.kind,
      name: want.name,
      policy: defaultGroupPolicy(want.kind, policy),
      members: [...want.members].map(([account, role]) => ({ account, role })).sort(byAccount),
      remove: [],
      setRole: [],
      add: [],
    });
  }
  changes.sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || compareNatural(a.key, b.key));
  return { school: options.school, directory, now: options.now, changes, leavers, joiners };
}

export function isEmptyPlan(plan: SyncPlan): boolean {
  return plan.changes.length === 0;
}

/** Counts for logs and the admin console. */
export function summarizePlan(plan: SyncPlan): { create: number; end: number; close: number; add: number; remove: number; setRole: number; leavers: number; joiners: number } {
  const s = { create: 0, end: 0, close: 0, add: 0, remove: 0, setRole: 0, leavers: plan.leavers.length, joiners: plan.joiners.length };
  for (const c of plan.changes) {
    if (c.action === 'create') {
      s.create++;
      s.add += c.members?.length ?? 0;
    }
    if (c.action === 'end') s.end++;
    if (c.action === 'close') s.close++;
    s.add += c.add.length;
    s.remove += c.remove.length;
    s.setRole += c.setRole.length;
  }
  return s;
}
