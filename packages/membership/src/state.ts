/**
 * The state of one group and the rules that decide whether one op may change it. Pure and synchronous: the log
 * (log.ts) has already checked signatures and certificates, and resolve.ts decides the order and the concurrency
 * context in which each op is judged.
 */
import type { DeviceCertificate } from '@schoolmesh/identity';
import {
  type AccountRef,
  type AddRight,
  type GroupKind,
  type GroupPolicy,
  type GroupRole,
  administers,
  atLeast,
  BUCKET_MS,
  defaultGroupPolicy,
  rankOf,
  readsContent,
  validatePolicy,
} from '@schoolmesh/model';
import {
  type MembershipOp,
  type OpType,
  authorAccount,
  authorDeviceId,
  certificateAccount,
  certificateDeviceId,
} from './ops.ts';

export interface DeviceEntry {
  account: AccountRef;
  deviceKey: Uint8Array;
  agreementKey: Uint8Array;
  certificate: DeviceCertificate;
  /** The op that listed (or last renewed) this device. */
  addedBy: string;
}

export interface IgnoredOp {
  op: string;
  type: OpType;
  reason: string;
}

export interface GroupState {
  /** Group id (base64url, 16 bytes). */
  id: string;
  /** Id of the create op; undefined until the log holds it. */
  createdBy: string | undefined;
  kind: GroupKind;
  name: string;
  policy: GroupPolicy;
  members: Map<AccountRef, GroupRole>;
  /** Per member, the op that (last) made it a member: the basis of seniority. */
  memberSince: Map<AccountRef, string>;
  devices: Map<string, DeviceEntry>;
  /** Ids of the rotate-key ops that took effect, in order. */
  epochs: string[];
  currentEpoch: string | undefined;
  /** Per epoch, per device id, the sealed epoch key. */
  sealedKeys: Map<string, Map<string, Uint8Array>>;
  /**
   * Per epoch, the reading accounts (every role but manager) that were members when it began (history policy
   * 'none' limits share-key to them).
   */
  epochMembers: Map<string, Set<AccountRef>>;
  /** Per epoch, the author's clock when it began (informational; drives periodic rotation). */
  epochTimes: Map<string, number>;
  /**
   * Per epoch, every device that could post at some point while the epoch was current. Entries are judged
   * against this, not against today's state: a decision that depends only on the ops, so every replica makes the
   * same one whatever order ops and entries arrived in.
   */
  epochWriters: Map<string, Set<string>>;
  /** Ops kept in the log that had no effect, with the reason. */
  ignored: IgnoredOp[];
  /**
   * Accounts and devices that stopped reading after the current epoch began (removed, or made manager), and devices
   * a rotation reached that were not current readers: they may hold its key.
   */
  removedSince: { accounts: AccountRef[]; devices: string[] };
}

export function emptyState(id: string): GroupState {
  return {
    id,
    createdBy: undefined,
    kind: 'custom',
    name: '',
    policy: defaultGroupPolicy('custom'),
    members: new Map(),
    memberSince: new Map(),
    devices: new Map(),
    epochs: [],
    currentEpoch: undefined,
    sealedKeys: new Map(),
    epochMembers: new Map(),
    epochTimes: new Map(),
    epochWriters: new Map(),
    ignored: [],
    removedSince: { accounts: [], devices: [] },
  };
}

/** A deep enough copy that applying ops to one never changes the other (keys and certificates are shared). */
export function cloneState(s: GroupState): GroupState {
  return {
    ...s,
    policy: { ...s.policy },
    members: new Map(s.members),
    memberSince: new Map(s.memberSince),
    devices: new Map(s.devices),
    epochs: [...s.epochs],
    sealedKeys: new Map([...s.sealedKeys].map(([e, m]) => [e, new Map(m)])),
    epochMembers: new Map(s.epochMembers),
    epochTimes: new Map(s.epochTimes),
    epochWriters: new Map([...s.epochWriters].map(([e, w]) => [e, new Set(w)])),
    ignored: [...s.ignored],
    removedSince: { accounts: [...s.removedSince.accounts], devices: [...s.removedSince.devices] },
  };
}

export function roleOf(state: GroupState, account: AccountRef): GroupRole | undefined {
  return state.members.get(account);
}

/**
 * A listed device of a member in a reading role may read (receive epoch keys, fetch the group's entries). A
 * manager's devices are listed (they sign its ops) but never read.
 */
export function canRead(state: GroupState, deviceId: string): boolean {
  const device = state.devices.get(deviceId);
  if (!device) return false;
  const role = state.members.get(device.account);
  return role !== undefined && readsContent(role);
}

/** The listed devices that read (canRead), in id order. */
export function readingDevices(state: GroupState): string[] {
  return [...state.devices.keys()].filter((d) => canRead(state, d)).sort();
}

/** May this device write content? policy.whoMayPost decides; readers never post. */
export function canPost(state: GroupState, deviceId: string): boolean {
  const device = state.devices.get(deviceId);
  if (!device) return false;
  const role = state.members.get(device.account);
  if (!role || role === 'reader' || !readsContent(role)) return false;
  return atLeast(role, state.policy.whoMayPost === 'moderators' ? 'moderator' : 'member');
}

/** The devices of an account that the group lists. */
export function devicesOf(state: GroupState, account: AccountRef): string[] {
  const out: string[] = [];
  for (const [id, d] of state.devices) if (d.account === account) out.push(id);
  return out;
}

/** May `deviceId` be given the key of `epoch` by share-key? (policy.historyForNewMembers) */
export function mayReceiveEpoch(state: GroupState, epoch: string, deviceId: string): boolean {
  const device = state.devices.get(deviceId);
  if (!device || !state.sealedKeys.has(epoch) || !canRead(state, deviceId)) return false;
  if (state.policy.historyForNewMembers === 'retained') return true;
  return state.epochMembers.get(epoch)?.has(device.account) ?? false;
}

/** Current reading devices that hold no key for `epoch` (default: the current one); managers' devices never do. */
export function devicesWithoutKey(state: GroupState, epoch = state.currentEpoch): string[] {
  const boxes = epoch === undefined ? undefined : state.sealedKeys.get(epoch);
  return readingDevices(state).filter((d) => !boxes?.has(d));
}

/**
 * Should the engine rotate the group key now? True when the group has devices but no epoch, when a member or
 * device was removed after the current epoch began (it still holds that key), when a current device lacks the
 * current key and may not be given it by share-key (a member added under history policy 'none'), or, given
 * `now`, when the current epoch is older than policy.keyRotationDays by its author's clock. Only reading devices
 * count: a group whose only devices are a manager's has nobody to rotate for. `excluded` are devices the caller
 * treats as removed (revoked by their school, say): holding the current key makes a rotation due, lacking it does
 * not.
 */
export function needsRotation(state: GroupState, now?: number, excluded: ReadonlySet<string> = new Set()): boolean {
  if (state.createdBy === undefined) return false;
  const readers = readingDevices(state).filter((d) => !excluded.has(d));
  if (readers.length === 0) return false;
  const epoch = state.currentEpoch;
  if (epoch === undefined) return true;
  if (state.removedSince.accounts.length > 0 || state.removedSince.devices.length > 0) return true;
  const boxes = state.sealedKeys.get(epoch);
  for (const d of excluded) if (boxes?.has(d)) return true;
  for (const d of devicesWithoutKey(state, epoch)) if (!excluded.has(d) && !mayReceiveEpoch(state, epoch, d)) return true;
  if (now !== undefined) {
    const began = state.epochTimes.get(epoch) ?? 0;
    if (began + state.policy.keyRotationDays * BUCKET_MS <= now) return true;
  }
  return false;
}

function minimumToAdd(right: AddRight): GroupRole {
  return right === 'owners' ? 'owner' : right === 'moderators' ? 'moderator' : 'member';
}

function adminCount(s: GroupState): number {
  let n = 0;
  for (const role of s.members.values()) if (administers(role)) n++;
  return n;
}

/** Is `account` the last owner or manager while others remain (someone must keep the power to change roles)? */
function lastOwner(s: GroupState, account: AccountRef): boolean {
  const role = s.members.get(account);
  return role !== undefined && administers(role) && adminCount(s) === 1 && s.members.size > 1;
}

/** How resolve.ts narrows the judgement of one op by what is concurrent with it. */
export interface JudgeContext {
  /** The author's role is at most this (a concurrent downgrade by someone entitled). */
  roleCap?: GroupRole;
  /** A bootstrap add-device is concurrent with another add-device for the same account. */
  bootstrapConflict?: boolean;
}

/** Is `op` a device adding itself? */
export function isSelfAdd(op: MembershipOp): boolean {
  return (
    op.body.type === 'add-device' &&
    certificateDeviceId(op.body.certificate) === authorDeviceId(op) &&
    certificateAccount(op.body.certificate) === authorAccount(op)
  );
}

/**
 * Why `op` may not take effect in state `s`, or undefined when it may. Never throws; never looks at signatures.
 */
export function judge(s: GroupState, op: MembershipOp, ctx: JudgeContext = {}): string | undefined {
  const body = op.body;
  const account = authorAccount(op);
  const device = authorDeviceId(op);
  if (body.type === 'create') {
    if (s.createdBy !== undefined) return 'the group already exists';
    if (op.group !== s.id) return 'create op of another group';
    const problems = validatePolicy(body.policy);
    if (problems.length > 0) return `invalid policy: ${problems.join('; ')}`;
    return undefined;
  }
  if (s.createdBy === undefined) return 'the group does not exist yet';
  let role = s.members.get(account);
  if (!role) return 'author is not a member';
  if (ctx.roleCap && rankOf(ctx.roleCap) < rankOf(role)) role = ctx.roleCap;
  const listed = s.devices.get(device);
  if (!listed || listed.account !== account) {
    if (isSelfAdd(op) && devicesOf(s, account).length === 0) {
      if (ctx.bootstrapConflict) return 'first device of this account contested by a concurrent add-device';
      return undefined;
    }
    return 'author device is not listed in the group';
  }
  const outranks = (target: AccountRef): boolean => {
    const r = s.members.get(target);
    return r !== undefined && rankOf(r) <= rankOf(role);
  };
  switch (body.type) {
    case 'add':
      if (!atLeast(role, minimumToAdd(s.policy.whoMayAdd))) return `policy lets only ${s.policy.whoMayAdd} add`;
      if (rankOf(body.role) > rankOf(role)) return 'cannot grant a role above its own';
      if (s.members.has(body.account)) return 'already a member';
      return undefined;
    case 'remove':
      if (!s.members.has(body.account)) return 'not a member';
      if (body.account !== account) {
        if (!atLeast(role, 'moderator')) return 'only owners and moderators remove others';
        if (!outranks(body.account)) return 'cannot remove someone of higher rank';
      }
      if (lastOwner(s, body.account)) return 'the last owner or manager cannot leave while others remain';
      return undefined;
    case 'set-role':
      if (!administers(role)) return 'only owners and managers change roles';
      if (!s.members.has(body.account)) return 'not a member';
      // A manager never reads: it may not give itself a reading role (an owner may make it one).
      if (s.members.get(account) === 'manager' && body.account === account) return 'a manager cannot change its own role';
      if (!administers(body.role) && lastOwner(s, body.account)) return 'the last owner or manager cannot be demoted';
      return undefined;
    case 'set-policy': {
      if (!administers(role)) return 'only owners and managers change the policy';
      const problems = validatePolicy(body.policy);
      return problems.length > 0 ? `invalid policy: ${problems.join('; ')}` : undefined;
    }
    case 'rename':
      return administers(role) ? undefined : 'only owners and managers rename';
    case 'add-device': {
      const target = certificateAccount(body.certificate);
      const id = certificateDeviceId(body.certificate);
      if (!s.members.has(target)) return "the device's account is not a member";
      const existing = s.devices.get(id);
      if (existing && existing.account !== target) return 'device is listed for another account';
      if (target === account) return undefined;
      if (existing) return 'device already listed';
      if (!atLeast(role, 'moderator')) return "only the account's own devices, owners and moderators add devices";
      if (!outranks(target)) return 'cannot add a device to someone of higher rank';
      return undefined;
    }
    case 'remove-device': {
      const target = s.devices.get(body.device);
      if (!target) return 'device not listed';
      if (target.account === account) return undefined;
      if (!atLeast(role, 'moderator')) return "only the account's own devices, owners and moderators remove devices";
      if (!outranks(target.account)) return 'cannot remove a device of someone of higher rank';
      return undefined;
    }
    case 'rotate-key': {
      // Sealed to the author's view of the devices, which a concurrent op may have changed. Ignoring the rotation
      // then would orphan every entry its author already wrote under it, so it stands: devices added concurrently
      // get the key by share-key, and devices removed concurrently that it still reached count as removed since
      // this epoch (removedSince), which makes the next writer rotate again.
      // A manager starts no epoch: its key would be one the manager knows.
      if (!readsContent(s.members.get(account)!)) return 'a manager holds no content key and starts no epoch';
      if (!body.sealed.some((sk) => sk.device === device)) return 'must seal to its author';
      return undefined;
    }
    case 'share-key': {
      const boxes = s.sealedKeys.get(body.epoch);
      if (!boxes) return 'unknown epoch';
      if (!boxes.has(device)) return 'author does not hold this epoch key';
      if (!canRead(s, device)) return 'a manager shares no content key';
      for (const sk of body.sealed) {
        if (!s.devices.has(sk.device)) return 'recipient is not a current device';
        if (!mayReceiveEpoch(s, body.epoch, sk.device)) return 'history policy withholds this epoch from the recipient';
      }
      return undefined;
    }
  }
}

/**
 * Why a key op may not even be stored, judged in the state at its parents (so the same everywhere): a manager's
 * device starts or shares no epoch, and no rotation or share seals to a device that does not read there (a
 * manager's). A concurrent change that makes a recipient a manager is handled when the rotation is applied
 * (removedSince), not here.
 */
export function keyRefusal(s: GroupState, op: MembershipOp): string | undefined {
  const body = op.body;
  if (body.type !== 'rotate-key' && body.type !== 'share-key') return undefined;
  if (!canRead(s, authorDeviceId(op))) return 'a manager holds no content key: it starts and shares no epoch';
  for (const sk of body.sealed) if (s.devices.has(sk.device) && !canRead(s, sk.device)) return "a key may not be sealed to a manager's device";
  return undefined;
}

function removeAccount(s: GroupState, account: AccountRef): void {
  const reading = readsContent(s.members.get(account)!);
  s.members.delete(account);
  s.memberSince.delete(account);
  for (const id of devicesOf(s, account)) s.devices.delete(id);
  if (reading && s.currentEpoch !== undefined) s.removedSince.accounts.push(account);
}

/** Applies an op that `judge` accepted. */
export function applyOp(s: GroupState, op: MembershipOp): void {
  applyOpBody(s, op);
  noteEpochWriters(s);
}

function noteEpochWriters(s: GroupState): void {
  const epoch = s.currentEpoch;
  if (epoch === undefined) return;
  let writers = s.epochWriters.get(epoch);
  if (!writers) {
    writers = new Set();
    s.epochWriters.set(epoch, writers);
  }
  for (const id of s.devices.keys()) if (canPost(s, id)) writers.add(id);
}

function applyOpBody(s: GroupState, op: MembershipOp): void {
  const body = op.body;
  switch (body.type) {
    case 'create': {
      s.createdBy = op.id;
      s.kind = body.kind;
      s.name = body.name;
      s.policy = { ...body.policy };
      for (const m of body.members) {
        s.members.set(m.account, m.role);
        s.memberSince.set(m.account, op.id);
      }
      // The author is owner, or manager when the member list names it so (a group managed without its keys).
      const account = authorAccount(op);
      s.members.set(account, s.members.get(account) === 'manager' ? 'manager' : 'owner');
      s.memberSince.set(account, op.id);
      addDevice(s, op.author, op.id);
      return;
    }
    case 'add':
      s.members.set(body.account, body.role);
      s.memberSince.set(body.account, op.id);
      return;
    case 'remove':
      removeAccount(s, body.account);
      return;
    case 'set-role': {
      const before = s.members.get(body.account)!;
      s.members.set(body.account, body.role);
      // A member made manager stops reading but may hold the current key: the next writer rotates.
      if (readsContent(before) && !readsContent(body.role) && s.currentEpoch !== undefined) s.removedSince.accounts.push(body.account);
      return;
    }
    case 'set-policy':
      s.policy = { ...body.policy };
      return;
    case 'rename':
      s.name = body.name;
      return;
    case 'add-device':
      addDevice(s, body.certificate, op.id);
      return;
    case 'remove-device': {
      const reading = canRead(s, body.device);
      s.devices.delete(body.device);
      if (reading && s.currentEpoch !== undefined) s.removedSince.devices.push(body.device);
      return;
    }
    case 'rotate-key':
      s.epochs.push(op.id);
      s.currentEpoch = op.id;
      s.epochMembers.set(op.id, new Set([...s.members].filter(([, role]) => readsContent(role)).map(([account]) => account)));
      s.epochTimes.set(op.id, op.time);
      // Boxes for devices that are not current readers (removed, or a manager's, by a concurrent op) are not kept,
      // and those devices count as removed since this epoch: the next writer rotates again.
      s.removedSince = { accounts: [], devices: body.sealed.map((sk) => sk.device).filter((d) => !canRead(s, d)) };
      s.sealedKeys.set(op.id, new Map(body.sealed.filter((sk) => canRead(s, sk.device)).map((sk) => [sk.device, sk.box])));
      return;
    case 'share-key': {
      const boxes = s.sealedKeys.get(body.epoch)!;
      for (const sk of body.sealed) if (!boxes.has(sk.device)) boxes.set(sk.device, sk.box);
      return;
    }
  }
}

function addDevice(s: GroupState, cert: DeviceCertificate, by: string): void {
  s.devices.set(certificateDeviceId(cert), {
    account: certificateAccount(cert),
    deviceKey: cert.deviceKey,
    agreementKey: cert.agreementKey,
    certificate: cert,
    addedBy: by,
  });
}
