/**
 * Deterministic resolution: from a set of ops (a causally closed DAG rooted at the create op) to one order and
 * one state. Every replica, relay or device, computes the same result from the same set, whatever the order
 * it received the ops in. The rules are listed in ../README.md ("Resolution rules").
 */
import { type AccountRef, type GroupRole, rankOf } from '@schoolmesh/model';
import { type MembershipOp, authorAccount, certificateAccount, certificateDeviceId } from './ops.ts';
import { type GroupState, type JudgeContext, applyOp, emptyState, isSelfAdd, judge } from './state.ts';

/** What a revocation (remove, remove-device, downgrading set-role) takes away. */
export interface Revocation {
  account?: AccountRef;
  device?: string;
  /** For a downgrade: the role the account is lowered to. */
  downgradeTo?: GroupRole;
}

/** An accepted op with the facts about it that depend only on the op and its ancestors (fixed at acceptance). */
export interface StoredOp {
  op: MembershipOp;
  /** Arrival index in this log; every ancestor has a smaller one. */
  index: number;
  /** Bit i set = the op with index i is an ancestor. */
  ancestors: Uint32Array;
  /** Indices of its parents. */
  parentIndices: number[];
  /** Indices of the accepted ops that name it as parent (grows as they arrive). */
  childIndices: number[];
  account: AccountRef;
  device: string;
  /** 0 for revocations (remove, remove-device, set-role lowering a role): placed first among ready ops. */
  priority: 0 | 1;
  /** Valid in the state at its parents. */
  authorized: boolean;
  /** What it revokes when authorized. */
  revokes: Revocation | undefined;
  /** The op that made the author a member, as seen at its parents (for seniority). */
  authorSince: string | undefined;
}

export function hasBit(bits: Uint32Array, i: number): boolean {
  const w = i >>> 5;
  return w < bits.length && (bits[w]! & (1 << (i & 31))) !== 0;
}

export function setBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5]! |= 1 << (i & 31);
}

export function isAncestor(a: StoredOp, b: StoredOp): boolean {
  return a.index < b.index && hasBit(b.ancestors, a.index);
}

export function concurrent(a: StoredOp, b: StoredOp): boolean {
  return a !== b && !isAncestor(a, b) && !isAncestor(b, a);
}

/** Static facts of an op judged in `atParents`, the resolved state of exactly its ancestors. */
export function staticFacts(
  op: MembershipOp,
  atParents: GroupState,
): Pick<StoredOp, 'priority' | 'authorized' | 'revokes' | 'authorSince'> {
  const account = authorAccount(op);
  const authorized = judge(atParents, op) === undefined;
  const body = op.body;
  let revokes: Revocation | undefined;
  let priority: 0 | 1 = 1;
  if (body.type === 'remove') {
    priority = 0;
    revokes = { account: body.account };
  } else if (body.type === 'remove-device') {
    priority = 0;
    revokes = { device: body.device };
  } else if (body.type === 'set-role') {
    const current = atParents.members.get(body.account);
    if (current !== undefined && rankOf(body.role) < rankOf(current)) {
      priority = 0;
      revokes = { account: body.account, downgradeTo: body.role };
    }
  }
  return {
    priority,
    authorized,
    revokes: authorized ? revokes : undefined,
    authorSince: atParents.memberSince.get(account),
  };
}

/** Min-heap of ready ops by (priority, id). */
class ReadyHeap {
  private items: StoredOp[] = [];
  get size(): number {
    return this.items.length;
  }
  private less(a: StoredOp, b: StoredOp): boolean {
    if (a.priority !== b.priority) return a.priority < b.priority;
    return a.op.id < b.op.id;
  }
  push(x: StoredOp): void {
    const items = this.items;
    items.push(x);
    let i = items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(items[i]!, items[p]!)) break;
      [items[i], items[p]] = [items[p]!, items[i]!];
      i = p;
    }
  }
  pop(): StoredOp {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.less(items[l]!, items[m]!)) m = l;
        if (r < items.length && this.less(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * The deterministic order: a topological order in which, among the ops whose parents are all placed, the next
 * one is the revocation with the smallest id, else the op with the smallest id. `ops` must be causally closed;
 * `all` is the log's list by index (for children).
 */
export function linearize(ops: readonly StoredOp[], all: readonly StoredOp[]): StoredOp[] {
  const inSet = new Uint8Array(all.length);
  for (const s of ops) inSet[s.index] = 1;
  const waiting = new Int32Array(all.length);
  const heap = new ReadyHeap();
  for (const s of ops) {
    waiting[s.index] = s.parentIndices.length;
    if (s.parentIndices.length === 0) heap.push(s);
  }
  const order: StoredOp[] = [];
  while (heap.size > 0) {
    const s = heap.pop();
    order.push(s);
    for (const c of s.childIndices) {
      if (inSet[c] === 0) continue;
      if (--waiting[c]! === 0) heap.push(all[c]!);
    }
  }
  return order;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export interface Resolution {
  order: StoredOp[];
  state: GroupState;
}

/**
 * Resolves a causally closed set of accepted ops (every parent of a member is a member); `all` is the log's
 * whole list by index.
 */
export function resolve(group: string, ops: readonly StoredOp[], all: readonly StoredOp[] = ops): Resolution {
  const order = linearize(ops, all);
  const position = new Map<string, number>();
  for (let i = 0; i < order.length; i++) position.set(order[i]!.op.id, i);

  const revokersOfAccount = new Map<AccountRef, StoredOp[]>();
  const revokersOfDevice = new Map<string, StoredOp[]>();
  const addDevicesFor = new Map<AccountRef, StoredOp[]>();
  // Walk the resolved order, not arrival order: the first concurrent revoker found names the reason an op is
  // ignored, and that must be the same on every replica.
  for (const s of order) {
    const r = s.revokes;
    if (r?.account !== undefined) push(revokersOfAccount, r.account, s);
    if (r?.device !== undefined) push(revokersOfDevice, r.device, s);
    if (s.op.body.type === 'add-device') push(addDevicesFor, certificateAccount(s.op.body.certificate), s);
  }

  /** Seniority: the earlier the op that made the account a member, the more senior; the creator first. */
  const seniority = (s: StoredOp): [number, number, string] => {
    const since = s.authorSince;
    const sinceOp = since === undefined ? undefined : order[position.get(since) ?? -1];
    return [
      sinceOp ? position.get(since!)! : Number.MAX_SAFE_INTEGER,
      sinceOp && authorAccount(sinceOp.op) === s.account ? 0 : 1,
      s.account,
    ];
  };
  const moreSenior = (a: StoredOp, b: StoredOp): boolean => {
    const x = seniority(a);
    const y = seniority(b);
    if (x[0] !== y[0]) return x[0] < y[0];
    if (x[1] !== y[1]) return x[1] < y[1];
    return x[2] < y[2];
  };
  /** Does `x` itself revoke the author of `r`? */
  const revokesAuthorOf = (x: StoredOp, r: StoredOp): boolean =>
    x.revokes !== undefined && (x.revokes.account === r.account || x.revokes.device === r.device);

  const state = emptyState(group);
  for (const s of order) {
    const op = s.op;
    const ctx: JudgeContext = {};
    let reason: string | undefined;
    if (op.body.type !== 'create') {
      const revokers = [...(revokersOfAccount.get(s.account) ?? []), ...(revokersOfDevice.get(s.device) ?? [])];
      for (const r of revokers) {
        if (!concurrent(r, s)) continue;
        // Two concurrent revocations of each other's authors: the more senior author wins.
        if (revokesAuthorOf(s, r) && moreSenior(s, r)) continue;
        const to = r.revokes!.downgradeTo;
        if (to !== undefined && r.revokes!.device === undefined) {
          if (ctx.roleCap === undefined || rankOf(to) < rankOf(ctx.roleCap)) ctx.roleCap = to;
        } else {
          reason = `its author was removed by a concurrent op ${r.op.id}`;
          break;
        }
      }
      if (reason === undefined && isSelfAdd(op) && op.body.type === 'add-device') {
        const id = certificateDeviceId(op.body.certificate);
        for (const other of addDevicesFor.get(s.account) ?? []) {
          if (other.op.body.type !== 'add-device' || certificateDeviceId(other.op.body.certificate) === id) continue;
          if (concurrent(other, s)) {
            ctx.bootstrapConflict = true;
            break;
          }
        }
      }
    }
    reason ??= judge(state, op, ctx);
    if (reason === undefined) applyOp(state, op);
    else state.ignored.push({ op: op.id, type: op.body.type, reason });
  }
  return { order, state };
}
