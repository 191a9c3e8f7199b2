import type { Engine } from '@schoolmesh/engine';
import { type SchoolPolicy, defaultSchoolPolicy, isRole, mayDirectMessage, parseAccountRef } from '@schoolmesh/model';
import type { GroupInfo, MemberView, Person } from '../api/protocol.ts';

/** What a device knows about a person: from the newest certificate of any of their devices in any of its groups. */
export interface KnownPerson {
  name: string;
  role: string;
  /** The person's school id. */
  school: string;
  notBefore: number;
}

/**
 * The people this device knows: every member of its groups, named by their devices' certificates (signed by their
 * school, so a relay cannot rename anybody). Members whose devices this device has not seen yet are known by their
 * account id alone.
 */
export function knownPeople(engine: Engine): Map<string, KnownPerson> {
  const out = new Map<string, KnownPerson>();
  for (const g of engine.groups()) {
    const state = engine.state(g.id);
    if (!state) continue;
    for (const entry of state.devices.values()) {
      const cert = entry.certificate;
      const known = out.get(entry.account);
      if (known && known.notBefore >= cert.notBefore) continue;
      out.set(entry.account, { name: cert.displayName, role: cert.role, school: cert.school, notBefore: cert.notBefore });
    }
    for (const account of state.members.keys()) {
      if (out.has(account)) continue;
      const { id, school } = parseAccountRef(account);
      out.set(account, { name: id, role: '', school, notBefore: 0 });
    }
  }
  return out;
}

/** The direct chat between this account and `other`, if this device holds one. */
export function directWith(engine: Engine, other: string): string | undefined {
  for (const g of engine.groups()) {
    if (g.kind !== 'direct') continue;
    const members = engine.state(g.id)?.members;
    if (members?.size === 2 && members.has(other) && members.has(engine.account)) return g.id;
  }
  return undefined;
}

/** The other person of a direct chat (undefined for any other kind of group). */
export function directPartner(engine: Engine, group: string): string | undefined {
  const state = engine.state(group);
  if (state?.kind !== 'direct') return undefined;
  return [...state.members.keys()].find((a) => a !== engine.account);
}

/** May this account open a direct chat with `to`? Unknown roles are refused (the policy cannot judge them). */
export function mayMessage(myRole: string, to: KnownPerson, policy: SchoolPolicy = defaultSchoolPolicy): boolean {
  return isRole(myRole) && isRole(to.role) && mayDirectMessage(myRole, to.role, policy);
}

/** The school's policy lets this role create groups (admins always may; the relay refuses the others' groups too). */
export function mayCreateGroups(myRole: string, policy: SchoolPolicy = defaultSchoolPolicy): boolean {
  return isRole(myRole) && (myRole === 'admin' || policy.whoMayCreateGroups.includes(myRole));
}

/** The people of "Neuer Chat": everybody known except this account, sorted by name in German collation. */
export function people(engine: Engine, myRole: string, partnerName: (school: string) => string | undefined, policy?: SchoolPolicy): Person[] {
  const collator = new Intl.Collator('de', { sensitivity: 'base' });
  const out: Person[] = [];
  for (const [account, p] of knownPeople(engine)) {
    if (account === engine.account) continue;
    const partner = partnerName(p.school);
    const direct = directWith(engine, account);
    out.push({ account, name: p.name, role: p.role, ...(partner ? { partnerSchool: partner } : {}), ...(direct ? { direct } : {}), mayMessage: mayMessage(myRole, p, policy) });
  }
  return out.sort((a, b) => collator.compare(a.name, b.name));
}

const GROUP_RANK = { owner: 0, moderator: 1, member: 2, reader: 3, manager: 4 } as const;

/** The group info: policy and members, owners and moderators first, then by name; the school's manager last. */
export function groupInfo(engine: Engine, group: string, name: string, partnerName: (school: string) => string | undefined): GroupInfo {
  const state = engine.state(group);
  if (!state) throw new Error('unknown group');
  const known = knownPeople(engine);
  const collator = new Intl.Collator('de', { sensitivity: 'base' });
  const members: MemberView[] = [...state.members].map(([account, groupRole]) => {
    const p = known.get(account);
    const partner = p ? partnerName(p.school) : undefined;
    return { account, name: p?.name ?? account, role: p?.role ?? '', groupRole, ...(partner ? { partnerSchool: partner } : {}), me: account === engine.account };
  });
  members.sort((a, b) => GROUP_RANK[a.groupRole] - GROUP_RANK[b.groupRole] || collator.compare(a.name, b.name));
  const myDevices = [...state.devices.values()].filter((d) => d.account === engine.account).length;
  return {
    id: group,
    name,
    kind: state.kind,
    retentionDays: state.policy.retentionDays,
    whoMayPost: state.policy.whoMayPost,
    readReceipts: state.policy.readReceipts,
    members,
    myDevices,
  };
}

/** A group this device will not create: the school's policy, a name out of bounds, or a member it does not know. */
export class GroupRefused extends Error {
  override readonly name = 'GroupRefused';
  constructor(
    readonly reason: 'policy' | 'bad-name' | 'unknown-person',
    message: string,
  ) {
    super(message);
  }
}

/** Why a direct chat cannot be opened: the school's policy forbids it, or the person is not known here. */
export class DirectChatRefused extends Error {
  override readonly name = 'DirectChatRefused';
  constructor(
    readonly reason: 'policy' | 'unknown-person',
    message: string,
  ) {
    super(message);
  }
}
