/**
 * Executes a sync plan through a device engine: every change is a membership operation signed by the syncing
 * account's device, which relays verify like any other; a removal rotates the group key (Engine.removeMember).
 */
import type { AccountRef, GroupKind, GroupPolicy, GroupRole } from '@schoolmesh/model';
import type { Directory } from './model.ts';
import { type CurrentGroup, type PlanOptions, type SyncPlan, planSync } from './plan.ts';

/** The part of `Engine` (@schoolmesh/engine) a sync uses; an Engine is one. */
export interface GroupAdmin {
  readonly account: AccountRef;
  now(): number;
  createGroup(input: { kind: GroupKind; name: string; members?: { account: AccountRef; role: GroupRole }[]; policy?: GroupPolicy; creatorRole?: 'owner' | 'manager' }): Promise<string>;
  addMember(group: string, account: AccountRef, role?: GroupRole): Promise<void>;
  removeMember(group: string, account: AccountRef): Promise<void>;
  setRole(group: string, account: AccountRef, role: GroupRole): Promise<void>;
  rename(group: string, name: string): Promise<void>;
  state(group: string): { kind: GroupKind; name: string; members: ReadonlyMap<AccountRef, GroupRole>; policy: { retentionDays: number } } | undefined;
}

/**
 * What a sync remembers between runs (the relay keeps it as JSON): the directory last applied, and which group
 * each directory key became. Group ids are not derivable from the directory (they hash a random nonce).
 */
export interface SyncState {
  version: 1;
  school: string;
  directory?: Directory;
  groups: Record<string, { group: string; endedAt?: number }>;
}

export function emptySyncState(school: string): SyncState {
  return { version: 1, school, groups: {} };
}

export function encodeSyncState(state: SyncState): string {
  return JSON.stringify(state);
}

export function decodeSyncState(text: string): SyncState {
  const value = JSON.parse(text) as SyncState;
  if (value?.version !== 1 || typeof value.school !== 'string' || typeof value.groups !== 'object' || value.groups === null)
    throw new Error('not a directory sync state (version 1)');
  return value;
}

export class SyncApplyError extends Error {
  override readonly name = 'SyncApplyError';
  /** The state after the steps that did succeed (groups created so far are in it): store it, then sync again. */
  readonly state: SyncState;
  constructor(message: string, state: SyncState, options: { cause: unknown }) {
    super(message, options);
    this.state = state;
  }
}

/** The groups of `state` as the engine's membership logs show them now. */
export function currentGroupsOf(engine: GroupAdmin, state: SyncState): CurrentGroup[] {
  const out: CurrentGroup[] = [];
  for (const [key, record] of Object.entries(state.groups)) {
    const s = engine.state(record.group);
    if (!s) throw new Error(`the sync state names group ${record.group} (${key}), which this engine does not hold`);
    const current: CurrentGroup = { key, group: record.group, kind: s.kind, name: s.name, members: s.members, retentionDays: s.policy.retentionDays };
    if (record.endedAt !== undefined) current.endedAt = record.endedAt;
    out.push(current);
  }
  return out;
}

/** How the syncing account stands in the groups it creates. */
export interface ApplyOptions {
  /**
   * `manager` (default): it manages the membership without ever being sealed a content key, so whoever holds its
   * device (the relay's machine) cannot read the groups; the members' devices make and rotate the keys.
   * `owner`: it owns and reads them (the behaviour before the manager role).
   */
  creatorRole?: 'owner' | 'manager';
}

/**
 * Runs the plan, change by change, and returns the new state (the plan's directory becomes the previous one).
 * On a failure it throws SyncApplyError carrying the state so far: the next sync plans what is left.
 */
export async function applyPlan(engine: GroupAdmin, plan: SyncPlan, state: SyncState = emptySyncState(plan.school), options: ApplyOptions = {}): Promise<SyncState> {
  if (state.school !== plan.school) throw new Error(`the sync state is for school ${state.school}, the plan for ${plan.school}`);
  const next: SyncState = { ...state, groups: { ...state.groups } };
  for (const change of plan.changes) {
    try {
      if (change.action === 'create') {
        const input: Parameters<GroupAdmin['createGroup']>[0] = { kind: change.kind, name: change.name, members: change.members ?? [], creatorRole: options.creatorRole ?? 'manager' };
        if (change.policy) input.policy = change.policy;
        const group = await engine.createGroup(input);
        next.groups[change.key] = { group };
        continue;
      }
      const group = change.group!;
      if (change.renamedFrom !== undefined) await engine.rename(group, change.name);
      for (const r of change.remove) await engine.removeMember(group, r.account);
      for (const r of change.setRole) await engine.setRole(group, r.account, r.role);
      for (const a of change.add) await engine.addMember(group, a.account, a.role);
      if (change.action === 'end') next.groups[change.key] = { group, endedAt: plan.now };
      else if (change.action === 'reopen') next.groups[change.key] = { group };
      else if (change.action === 'close') delete next.groups[change.key];
    } catch (error) {
      throw new SyncApplyError(`sync stopped at ${change.key} (${change.action}): ${(error as Error).message}`, next, { cause: error });
    }
  }
  next.directory = plan.directory;
  return next;
}

/** Refuses a sync that would remove an implausible share of the school (a wrong filter, a half-read tree). */
export class SyncGuardError extends Error {
  override readonly name = 'SyncGuardError';
  constructor(
    message: string,
    readonly plan: SyncPlan,
  ) {
    super(message);
  }
}

/**
 * Directory groups that an older version created with the syncing account as owner: it makes itself manager there
 * (one signed set-role each), so that the next member device that writes rotates the key past it. It still holds
 * the keys of the epochs before that until retention erases them. Returns the groups it changed.
 */
export async function adoptAsManager(engine: GroupAdmin, state: SyncState): Promise<string[]> {
  const adopted: string[] = [];
  for (const record of Object.values(state.groups)) {
    if (engine.state(record.group)?.members.get(engine.account) !== 'owner') continue;
    await engine.setRole(record.group, engine.account, 'manager');
    adopted.push(record.group);
  }
  return adopted;
}

export interface SynchronizeOptions extends Omit<PlanOptions, 'school' | 'self' | 'now'>, ApplyOptions {
  now?: number;
  /**
   * The largest share of the previous directory that may leave in one sync (default 0.25: a summer rollover
   * loses a graduating year and its parents, not half the school). Above it the sync is refused unless `force`.
   */
  maxLeaverShare?: number;
  force?: boolean;
}

/** One sync: plan against the engine's groups and the stored state, apply, return the plan and the new state. */
export async function synchronize(engine: GroupAdmin, directory: Directory, state: SyncState, options: SynchronizeOptions = {}): Promise<{ plan: SyncPlan; state: SyncState; adopted: string[] }> {
  const { maxLeaverShare = 0.25, force = false, now, creatorRole = 'manager', ...planOptions } = options;
  const plan = planSync(state.directory, directory, currentGroupsOf(engine, state), {
    ...planOptions,
    school: state.school,
    self: engine.account,
    now: now ?? engine.now(),
  });
  const before = state.directory?.people.length ?? 0;
  if (!force && before > 0 && plan.leavers.length > maxLeaverShare * before)
    throw new SyncGuardError(`${plan.leavers.length} of ${before} people would leave the school in one sync; check the directory, or sync with force`, plan);
  const adopted = creatorRole === 'manager' ? await adoptAsManager(engine, state) : [];
  return { plan, state: await applyPlan(engine, plan, state, { creatorRole }), adopted };
}
