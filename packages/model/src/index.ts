/**
 * The school's domain: who is who, which groups exist, what a group allows. Plain data and pure functions;
 * no crypto and no I/O. Wire encodings live with the packages that sign these values.
 */

/** A person's role in the school, from the directory. */
export type Role = 'pupil' | 'teacher' | 'parent' | 'staff' | 'admin';
export const roles: readonly Role[] = ['pupil', 'teacher', 'parent', 'staff', 'admin'];

/** A role this version knows (certificates, directories and relays may carry others). */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (roles as readonly string[]).includes(value);
}

/** What a group is for; it decides the default policy. */
export type GroupKind = 'class' | 'department' | 'club' | 'custom' | 'direct' | 'announcement';
export const groupKinds: readonly GroupKind[] = ['class', 'department', 'club', 'custom', 'direct', 'announcement'];

/**
 * A member's standing inside one group. Ordered from most to least power over the membership. `manager` has the
 * membership powers of `owner` (add, remove, set roles and policy, rename, approve and remove devices) but never
 * reads: it is sealed no content key, cannot post, and is not a reader for forwarding (the school's directory sync
 * account; docs/threat-model.md, "Administration").
 */
export type GroupRole = 'manager' | 'owner' | 'moderator' | 'member' | 'reader';
export const groupRoles: readonly GroupRole[] = ['manager', 'owner', 'moderator', 'member', 'reader'];

const ranks: Record<GroupRole, number> = { manager: 3, owner: 3, moderator: 2, member: 1, reader: 0 };

/** Higher is more power over the membership; `manager` ranks with `owner`. `reader` may read but never post. */
export function rankOf(role: GroupRole): number {
  return ranks[role];
}

export function atLeast(role: GroupRole, minimum: GroupRole): boolean {
  return rankOf(role) >= rankOf(minimum);
}

/** Does this role read the group's content (receive its keys, fetch its entries)? Every role but `manager`. */
export function readsContent(role: GroupRole): boolean {
  return role !== 'manager';
}

/** May this role change the membership like an owner (roles, policy, name)? */
export function administers(role: GroupRole): boolean {
  return role === 'owner' || role === 'manager';
}

/** A school: its id is the base64url of its root public key, so the id itself is the trust anchor. */
export interface School {
  id: string;
  name: string;
}

/**
 * An account is a person in one school's directory. `id` is the directory's user id (for example `mmueller`),
 * unique within the school; `AccountRef` makes it unique across federated schools.
 */
export interface Account {
  school: string;
  id: string;
  displayName: string;
  role: Role;
}

/** `<account id>@<school id>`: the global name of an account. */
export type AccountRef = string;

export function accountRef(school: string, id: string): AccountRef {
  return `${id}@${school}`;
}

export function parseAccountRef(ref: AccountRef): { school: string; id: string } {
  const at = ref.lastIndexOf('@');
  if (at <= 0 || at === ref.length - 1) throw new Error(`not an account reference: ${ref}`);
  return { id: ref.slice(0, at), school: ref.slice(at + 1) };
}

/** A device is one browser profile or process holding its own keys, certified for one account. */
export interface Device {
  /** base64url of the Ed25519 public key; also the libp2p identity of the device. */
  id: string;
  account: AccountRef;
  signingPublicKey: Uint8Array;
  agreementPublicKey: Uint8Array;
}

export type PostRight = 'members' | 'moderators';
export type AddRight = 'owners' | 'moderators' | 'members';
export type History = 'none' | 'retained';

/** What a group allows. Changed only by a signed membership operation of an owner. */
export interface GroupPolicy {
  /** Buckets older than this are deleted on every replica, and their keys with them. */
  retentionDays: number;
  /** Who may write content. Announcements: moderators (teachers) only. */
  whoMayPost: PostRight;
  /** Who may add members. */
  whoMayAdd: AddRight;
  /** What a newly added member may read: nothing before joining, or every retained bucket. */
  historyForNewMembers: History;
  /** Whether members' read receipts are shared with the group. */
  readReceipts: boolean;
  /** Rotate the group key at least this often, even if nobody leaves. */
  keyRotationDays: number;
}

/** School-wide rules that decide which groups may be created. */
export interface SchoolPolicy {
  /** May pupils start direct messages with other pupils? */
  pupilDirectMessages: boolean;
  /** Which roles may create custom groups. */
  whoMayCreateGroups: readonly Role[];
  /** Default retention per group kind, in days. */
  retentionDays: Readonly<Record<GroupKind, number>>;
}

export const defaultSchoolPolicy: SchoolPolicy = {
  pupilDirectMessages: true,
  whoMayCreateGroups: ['teacher', 'staff', 'admin'],
  retentionDays: { class: 14, department: 90, club: 30, custom: 14, direct: 14, announcement: 30 },
};

export function defaultGroupPolicy(kind: GroupKind, school: SchoolPolicy = defaultSchoolPolicy): GroupPolicy {
  return {
    retentionDays: school.retentionDays[kind],
    whoMayPost: kind === 'announcement' ? 'moderators' : 'members',
    whoMayAdd: kind === 'custom' ? 'members' : kind === 'direct' ? 'owners' : 'moderators',
    historyForNewMembers: kind === 'direct' ? 'none' : 'retained',
    readReceipts: kind !== 'announcement',
    keyRotationDays: 7,
  };
}

/** May an account with school role `from` open a direct chat with one of role `to`? */
export function mayDirectMessage(from: Role, to: Role, school: SchoolPolicy = defaultSchoolPolicy): boolean {
  if (from === 'pupil' && to === 'pupil') return school.pupilDirectMessages;
  return true;
}

export function validatePolicy(policy: GroupPolicy): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(policy.retentionDays) || policy.retentionDays < 1 || policy.retentionDays > 3650)
    problems.push('retentionDays must be a whole number from 1 to 3650');
  if (!Number.isInteger(policy.keyRotationDays) || policy.keyRotationDays < 1 || policy.keyRotationDays > 365)
    problems.push('keyRotationDays must be a whole number from 1 to 365');
  if (!['members', 'moderators'].includes(policy.whoMayPost)) problems.push('whoMayPost is unknown');
  if (!['owners', 'moderators', 'members'].includes(policy.whoMayAdd)) problems.push('whoMayAdd is unknown');
  if (!['none', 'retained'].includes(policy.historyForNewMembers)) problems.push('historyForNewMembers is unknown');
  return problems;
}

/** A content bucket: one Yjs document per group per UTC day. Bucket n covers [n*DAY, (n+1)*DAY). */
export const BUCKET_MS = 24 * 60 * 60 * 1000;

export function bucketOf(timeMs: number): number {
  return Math.floor(timeMs / BUCKET_MS);
}

export function bucketStart(bucket: number): number {
  return bucket * BUCKET_MS;
}

/**
 * The oldest bucket a replica keeps at `now` under `retentionDays`. A bucket is deleted once its last moment
 * is older than the retention period, so no message is deleted early; the UI hides single messages that are
 * past retention inside a still-live bucket (see `isExpired`).
 */
export function oldestLiveBucket(now: number, retentionDays: number): number {
  return bucketOf(now - retentionDays * BUCKET_MS);
}

export function isExpired(timeMs: number, now: number, retentionDays: number): boolean {
  return timeMs + retentionDays * BUCKET_MS <= now;
}

export { foldGerman, foldPlain, matchesName } from './names.ts';
