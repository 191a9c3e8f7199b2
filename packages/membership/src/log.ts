/**
 * MembershipLog: the ops of one group, as a DAG, with its resolved state. Checks every op on arrival
 * (decoding, signature, certificates, entitlement at its parents), keeps ops whose parents are missing until they
 * arrive, and recomputes the deterministic resolution when concurrent ops arrive.
 */
import { verifySignature } from '@schoolmesh/crypto';
import { CertificateError, type DeviceCertificate, TrustStore } from '@schoolmesh/identity';
import { DecodeError, fromBase64Url } from '@schoolmesh/wire';
import { MembershipError } from './errors.ts';
import { type MembershipOp, authorAccount, authorDeviceId, decodeOp, isDecodedOp, signedMessage } from './ops.ts';
import { type StoredOp, hasBit, resolve, setBit, staticFacts } from './resolve.ts';
import { type GroupState, cloneState, devicesOf, emptyState, isSelfAdd, judge, applyOp, keyRefusal } from './state.ts';

export type AddStatus = 'applied' | 'duplicate' | 'missing-parents' | 'rejected';

export interface AddResult {
  status: AddStatus;
  /** The op id, when the input decoded. */
  id?: string;
  reason?: string;
  /** For 'missing-parents': the parent ids this log lacks. */
  missing?: string[];
  /** Ids of ops that had been waiting for this one and are now accepted too. */
  released?: string[];
  /**
   * The op's certificate was expired, not yet valid or revoked at arrival, but its chain and signature are sound:
   * it is kept aside (not accepted) until an op by a currently valid device names it as an ancestor.
   */
  held?: boolean;
}

export interface MembershipLogOptions {
  /** The group this log is for; when omitted, the first create op accepted fixes it. */
  group?: string;
  /** Most ops kept waiting for parents (default 10,000); beyond it ops are rejected. */
  maxPending?: number;
}

interface Pending {
  op: MembershipOp;
  missing: Set<string>;
  /** Certificates valid at arrival, or named as an ancestor by an op whose certificates were. */
  vouched: boolean;
}

/** Certificate failures that only say "not now": the op may still be history that others built on. */
const timeBound = new Set(['expired', 'not-yet-valid', 'revoked']);

const MAX_REJECTED_REMEMBERED = 10_000;

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

export class MembershipLog {
  private groupId: string | undefined;
  private readonly maxPending: number;
  private readonly byId = new Map<string, StoredOp>();
  private readonly list: StoredOp[] = [];
  private readonly headSet = new Set<string>();
  private readonly pending = new Map<string, Pending>();
  private readonly waitingOn = new Map<string, Set<string>>();
  private readonly rejected = new Set<string>();
  private createId: string | undefined;
  private working: GroupState;
  private order: StoredOp[] = [];
  private dirty = false;
  private snapshot: GroupState | undefined;

  constructor(
    readonly trust: TrustStore,
    options: MembershipLogOptions | string = {},
  ) {
    const opts = typeof options === 'string' ? { group: options } : options;
    this.groupId = opts.group;
    this.maxPending = opts.maxPending ?? 10_000;
    this.working = emptyState(this.groupId ?? '');
  }

  /** The group id, once known. */
  get group(): string | undefined {
    return this.groupId;
  }

  /** Number of accepted ops. */
  get size(): number {
    return this.list.length;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): MembershipOp | undefined {
    return this.byId.get(id)?.op;
  }

  /** Ids of ops kept waiting for parents. */
  pendingIds(): string[] {
    return [...this.pending.keys()].sort();
  }

  /** Accepted ops no other accepted op names as parent; what a new local op takes as its parents. */
  heads(): string[] {
    return [...this.headSet].sort();
  }

  /**
   * Receives one op from anywhere (a peer, a relay, the local device). Checks, in order: decoding; group;
   * duplicate; the author's certificate at the trust store's clock now, the signature, and an add-device's
   * certificate; parents present (else kept pending); entitlement at its parents. See README "Resolution rules".
   */
  async add(input: MembershipOp | Uint8Array): Promise<AddResult> {
    let op: MembershipOp;
    try {
      // An op object straight from decodeOp is what its bytes say; any other object is decoded again from its bytes.
      op = input instanceof Uint8Array ? decodeOp(input) : isDecodedOp(input) ? input : decodeOp(input.bytes);
    } catch (error) {
      const text = error instanceof DecodeError ? error.message : errorText(error);
      return { status: 'rejected', reason: `malformed: ${text}` };
    }
    const early = this.precheck(op);
    if (early) return early;
    let vouched = true;
    try {
      const certs = [op.author];
      if (op.body.type === 'add-device') certs.push(op.body.certificate);
      for (const cert of certs) if (!(await this.checkCertificate(cert))) vouched = false;
      if (!(await verifySignature(op.author.deviceKey, signedMessage(op), op.signature)))
        throw new MembershipError('bad-signature', 'the signature does not verify');
    } catch (error) {
      return { status: 'rejected', id: op.id, reason: errorText(error) };
    }
    return this.admit(op, vouched);
  }

  /**
   * True when the certificate is valid now; false when it is sound but expired, not yet valid or revoked (the op
   * then needs a vouching descendant); throws CertificateError otherwise.
   */
  private async checkCertificate(cert: DeviceCertificate): Promise<boolean> {
    try {
      await this.trust.verifyDevice(cert);
      return true;
    } catch (error) {
      if (!(error instanceof CertificateError) || !timeBound.has(error.code)) throw error;
      if (!(await this.chainSoundIgnoringTime(cert))) throw error;
      return false;
    }
  }

  private history: { store: TrustStore; at: number } | undefined;

  /** The certificate chain verifies at some moment of its own validity window, against the same trusted roots. */
  private async chainSoundIgnoringTime(cert: DeviceCertificate): Promise<boolean> {
    if (!this.trust.hasSchool(cert.school)) return false;
    const at = Math.max(cert.notBefore, cert.authority.notBefore);
    if (at >= Math.min(cert.notAfter, cert.authority.notAfter)) return false;
    if (!this.history) {
      const history: { store: TrustStore; at: number } = { at: 0, store: new TrustStore(() => history.at) };
      this.history = history;
    }
    const history = this.history;
    for (const school of this.trust.schools()) history.store.addSchool(fromBase64Url(school));
    history.at = at; // read synchronously by verifyDevice before its first await
    try {
      await history.store.verifyDevice(cert);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Re-loads an op this replica accepted before, from its own storage: skips the certificate and signature checks
   * (certificates are short-lived and may have expired since) but applies every other rule. Never use it for
   * bytes that came from the network.
   */
  restore(input: MembershipOp | Uint8Array): AddResult {
    let op: MembershipOp;
    try {
      op = input instanceof Uint8Array ? decodeOp(input) : decodeOp(input.bytes);
    } catch (error) {
      return { status: 'rejected', reason: `malformed: ${errorText(error)}` };
    }
    return this.precheck(op) ?? this.admit(op, true);
  }

  private precheck(op: MembershipOp): AddResult | undefined {
    if (this.byId.has(op.id) || this.pending.has(op.id)) return { status: 'duplicate', id: op.id };
    if (this.groupId !== undefined && op.group !== this.groupId)
      return { status: 'rejected', id: op.id, reason: 'op of another group' };
    if (op.body.type === 'create' && this.createId !== undefined)
      return { status: 'rejected', id: op.id, reason: 'the group already has a create op' };
    return undefined;
  }

  /** Synchronous from here on: no other add can interleave. */
  private admit(op: MembershipOp, vouched: boolean): AddResult {
    const early = this.precheck(op);
    if (early) return early;
    if (op.parents.some((p) => this.rejected.has(p))) return this.reject(op, 'a parent op was rejected');
    const released: string[] = [];
    let isVouched = vouched;
    for (const child of this.waitingOn.get(op.id) ?? []) if (this.pending.get(child)?.vouched) isVouched = true;
    // An op whose certificates are valid now (or that such an op builds on) vouches for its held ancestors.
    if (isVouched) this.vouch(op.parents.filter((p) => !this.byId.has(p)), released);
    const missing = op.parents.filter((p) => !this.byId.has(p));
    const entry: Pending = { op, missing: new Set(missing), vouched: isVouched };
    if (missing.length > 0 || !entry.vouched) {
      // Not remembered as rejected: the op may be fine once fewer ops wait.
      if (this.pending.size >= this.maxPending) return { status: 'rejected', id: op.id, reason: 'too many ops waiting' };
      this.pending.set(op.id, entry);
      for (const p of missing) {
        const set = this.waitingOn.get(p) ?? new Set<string>();
        this.waitingOn.set(p, set);
        set.add(op.id);
      }
      const result: AddResult =
        missing.length > 0
          ? { status: 'missing-parents', id: op.id, missing }
          : {
              status: 'rejected',
              id: op.id,
              reason: 'certificate not valid at arrival: held until an op by a valid device builds on it',
            };
      if (!entry.vouched) result.held = true;
      if (released.length > 0) result.released = released;
      return result;
    }
    const result = this.accept(op);
    if (result.status === 'applied') this.release(op.id, released);
    if (released.length > 0) result.released = released;
    return result;
  }

  /** Marks pending ancestors as vouched for; accepts those whose parents are all present (and what they release). */
  private vouch(ids: readonly string[], released: string[]): void {
    const stack = [...ids];
    const ready: string[] = [];
    while (stack.length > 0) {
      const id = stack.pop()!;
      const entry = this.pending.get(id);
      if (!entry || entry.vouched) continue;
      entry.vouched = true;
      if (entry.missing.size === 0) ready.push(id);
      stack.push(...entry.missing);
    }
    for (const id of ready.sort()) {
      const entry = this.pending.get(id);
      if (!entry) continue;
      this.dropPending(id);
      const result = this.accept(entry.op);
      if (result.status === 'applied') {
        released.push(id);
        this.release(id, released);
      }
    }
  }

  private reject(op: MembershipOp, reason: string): AddResult {
    this.rememberRejected(op.id);
    return { status: 'rejected', id: op.id, reason };
  }

  private rememberRejected(id: string): void {
    const queue = [id];
    while (queue.length > 0) {
      const next = queue.pop()!;
      if (this.rejected.size >= MAX_REJECTED_REMEMBERED) {
        const first = this.rejected.values().next().value;
        if (first !== undefined) this.rejected.delete(first);
      }
      this.rejected.add(next);
      // Whatever waited for it can never be accepted.
      const children = this.waitingOn.get(next);
      this.waitingOn.delete(next);
      for (const child of children ?? []) {
        if (!this.pending.has(child)) continue;
        this.dropPending(child);
        queue.push(child);
      }
    }
  }

  private dropPending(id: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    for (const parent of p.missing) {
      const set = this.waitingOn.get(parent);
      set?.delete(id);
      if (set?.size === 0) this.waitingOn.delete(parent);
    }
  }

  private release(id: string, released: string[]): void {
    const queue = [id];
    while (queue.length > 0) {
      const parent = queue.shift()!;
      const children = this.waitingOn.get(parent);
      this.waitingOn.delete(parent);
      for (const child of [...(children ?? [])].sort()) {
        const p = this.pending.get(child);
        if (!p) continue;
        p.missing.delete(parent);
        if (p.missing.size > 0 || !p.vouched) continue;
        this.pending.delete(child);
        const result = this.accept(p.op);
        if (result.status === 'applied') {
          released.push(child);
          queue.push(child);
        }
      }
    }
  }

  /** All parents are present. Judge the op at its parents, store it, update the resolution. */
  private accept(op: MembershipOp): AddResult {
    const isCreate = op.body.type === 'create';
    if (isCreate) {
      if (this.createId !== undefined) return this.reject(op, 'the group already has a create op');
      if (this.groupId !== undefined && op.group !== this.groupId) return this.reject(op, 'op of another group');
    } else if (this.groupId === undefined || op.group !== this.groupId) {
      return this.reject(op, 'op of another group');
    }

    const index = this.list.length;
    const ancestors = new Uint32Array(Math.ceil(index / 32));
    for (const p of op.parents) {
      const parent = this.byId.get(p)!;
      for (let w = 0; w < parent.ancestors.length; w++) ancestors[w]! |= parent.ancestors[w]!;
      setBit(ancestors, parent.index);
    }

    // On top of every head: resolve what came before once, then extend the order by this op alone.
    const fast = this.isAllHeads(op.parents);
    if (fast) this.resolved();
    let atParents: GroupState;
    if (isCreate) atParents = emptyState(op.group);
    else if (fast) atParents = this.working;
    else atParents = resolve(op.group, this.list.filter((s) => hasBit(ancestors, s.index)), this.list).state;

    const refusal = isCreate ? judge(atParents, op) : this.entitlementAtParents(atParents, op);
    if (refusal !== undefined) return this.reject(op, refusal);

    const stored: StoredOp = {
      op,
      index,
      ancestors,
      parentIndices: op.parents.map((p) => this.byId.get(p)!.index),
      childIndices: [],
      account: authorAccount(op),
      device: authorDeviceId(op),
      ...staticFacts(op, atParents),
    };
    this.list.push(stored);
    this.byId.set(op.id, stored);
    for (const p of stored.parentIndices) this.list[p]!.childIndices.push(index);
    for (const p of op.parents) this.headSet.delete(p);
    this.headSet.add(op.id);
    this.snapshot = undefined;
    if (isCreate) {
      this.createId = op.id;
      this.groupId = op.group;
      this.working = emptyState(op.group);
    }

    if (fast || isCreate) {
      // It descends from every op held: it is last in the order and concurrent with nothing.
      const reason = judge(this.working, op);
      if (reason === undefined) applyOp(this.working, op);
      else this.working.ignored.push({ op: op.id, type: op.body.type, reason });
      this.order.push(stored);
    } else {
      this.dirty = true;
    }
    return { status: 'applied', id: op.id };
  }

  /** Can the author ever act here? Member at its parents, and a listed device (or a first device adding itself). */
  private entitlementAtParents(s: GroupState, op: MembershipOp): string | undefined {
    if (s.createdBy === undefined) return 'the group does not exist at its parents';
    const account = authorAccount(op);
    if (!s.members.has(account)) return 'author is not a member of the group at its parents';
    const device = s.devices.get(authorDeviceId(op));
    if (device && device.account === account) return keyRefusal(s, op);
    if (isSelfAdd(op)) {
      if (devicesOf(s, account).length === 0) return undefined;
      return 'the account already has devices in the group: a new device needs their approval';
    }
    return 'author device is not listed in the group';
  }

  private isAllHeads(parents: readonly string[]): boolean {
    if (parents.length !== this.headSet.size) return false;
    for (const p of parents) if (!this.headSet.has(p)) return false;
    return true;
  }

  private resolved(): void {
    if (!this.dirty) return;
    const { order, state } = resolve(this.groupId ?? '', this.list, this.list);
    this.order = order;
    this.working = state;
    this.dirty = false;
  }

  /** The accepted ops in the deterministic order. */
  ops(): MembershipOp[] {
    this.resolved();
    return this.order.map((s) => s.op);
  }

  /**
   * What a replica whose heads (or any known ids) are `known` lacks: every accepted op that is neither one of
   * them nor an ancestor of one, in the deterministic order (so parents come first). Unknown ids are skipped.
   */
  opsNotIn(known: Iterable<string>): MembershipOp[] {
    this.resolved();
    const have = new Uint32Array(Math.ceil(this.list.length / 32));
    for (const id of known) {
      const s = this.byId.get(id);
      if (!s) continue;
      setBit(have, s.index);
      for (let w = 0; w < s.ancestors.length; w++) have[w]! |= s.ancestors[w]!;
    }
    return this.order.filter((s) => !hasBit(have, s.index)).map((s) => s.op);
  }

  /**
   * The op `id` and its ancestors, less what a replica whose heads (or any known ids) are `known` holds, parents
   * first: what that replica needs to apply `id` and nothing later (a removed device learning of its removal).
   */
  pastOf(id: string, known: Iterable<string>): MembershipOp[] {
    this.resolved();
    const target = this.byId.get(id);
    if (!target) return [];
    const have = new Uint32Array(Math.ceil(this.list.length / 32));
    for (const k of known) {
      const s = this.byId.get(k);
      if (!s) continue;
      setBit(have, s.index);
      for (let w = 0; w < s.ancestors.length; w++) have[w]! |= s.ancestors[w]!;
    }
    return this.order.filter((s) => (s === target || hasBit(target.ancestors, s.index)) && !hasBit(have, s.index)).map((s) => s.op);
  }

  /** The resolved state (a snapshot: later adds do not change it). */
  state(): GroupState {
    this.resolved();
    this.snapshot ??= cloneState(this.working);
    return this.snapshot;
  }
}
