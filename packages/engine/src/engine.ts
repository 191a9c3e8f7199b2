import { type Attachment, BucketDoc, type ChatMessage, mergeOwnUpdates, type PostInput } from '@schoolmesh/content';
import { chainSeed, type Entry, MAX_ENTRY_CIPHERTEXT, openEntry, sealEntry, signManifest } from '@schoolmesh/entries';
import type { DeviceCertificate, DeviceIdentity, TrustStore } from '@schoolmesh/identity';
import {
  canPost,
  canRead,
  certificateDeviceId,
  createOp,
  type GroupState,
  mayReceiveEpoch,
  needsRotation,
  newEpochBody,
  type OpBody,
  openEpochKey,
  readingDevices,
  shareKeyBody,
} from '@schoolmesh/membership';
import { type AccountRef, BUCKET_MS, bucketOf, bucketStart, defaultGroupPolicy, type GroupKind, type GroupPolicy, type GroupRole, oldestLiveBucket } from '@schoolmesh/model';
import { epochIdOf, Replica, type ReplicaEvent } from '@schoolmesh/replica';
import type { StorageAdapter } from '@schoolmesh/storage';
import { boundToTransport, type FrameChannel, type PeerInfo, SyncError, type SyncProgress, SyncSession } from '@schoolmesh/sync';
import {
  AttachmentError,
  type AttachmentInput,
  type BlobAddress,
  type BlobTransport,
  blobKey,
  expireBlobs,
  openAttachment,
  sealAttachment,
  sealedSizeOf,
} from './attachments.ts';
import { BlobOutbox, isPermanentRefusal } from './blob-outbox.ts';
import { type Clock, systemClock } from './clock.ts';
import { deviceCredential, trustStoreVerifier } from './credentials.ts';
import { KeyRing } from './keyring.ts';
import { OwnDevices } from './own-devices.ts';
import { type GroupEvent, groupHistory } from './group-history.ts';

export interface EngineOptions {
  storage: StorageAdapter;
  identity: DeviceIdentity;
  trust: TrustStore;
  clock?: Clock;
  log?: (level: 'debug' | 'warn', message: string) => void;
  /** Rotate and share keys on membership changes by itself (default true; tests of raw logs turn it off). */
  autoKeys?: boolean;
  /**
   * Pack finished days and sign manifests by itself: at open, when a day ends, and every `MAINTENANCE_MS`
   * (default true; tests that count entries or manifests turn it off).
   */
  autoPack?: boolean;
}

export interface CreateGroupInput {
  kind: GroupKind;
  name: string;
  members?: { account: AccountRef; role: GroupRole }[];
  policy?: GroupPolicy;
  /** `manager`: this account manages the group without reading it (the school's directory sync). Default owner. */
  creatorRole?: 'owner' | 'manager';
}

export type EngineEvent =
  | { type: 'messages'; group: string; bucket: number }
  | { type: 'groups' }
  | { type: 'progress'; peer: PeerInfo; progress: SyncProgress }
  | { type: 'expired'; buckets: { group: string; bucket: number }[]; erasedKeys: number }
  | { type: 'connection'; peer: PeerInfo; open: boolean }
  /** An attachment of this device's reached the relay (or was given up): its message is no longer waiting for it. */
  | { type: 'uploaded'; group: string; bucket: number; id: string }
  /** This device (or its account) was taken out of the group: it stays, read-only, until retention. */
  | { type: 'removed'; group: string; by: string };

export interface GroupSummary {
  id: string;
  name: string;
  kind: GroupKind;
  myRole: GroupRole | undefined;
  policy: GroupPolicy;
  members: number;
  /** Set when this device or its account was removed from the group: old messages stay readable, nothing new comes. */
  removed?: true;
}

export interface Posted {
  key: string;
  bucket: number;
  /** Resolves when a peer (normally the school's relay) has durably stored the entries. */
  acked: Promise<void>;
}

/**
 * How long after its day ends a bucket still takes writes (late edits, reactions, read marks). After that it is
 * finished: read-only, and each author may pack its entries of it into one (docs/architecture.md, "Why chains").
 */
export const BUCKET_GRACE_MS = BUCKET_MS;

export function isFinished(bucket: number, now: number): boolean {
  return now >= bucketStart(bucket + 1) + BUCKET_GRACE_MS;
}

/** Does a manager (the school's directory sync account) run this group? */
function isManaged(state: GroupState): boolean {
  for (const role of state.members.values()) if (role === 'manager') return true;
  return false;
}

/**
 * How often the engine looks, besides at open and when a day ends, for finished days to pack and chains to list in a
 * new manifest (which also bounds how long a chain written today waits to be vouched for by one).
 */
export const MAINTENANCE_MS = 15 * 60 * 1000;

/** How often a refused live push is sent again on the same session (see `Engine.pushTo`). */
const PUSH_RETRIES = 3;

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: 'not-a-member' | 'forbidden' | 'no-key' | 'unknown-group' | 'closed' | 'finished',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The device's single entry point: opened with storage, identity, trust and clock, it runs unchanged in a
 * browser worker, in Node and in tests. Networking enters only through `connect(channel)`.
 */
export class Engine {
  readonly deviceId: string;
  readonly account: AccountRef;
  private readonly clock: Clock;
  private readonly docs = new Map<string, Promise<BucketDoc>>();
  private readonly sessions = new Set<SyncSession>();
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  private queue: Promise<unknown> = Promise.resolve();
  private unacked: { entries: Entry[]; resolve: () => void }[] = [];
  private closed = false;
  /** Set when close() begins: background packing stops, queued writes still run. */
  private stopping = false;
  private cancelMaintenance: (() => void) | undefined;
  private maintaining: Promise<void> | undefined;
  private maintainAgain = false;
  /** Chains packing looked at and could not pack (several epochs, a missing key, too big): `group/bucket/seq`. */
  private readonly unpackable = new Set<string>();
  /** Groups this device has been removed from (known at open or told by `removed` events since). */
  private readonly removedFrom = new Set<string>();
  private blobs: BlobTransport | undefined;
  private ownDevices!: OwnDevices;
  /** Own attachments still to be uploaded (written offline, or refused for a moment). */
  private outbox!: BlobOutbox;

  private constructor(
    private readonly opts: EngineOptions,
    readonly replica: Replica,
    /** The epoch keys this device holds (tools and tests inspect it; the engine alone changes it). */
    readonly keys: KeyRing,
  ) {
    this.deviceId = opts.identity.id;
    const cert = opts.identity.certificate;
    this.account = `${cert.account}@${cert.school}`;
    this.clock = opts.clock ?? systemClock;
    for (const group of replica.groups()) if (replica.removalOf(group, this.deviceId, this.account)) this.removedFrom.add(group);
    replica.on((e) => this.onReplicaEvent(e));
  }

  static async open(opts: EngineOptions): Promise<Engine> {
    const clock = opts.clock ?? systemClock;
    const replicaOpts = { storage: opts.storage, trust: opts.trust, clock: () => clock.now(), ...(opts.log ? { log: opts.log } : {}) };
    const replica = await Replica.open(replicaOpts);
    const keys = await KeyRing.open(opts.storage);
    const engine = new Engine(opts, replica, keys);
    engine.ownDevices = await OwnDevices.open(opts.storage);
    engine.outbox = await BlobOutbox.open(opts.storage, (a) => engine.emit({ type: 'uploaded', group: a.group, bucket: a.bucket, id: a.id }), opts.log);
    await engine.expire();
    for (const group of replica.groups()) await engine.serial(() => engine.reconcileKeys(group));
    // In the background: opening does not wait for packing, and a failure there is logged, never thrown.
    void engine.maintain();
    return engine;
  }

  on(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: EngineEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** Runs writes one at a time: sequence numbers and membership heads must not race. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  /** Resolves when every queued write and key reconciliation has run. */
  async idle(): Promise<void> {
    let seen: Promise<unknown> | undefined;
    while (seen !== this.queue) {
      seen = this.queue;
      await seen;
    }
  }

  now(): number {
    return this.clock.now();
  }

  // ---------------------------------------------------------------- groups

  groups(): GroupSummary[] {
    const out: GroupSummary[] = [];
    for (const id of this.replica.groups()) {
      const s = this.replica.state(id)!;
      const removed = this.removedFrom.has(id);
      if (!s.members.has(this.account) && !removed) continue;
      out.push({ id, name: s.name, kind: s.kind, myRole: s.members.get(this.account), policy: s.policy, members: s.members.size, ...(removed ? { removed: true as const } : {}) });
    }
    return out;
  }

  state(group: string): GroupState | undefined {
    return this.replica.state(group);
  }

  /** Who changed the group's membership, policy or name, and when (`group-history.ts`); empty for an unknown group. */
  history(group: string): GroupEvent[] {
    const log = this.replica.log(group);
    return log ? groupHistory(log.ops(), log.state()) : [];
  }

  private requireState(group: string): GroupState {
    const s = this.replica.state(group);
    if (!s) throw new EngineError('unknown-group', `unknown group ${group}`);
    return s;
  }

  /**
   * Creates a group with this device's account as owner, and its first key epoch. With `creatorRole: 'manager'` the
   * account manages the group without reading it: no epoch is made here and none is ever sealed to it; the first
   * member device that writes (or reconciles its keys) makes the first one.
   */
  async createGroup(input: CreateGroupInput): Promise<string> {
    return this.serial(async () => {
      const members = (input.members ?? []).filter((m) => m.account !== this.account);
      if (input.creatorRole === 'manager') members.push({ account: this.account, role: 'manager' });
      const body: OpBody = {
        type: 'create',
        kind: input.kind,
        name: input.name,
        policy: input.policy ?? defaultGroupPolicy(input.kind),
        members,
      };
      const op = await createOp(this.opts.identity, null, [], body, this.now());
      await this.commitOps(op.group, [op.bytes]);
      if (input.creatorRole !== 'manager') await this.rotate(op.group);
      for (const s of this.sessions) void s.offerGroup(op.group);
      return op.group;
    });
  }

  addMember(group: string, account: AccountRef, role: GroupRole = 'member'): Promise<void> {
    return this.serial(() => this.signAndCommit(group, { type: 'add', account, role }));
  }

  /**
   * Removes a member and rotates the key, so the removed member cannot read what follows. A manager, which holds no
   * key, leaves the rotation to the next member device that writes or reconciles (needsRotation says so).
   */
  removeMember(group: string, account: AccountRef): Promise<void> {
    return this.serial(async () => {
      await this.signAndCommit(group, { type: 'remove', account });
      await this.rotateIfReader(group);
    });
  }

  /**
   * Takes a device out of a group (a revoked or lost device) and rotates the key, so the device cannot read what
   * follows. Allowed for the device's own account and for owners and moderators above its account's rank.
   */
  removeDevice(group: string, device: string): Promise<void> {
    return this.serial(async () => {
      await this.signAndCommit(group, { type: 'remove-device', device });
      await this.rotateIfReader(group);
    });
  }

  setRole(group: string, account: AccountRef, role: GroupRole): Promise<void> {
    return this.serial(() => this.signAndCommit(group, { type: 'set-role', account, role }));
  }

  /** Gives the group a new name (owners only). */
  rename(group: string, name: string): Promise<void> {
    return this.serial(() => this.signAndCommit(group, { type: 'rename', name }));
  }

  setPolicy(group: string, policy: GroupPolicy): Promise<void> {
    return this.serial(() => this.signAndCommit(group, { type: 'set-policy', policy }));
  }

  /**
   * Takes this device's renewed certificate (same keys, from the school's relay): sessions opened from now on present
   * it, and the device lists it in every group that lists an older one (a self add-device), so receivers accept its
   * entries dated after the old certificate's end. Returns in how many groups it was listed.
   */
  async renewIdentity(identity: DeviceIdentity): Promise<number> {
    if (identity.id !== this.deviceId) throw new EngineError('forbidden', 'a renewed identity must keep the device keys');
    const current = this.opts.identity.certificate;
    if (identity.certificate.account !== current.account || identity.certificate.school !== current.school)
      throw new EngineError('forbidden', 'a renewed identity must keep the account');
    await this.opts.trust.verifyDevice(identity.certificate);
    this.opts.identity = identity;
    let listed = 0;
    for (const group of this.replica.groups()) {
      await this.serial(async () => {
        const entry = this.replica.state(group)?.devices.get(this.deviceId);
        if (!entry || entry.certificate.notAfter >= identity.certificate.notAfter) return;
        try {
          await this.signAndCommit(group, { type: 'add-device', certificate: identity.certificate });
          listed++;
        } catch (error) {
          this.opts.log?.('warn', `could not list the renewed certificate in ${group}: ${(error as Error).message}`);
        }
      });
    }
    return listed;
  }

  /**
   * Approves another device of this account: lists its `certificate` (from the relay's account protocol, checked
   * here against the school's trust) in every group this device is listed in, after which this device shares the
   * group's keys with it. A further device of an account gets into its groups only this way (or by an owner or
   * moderator): the school alone cannot slip a device into someone's chats (docs/threat-model.md). Returns in how
   * many groups it was listed.
   */
  async approveDevice(certificate: DeviceCertificate): Promise<number> {
    const verified = await this.opts.trust.verifyDevice(certificate);
    if (verified.accountRef !== this.account) throw new EngineError('forbidden', 'only a device of this account can be approved by it');
    const id = certificateDeviceId(certificate);
    if (id === this.deviceId) return 0;
    await this.ownDevices.add(certificate);
    let listed = 0;
    for (const group of this.replica.groups()) listed += await this.serial(() => this.listOwnDevices(group, [certificate], false));
    return listed;
  }

  /**
   * Lists the given devices of this account (vouched for by this device) in `group` where this device is listed
   * and they are not; skips any the school revoked or whose certificate ended, and, with `respectRemovals`, any that
   * was taken out of this group before (a moderator's removal of a lost device stands). Runs on the write queue.
   */
  private async listOwnDevices(group: string, certificates: readonly DeviceCertificate[], respectRemovals = true): Promise<number> {
    let listed = 0;
    for (const certificate of certificates) {
      const id = certificateDeviceId(certificate);
      if (!this.wouldList(group, id)) continue;
      if (respectRemovals && this.replica.log(group)?.ops().some((op) => op.body.type === 'remove-device' && op.body.device === id)) continue;
      if (!(await this.opts.trust.verifyDevice(certificate).then(() => true, () => false))) continue;
      await this.signAndCommit(group, { type: 'add-device', certificate });
      listed++;
    }
    return listed;
  }

  /** Is `group` one this device is in (its account a member, not removed) and `device` is not listed in? */
  private wouldList(group: string, device: string): boolean {
    const s = this.replica.state(group);
    return !!s && !this.removedFrom.has(group) && s.members.has(this.account) && s.devices.has(this.deviceId) && !s.devices.has(device);
  }

  /** Is `device` (of this account) missing from a group this device is in, so that approving it would list it? */
  awaitsApproval(device: string): boolean {
    return device !== this.deviceId && this.replica.groups().some((group) => this.wouldList(group, device));
  }

  /**
   * The device of this account that listed this one in `group` (its approver), which this device vouches for in
   * turn: a group this device got into first (the two joined at once) then gets the approver too.
   */
  private async noteApprover(state: GroupState): Promise<void> {
    const addedBy = state.devices.get(this.deviceId)?.addedBy;
    const op = addedBy ? this.replica.log(state.id)?.get(addedBy) : undefined;
    if (op?.body.type !== 'add-device') return;
    const author = op.author;
    if (`${author.account}@${author.school}` !== this.account || certificateDeviceId(author) === this.deviceId) return;
    if (!this.ownDevices.has(certificateDeviceId(author))) await this.ownDevices.add(author);
  }

  /** The identity this device presents (changes with `renewIdentity`). */
  get identity(): DeviceIdentity {
    return this.opts.identity;
  }

  /** Rotates the group key now (also done on removal and by schedule). */
  rotateKey(group: string): Promise<void> {
    return this.serial(() => this.rotate(group));
  }

  private async signAndCommit(group: string, body: OpBody): Promise<void> {
    const log = this.replica.log(group);
    // A log with no heads holds only pending ops (their parents, the group's creation among them, have not arrived):
    // this device does not know the group yet and cannot sign anything on it.
    if (!log || log.heads().length === 0) throw new EngineError('unknown-group', `unknown group ${group}`);
    const op = await createOp(this.opts.identity, group, log.heads(), body, this.now());
    const { rejected, reasons } = await this.replica.addOps(group, [op.bytes]);
    if (rejected > 0) throw new EngineError('forbidden', reasons.join('; '));
    const st = this.replica.state(group);
    const ignored = st?.ignored.find((i) => i.op === op.id);
    if (ignored) throw new EngineError('forbidden', ignored.reason);
    for (const s of this.sessions) s.pushMembership(group, [op.bytes]);
  }

  private async commitOps(group: string, ops: Uint8Array[]): Promise<void> {
    const { rejected, reasons } = await this.replica.addOps(group, ops);
    if (rejected > 0) throw new EngineError('forbidden', reasons.join('; '));
    for (const s of this.sessions) s.pushMembership(group, ops);
  }

  /** Rotates when this device reads the group and someone is left to read (not for a manager). */
  private async rotateIfReader(group: string): Promise<void> {
    const state = this.requireState(group);
    if (canRead(state, this.deviceId) && needsRotation(state, undefined, this.revokedIn(state))) await this.rotate(group);
  }

  /**
   * The devices of a group that this device's trust store says are revoked: treated as removed for key purposes
   * (never sealed or shared a key; an epoch one of them holds is rotated away from by the next writer), whether
   * or not an owner or the sync account has taken them out of the group yet.
   */
  private revokedIn(state: GroupState): Set<string> {
    const out = new Set<string>();
    // Never this device itself: a rotation must seal to its author, and its ops go nowhere once it is revoked.
    for (const [id, d] of state.devices) if (id !== this.deviceId && this.opts.trust.isRevoked(id, d.certificate.school)) out.add(id);
    return out;
  }

  /**
   * Checks every group against the trust store's revocations now (call after a new revocation list was applied):
   * where a revoked device holds the current key and this device reads, it rotates. Returns how many it rotated.
   */
  applyRevocations(): Promise<number> {
    return this.serial(async () => {
      let rotated = 0;
      for (const group of this.replica.groups()) {
        const state = this.replica.state(group);
        if (!state || !canRead(state, this.deviceId)) continue;
        const revoked = this.revokedIn(state);
        if (revoked.size === 0 || !needsRotation(state, undefined, revoked)) continue;
        try {
          await this.rotate(group);
          rotated++;
        } catch (error) {
          this.opts.log?.('warn', `could not rotate ${group} away from revoked devices: ${(error as Error).message}`);
        }
      }
      return rotated;
    });
  }

  private async rotate(group: string): Promise<void> {
    const state = this.requireState(group);
    const { body, key } = await newEpochBody(state, undefined, this.revokedIn(state));
    const log = this.replica.log(group)!;
    const op = await createOp(this.opts.identity, group, log.heads(), body, this.now());
    await this.commitOps(group, [op.bytes]);
    await this.keys.add(group, epochIdOf(op.id), key, bucketOf(this.now()));
  }

  /**
   * Brings this device's keys in line with the membership log: joins groups its account was added to, opens
   * epoch keys sealed to it, shares keys with approved devices that lack them, rotates when someone left.
   */
  private async reconcileKeys(group: string): Promise<void> {
    if (this.closed) return;
    let state = this.replica.state(group);
    if (!state) return;
    const me = this.opts.identity;
    if (state.members.has(this.account) && !state.devices.has(this.deviceId)) {
      const hasOwnDevice = [...state.devices.values()].some((d) => d.account === this.account);
      if (!hasOwnDevice && this.opts.autoKeys !== false) {
        try {
          await this.signAndCommit(group, { type: 'add-device', certificate: me.certificate });
        } catch (error) {
          this.opts.log?.('warn', `could not join ${group}: ${(error as Error).message}`);
        }
        state = this.replica.state(group)!;
      }
    }
    if (!state.devices.has(this.deviceId)) return;
    await this.noteApprover(state);
    // Renewed certificates of the devices this one vouches for: the newest listed anywhere is the one to list next.
    for (const [id, entry] of state.devices) if (this.ownDevices.has(id)) await this.ownDevices.add(entry.certificate);
    if (this.opts.autoKeys !== false && (await this.listOwnDevices(group, this.ownDevices.list())) > 0) state = this.replica.state(group)!;
    let opened = 0;
    for (const epoch of state.epochs) {
      const id = epochIdOf(epoch);
      if (this.keys.has(group, id) || this.keys.wasErased(group, id)) continue;
      try {
        const raw = await openEpochKey(state, epoch, me);
        await this.keys.add(group, id, raw, bucketOf(this.now()));
        opened++;
      } catch {
        // not sealed to this device (it joined later, or history is not shared)
      }
    }
    if (opened > 0) await this.reopenBuckets(group);
    // A manager's device holds no key: it neither rotates nor shares.
    if (this.opts.autoKeys === false || !canRead(state, this.deviceId)) return;
    const revoked = this.revokedIn(state);
    if (needsRotation(state, this.now(), revoked)) {
      await this.rotate(group);
      return;
    }
    await this.shareMissingKeys(group, state, revoked);
  }

  /**
   * Gives the current key (and, if the policy shares history, the older live ones) to reading devices that lack
   * them, never to revoked ones. Owners and moderators share with everyone, members with their own account's
   * devices; when no device of an owner or moderator holds the epoch (a group run by a manager, where a member made
   * the epoch), every holder shares. Two holders sharing the same key is harmless: the first box stands.
   */
  private async shareMissingKeys(group: string, state: GroupState, revoked: ReadonlySet<string>): Promise<void> {
    const myRole = state.members.get(this.account);
    const lead = (role: string | undefined) => role === 'owner' || role === 'moderator';
    const epochs = state.policy.historyForNewMembers === 'retained' ? state.epochs : state.currentEpoch ? [state.currentEpoch] : [];
    for (const epoch of epochs) {
      const raw = this.keys.raw(group, epochIdOf(epoch));
      if (!raw) continue;
      const sealedTo = state.sealedKeys.get(epoch);
      const leadHolds = [...(sealedTo?.keys() ?? [])].some((d) => lead(state.members.get(state.devices.get(d)?.account ?? '')));
      const everyone = lead(myRole) || !leadHolds;
      const lacking = readingDevices(state).filter(
        (id) => !sealedTo?.has(id) && !revoked.has(id) && mayReceiveEpoch(state, epoch, id) && (everyone || state.devices.get(id)!.account === this.account),
      );
      if (lacking.length === 0) continue;
      const body = await shareKeyBody(state, epoch, raw, lacking);
      await this.signAndCommit(group, body);
      state = this.replica.state(group)!;
    }
  }

  // ---------------------------------------------------------------- content

  /** The bucket document, decrypted from the store on first use. */
  openBucket(group: string, bucket: number): Promise<BucketDoc> {
    const id = `${group}/${bucket}`;
    let doc = this.docs.get(id);
    if (!doc) {
      doc = this.loadBucket(group, bucket);
      this.docs.set(id, doc);
    }
    return doc;
  }

  private async loadBucket(group: string, bucket: number): Promise<BucketDoc> {
    const doc = new BucketDoc(group, bucket, this.deviceId);
    const entries = await this.replica.bucketEntries(group, bucket);
    await this.applyToDoc(doc, entries);
    return doc;
  }

  private async applyToDoc(doc: BucketDoc, entries: readonly Entry[]): Promise<void> {
    const items: { update: Uint8Array; author: string; options?: { maxBytes: number } }[] = [];
    for (const entry of entries) {
      const key = await this.keys.aead(entry.group, entry.epoch);
      if (!key) {
        this.opts.log?.('debug', `no key for epoch ${entry.epoch} of ${entry.group}`);
        continue;
      }
      try {
        const update = await openEntry(entry, key);
        items.push(entry.kind === 'packed' ? { update, author: entry.author, options: { maxBytes: MAX_ENTRY_CIPHERTEXT } } : { update, author: entry.author });
      } catch (error) {
        this.opts.log?.('warn', `entry ${entry.author.slice(0, 8)}…/${entry.seq} refused: ${(error as Error).message}`);
      }
    }
    const { refused } = doc.applyRemoteBatch(items);
    for (const r of refused) this.opts.log?.('warn', `update of ${items[r.index]!.author.slice(0, 8)}… refused: ${r.reason}`);
  }

  /** Entries that arrived before their key did are in the store: decrypt open buckets again now. */
  private async reopenBuckets(group: string): Promise<void> {
    for (const [id, doc] of this.docs) {
      const [g, b] = id.split('/');
      if (g !== group) continue;
      const bucket = Number(b);
      await this.applyToDoc(await doc, await this.replica.bucketEntries(group, bucket));
      this.emit({ type: 'messages', group, bucket });
    }
  }

  /** Messages of one bucket (default: today), oldest first, with authors resolved to device ids. */
  async messages(group: string, bucket = bucketOf(this.now())): Promise<ChatMessage[]> {
    const doc = await this.openBucket(group, bucket);
    const state = this.requireState(group);
    // Only devices with a chain in this bucket can have written into it (authorship is checked per update), so only
    // their client ids need computing (a hash each), not those of every device of the group.
    // This device's own writes show before their entries are stored.
    const authors = new Map<number, string>();
    const writers = new Set((await this.replica.vector(group, bucket)).keys()).add(this.deviceId);
    for (const id of writers) if (state.devices.has(id)) authors.set(doc.clientIdOf(id), id);
    return doc.messages(authors);
  }

  liveBuckets(group: string): number[] {
    return this.replica.liveBuckets(group);
  }

  post(group: string, input: PostInput): Promise<Posted> {
    return this.write(group, (doc, now) => doc.post(input, now));
  }

  /** Sets (or clears, when offline) how sealed attachment blobs reach the relay. */
  useBlobTransport(transport: BlobTransport | undefined): void {
    this.blobs = transport;
    this.outbox.setTransport(transport);
  }

  /** Whether an attachment of this device's still waits to be uploaded (its message shows as not yet sent). */
  isUploadPending(group: string, bucket: number, id: string): boolean {
    return this.outbox.has({ group, bucket, id });
  }

  /** Resolves when the attachments waiting now had their upload attempt (tests). */
  uploadsIdle(): Promise<void> {
    return this.outbox.idle();
  }

  /**
   * Posts a message with attachments: each file is sealed under a fresh key and kept in the local store, then
   * uploaded to the relay under (group, today's bucket), and the message that carries the keys is written into that
   * same bucket. With no relay at hand (offline, or the relay does not know a new group yet) the message is written
   * all the same and the files wait in the outbox, to be uploaded when the relay takes them: the message stays
   * pending (`isUploadPending`) until then, and readers see its files once they are there. A refusal that will not
   * change (the relay's size limit) fails the call, and nothing is posted.
   */
  async postWithAttachments(group: string, input: PostInput, files: readonly AttachmentInput[], onProgress?: (done: number, total: number) => void): Promise<Posted> {
    const state = this.requireState(group);
    if (!canPost(state, this.deviceId)) throw new EngineError('forbidden', 'this device may not post in this group');
    const bucket = bucketOf(this.now());
    const sealed = files.map((f) => sealAttachment(f));
    const total = sealed.reduce((n, s) => n + s.sealed.length, 0);
    let before = 0;
    let deferred = !this.blobs;
    const queued: BlobAddress[] = [];
    for (const { sealed: bytes, attachment } of sealed) {
      const address: BlobAddress = { group, bucket, id: attachment.id };
      await this.opts.storage.save(blobKey(address), bytes);
      const transport = this.blobs;
      if (!deferred && transport) {
        try {
          await transport.put(address, bytes, (done) => onProgress?.(before + done, total));
          before += bytes.length;
          continue;
        } catch (error) {
          if (isPermanentRefusal(error)) {
            for (const s of sealed) await this.opts.storage.remove(blobKey({ group, bucket, id: s.attachment.id }));
            throw new AttachmentError('refused', `upload refused: ${(error as Error).message}`);
          }
          // Offline or refused for now: this file and the rest follow from the outbox.
          deferred = true;
        }
      }
      queued.push(address);
    }
    const posted = await this.write(group, (doc, now) => doc.post({ ...input, attachments: [...(input.attachments ?? []), ...sealed.map((s) => s.attachment)] }, now), bucket);
    for (const address of queued) await this.outbox.add(address);
    return posted;
  }

  /**
   * The plaintext of an attachment of a message in (group, bucket): from the local store, or downloaded from the
   * relay and kept. Verified against the message's reference (address, key, plaintext hash) every time.
   */
  async attachment(group: string, bucket: number, attachment: Attachment, onProgress?: (done: number, total: number) => void): Promise<Uint8Array> {
    if (!this.canRead(group)) throw new EngineError('not-a-member', 'this device cannot read this group');
    const address: BlobAddress = { group, bucket, id: attachment.id };
    const local = await this.opts.storage.load(blobKey(address));
    if (local) return openAttachment(local, attachment);
    const transport = this.blobs;
    if (!transport) throw new AttachmentError('offline', 'this attachment is not on this device yet and the relay is not reachable');
    let sealed: Uint8Array;
    try {
      sealed = await transport.get(address, sealedSizeOf(attachment), onProgress);
    } catch (error) {
      throw new AttachmentError('not-found', `download failed: ${(error as Error).message}`);
    }
    const plaintext = openAttachment(sealed, attachment);
    await this.opts.storage.save(blobKey(address), sealed);
    return plaintext;
  }

  edit(group: string, bucket: number, key: string, text: string): Promise<Posted> {
    return this.write(group, (doc, now) => {
      doc.edit(key, text, now);
      return key;
    }, bucket);
  }

  deleteForEveryone(group: string, bucket: number, key: string): Promise<Posted> {
    return this.write(group, (doc, now) => {
      doc.deleteForEveryone(key, now);
      return key;
    }, bucket);
  }

  react(group: string, bucket: number, key: string, emoji: string | null): Promise<Posted> {
    return this.write(group, (doc) => {
      doc.react({ bucket, key }, emoji);
      return key;
    });
  }

  markRead(group: string, bucket: number, key: string): Promise<Posted> {
    return this.write(group, (doc, now) => {
      doc.markRead(key, now);
      return key;
    }, bucket);
  }

  /** Runs one local change on a bucket document and turns its Yjs update into a sealed, stored, pushed entry. */
  private write(group: string, change: (doc: BucketDoc, now: number) => string, bucketOverride?: number): Promise<Posted> {
    return this.serial(async () => {
      if (this.closed) throw new EngineError('closed', 'engine closed');
      let state = this.requireState(group);
      if (!canPost(state, this.deviceId)) throw new EngineError('forbidden', 'this device may not post in this group');
      if (needsRotation(state, this.opts.autoKeys === false ? undefined : this.now(), this.revokedIn(state))) {
        // No epoch yet (a group made by a manager), a removal or revocation nobody rotated for yet, or (with autoKeys)
        // the scheduled rotation of policy.keyRotationDays: rotate before writing. Nothing is written under a key a
        // removed or revoked device holds once this device knows of the removal, whatever autoKeys says.
        await this.rotate(group);
        state = this.requireState(group);
      }
      if (state.currentEpoch && !this.keys.has(group, epochIdOf(state.currentEpoch))) {
        // A rotation arrived and its key is not opened yet: open it now rather than fail.
        await this.reconcileKeys(group);
        state = this.requireState(group);
      }
      if (state.currentEpoch && !this.keys.has(group, epochIdOf(state.currentEpoch)) && this.opts.autoKeys !== false && isManaged(state)) {
        // A group run by a manager has no always-online holder of its key (the manager holds none): rather than wait
        // for a member that holds it to come online and share it, make a new epoch for the current readers.
        await this.rotate(group);
        state = this.requireState(group);
      }
      const epoch = state.currentEpoch;
      const key = epoch ? await this.keys.aead(group, epochIdOf(epoch)) : undefined;
      if (!epoch || !key) throw new EngineError('no-key', 'no key for the current epoch yet');
      const now = this.now();
      const bucket = bucketOverride ?? bucketOf(now);
      if (isFinished(bucket, now)) throw new EngineError('finished', 'messages of finished days can no longer be changed');
      const doc = await this.openBucket(group, bucket);
      const updates: Uint8Array[] = [];
      const off = doc.onLocalUpdate((u) => updates.push(u));
      let result: string;
      try {
        result = change(doc, now);
      } finally {
        off();
      }
      const entries: Entry[] = [];
      const chain = this.replica.chain(group, bucket, this.deviceId);
      let seq = chain?.seq ?? 0;
      let prev = chain?.head ?? chainSeed(group, bucket, this.deviceId);
      for (const plaintext of updates) {
        seq++;
        const sealed = await sealEntry(this.opts.identity, key, { kind: 'single', group, bucket, seq, epoch: epochIdOf(epoch), plaintext, prev });
        prev = sealed.head;
        entries.push(sealed.entry);
      }
      if (entries.length > 0) {
        const stored = await this.replica.applyEntries(entries);
        if (stored.rejected > 0) throw new EngineError('forbidden', `own entry refused: ${stored.reason}`);
      }
      return { key: result, bucket, acked: this.push(group, entries) };
    });
  }

  private forwardEntries(session: SyncSession, entries: Entry[]): void {
    if (!session.peer) return;
    const readable = entries.filter((e) => this.replica.mayRead(session.peer!, e.group));
    if (readable.length > 0) session.pushEntries(readable).catch(() => {});
  }

  /** Sends entries to every connected peer that may read the group; resolves on the first acknowledgement. */
  private push(group: string, entries: Entry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      let done = false;
      const settle = () => {
        if (done) return;
        done = true;
        this.unacked = this.unacked.filter((u) => u.resolve !== settle);
        resolve();
      };
      this.unacked.push({ entries, resolve: settle });
      for (const s of this.sessions) {
        if (s.peer && this.replica.mayRead(s.peer, group)) this.pushTo(s, entries, settle);
      }
    });
  }

  /**
   * Pushes own entries to one peer. The peer may refuse a live push that outran something it needs first: the
   * earlier entries of the chain still on their way with catch-up (a gap), or the op of a new key epoch it is still
   * applying from another session. Then, once this session has caught up, the chain goes again from its first entry
   * up to the pushed ones (the peer skips what it holds), at most `PUSH_RETRIES` times with growing pauses; after
   * that the entries wait for the next session's catch-up, as when offline.
   */
  private pushTo(session: SyncSession, entries: Entry[], settle: () => void, attempt = 0): void {
    session.pushEntries(entries).then(settle, async (error: unknown) => {
      if (!(error instanceof SyncError) || error.code !== 'remote' || error.remoteCode !== undefined || attempt >= PUSH_RETRIES) return;
      if (!(await session.caughtUp().then(() => true, () => false))) return;
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
      if (!this.sessions.has(session)) return;
      this.pushTo(session, await this.ownChainThrough(entries), settle, attempt + 1);
    });
  }

  /**
   * Sends this device's chain of (group, bucket) over `session` again and resolves once the peer acknowledged it
   * (what the peer holds already it skips; a refusal rejects). For marks kept across a restart ("waits for the
   * school"): they clear on the relay's acknowledgement of the durable write, not because a catch-up ended.
   */
  async confirmOwnChain(session: SyncSession, group: string, bucket: number): Promise<void> {
    const chain = (await this.replica.bucketEntries(group, bucket)).filter((e) => e.author === this.deviceId).sort((a, b) => a.seq - b.seq);
    if (chain.length > 0) await session.pushEntries(chain);
  }

  /** This device's stored entries of the chain `entries` belong to, from its first up to the last of `entries`. */
  private async ownChainThrough(entries: readonly Entry[]): Promise<Entry[]> {
    const last = entries[entries.length - 1]!;
    const stored = await this.replica.bucketEntries(last.group, last.bucket);
    const chain = stored.filter((e) => e.author === this.deviceId && e.seq <= last.seq).sort((a, b) => a.seq - b.seq);
    return chain.length > 0 ? chain : [...entries];
  }

  /**
   * Packs this device's entries of every finished bucket into one entry per bucket (one blob per author and day
   * for everyone's catch-up). Only chains written under a single key epoch are packed: merging across a rotation
   * would hand older messages to members who joined later, or newer ones to members who left.
   */
  packFinishedBuckets(): Promise<number> {
    return this.serial(() => this.packAndSign());
  }

  /**
   * Packing and manifests without being asked (`autoPack`): runs now unless a run is under way, on the write queue,
   * then sets the next run at the next day's start or in `MAINTENANCE_MS`, whichever comes first. Never rejects.
   */
  private maintain(): Promise<void> {
    if (this.opts.autoPack === false || this.stopping) return Promise.resolve();
    if (this.maintaining) {
      // A run under way may have read the clock before it moved: run once more after it.
      this.maintainAgain = true;
      return this.maintaining;
    }
    this.cancelMaintenance?.();
    this.cancelMaintenance = undefined;
    const run = this.serial(async () => {
      if (this.stopping) return;
      const packed = await this.packAndSign();
      if (packed > 0) this.opts.log?.('debug', `packed ${packed} finished day(s)`);
    })
      .catch((error: unknown) => this.opts.log?.('warn', `packing: ${(error as Error).message}`))
      .finally(() => {
        this.maintaining = undefined;
        if (this.maintainAgain) {
          this.maintainAgain = false;
          void this.maintain();
        } else this.scheduleMaintenance();
      });
    this.maintaining = run;
    return run;
  }

  private scheduleMaintenance(): void {
    if (this.stopping || this.cancelMaintenance) return;
    const now = this.now();
    // A day is finished at a day's start (the end of its grace day): be there when it happens.
    const delay = Math.max(0, Math.min(MAINTENANCE_MS, bucketStart(bucketOf(now) + 1) - now));
    const fire = () => {
      this.cancelMaintenance = undefined;
      void this.maintain();
    };
    this.cancelMaintenance = this.clock.setTimer ? this.clock.setTimer(delay, fire) : systemClock.setTimer!(delay, fire);
  }

  private async packAndSign(): Promise<number> {
    let packed = 0;
    const now = this.now();
    for (const group of this.replica.groups()) {
      for (const bucket of this.replica.liveBuckets(group)) {
        if (!isFinished(bucket, now)) continue;
        const chain = this.replica.chain(group, bucket, this.deviceId);
        if (!chain || chain.packed || chain.seq < 2) continue;
        const tried = `${group}/${bucket}/${chain.seq}`;
        if (this.unpackable.has(tried)) continue;
        const mine = (await this.replica.bucketEntries(group, bucket)).filter((e) => e.author === this.deviceId);
        const epochs = new Set(mine.map((e) => e.epoch));
        if (epochs.size !== 1 || mine.length !== chain.seq) {
          this.unpackable.add(tried);
          continue;
        }
        const epoch = mine[0]!.epoch;
        const key = await this.keys.aead(group, epoch);
        if (!key) {
          this.unpackable.add(tried);
          continue;
        }
        const updates: Uint8Array[] = [];
        for (const e of mine) updates.push(await openEntry(e, key));
        const plaintext = mergeOwnUpdates(updates);
        if (plaintext.length + 64 > MAX_ENTRY_CIPHERTEXT) {
          this.unpackable.add(tried);
          continue;
        }
        const { entry } = await sealEntry(this.opts.identity, key, { kind: 'packed', group, bucket, seq: chain.seq, epoch, plaintext, prev: chainSeed(group, bucket, this.deviceId) });
        const stored = await this.replica.applyEntries([entry]);
        if (stored.accepted.length === 0) continue;
        packed++;
        void this.push(group, [entry]);
      }
    }
    for (const group of this.replica.groups()) await this.signManifest(group);
    return packed;
  }

  /**
   * Signs this device's manifest of a group when it changed: its chains of every live bucket, packed or not, today's
   * and yesterday's too, so that a catch-up checks one signature for all of them instead of one per chain
   * (docs/protocol.md, "Manifests"), and offers it to the connected peers. Runs with packing (every
   * `MAINTENANCE_MS`), not per write: entries written since the last manifest travel with their own signature (a
   * manifest vouches only for the exact (seq, head) it lists).
   */
  private async signManifest(group: string): Promise<void> {
    const chains = [];
    for (const bucket of this.replica.liveBuckets(group)) {
      const chain = this.replica.chain(group, bucket, this.deviceId);
      if (chain && chain.seq > 0) chains.push({ bucket, seq: chain.seq, head: chain.head });
    }
    if (chains.length === 0) return;
    const current = this.replica.manifest(group, this.deviceId);
    if (current && chains.every((c) => this.replica.manifestListing(group, c.bucket, this.deviceId, c.seq, c.head) === current)) return;
    const issued = Math.max(this.now(), (this.replica.manifest(group, this.deviceId)?.issued ?? 0) + 1);
    const manifest = await signManifest(this.opts.identity, { group, issued, chains });
    const result = await this.replica.applyManifest(manifest);
    if (!result.accepted) return;
    for (const s of this.sessions) s.pushManifest(manifest);
  }

  // ---------------------------------------------------------------- network

  /** Runs the sync protocol over a channel (a relay connection, or another device). */
  connect(channel: FrameChannel, options: { agent?: string; transportKey?: Uint8Array } = {}): SyncSession {
    const session = new SyncSession({
      channel,
      replica: this.replica,
      credential: deviceCredential(this.opts.identity),
      verifier: boundToTransport(trustStoreVerifier(this.opts.trust), options.transportKey),
      agent: options.agent ?? 'schoolmesh-engine',
      onProgress: (progress) => session.peer && this.emit({ type: 'progress', peer: session.peer, progress }),
      // Pass on what one peer sent to the others (a device in a mesh, or a hub like the teacher in the demo);
      // receivers drop what they hold already.
      onEntries: (entries) => {
        for (const other of this.sessions) if (other !== session) this.forwardEntries(other, entries);
      },
      onMembership: (group, ops) => {
        for (const other of this.sessions) if (other !== session) other.pushMembership(group, ops);
      },
      ...(this.opts.log ? { log: this.opts.log } : {}),
    });
    this.sessions.add(session);
    session.onClose(() => {
      this.sessions.delete(session);
      if (session.peer) this.emit({ type: 'connection', peer: session.peer, open: false });
    });
    session
      .start()
      .then(async (peer) => {
        this.emit({ type: 'connection', peer, open: true });
        await session.caughtUp();
        // The relay is back: attachments written meanwhile go now rather than after the outbox's pause.
        if (peer.kind === 'relay') this.outbox.kick();
        // Entries written while offline went out with catch-up; re-push the ones still awaiting an ack.
        for (const u of [...this.unacked]) {
          const group = u.entries[0]!.group;
          if (this.replica.mayRead(peer, group)) this.pushTo(session, u.entries, u.resolve);
        }
      })
      .catch(() => {});
    return session;
  }

  private onReplicaEvent(e: ReplicaEvent): void {
    if (e.type === 'membership') {
      const removal = this.removedFrom.has(e.group) ? undefined : this.replica.removalOf(e.group, this.deviceId, this.account);
      if (removal) this.removedFrom.add(e.group);
      else if (this.removedFrom.has(e.group) && this.canRead(e.group)) this.removedFrom.delete(e.group); // added again
      this.emit({ type: 'groups' });
      if (removal) this.emit({ type: 'removed', group: e.group, by: `${removal.author.account}@${removal.author.school}` });
      for (const s of this.sessions) s.refresh(e.group);
      void this.serial(() => this.reconcileKeys(e.group)).catch((error) => this.opts.log?.('warn', `keys: ${(error as Error).message}`));
      return;
    }
    if (e.type === 'entries') {
      const touched = new Map<string, Entry[]>();
      for (const entry of e.entries) {
        this.keys.noteUse(entry.group, entry.epoch, entry.bucket);
        if (entry.author === this.deviceId) continue;
        const id = `${entry.group}/${entry.bucket}`;
        let list = touched.get(id);
        if (!list) {
      list = [];
      touched.set(id, list);
    }
        list.push(entry);
      }
      for (const [id, entries] of touched) {
        const doc = this.docs.get(id);
        const { group, bucket } = entries[0]!;
        if (doc) void doc.then((d) => this.applyToDoc(d, entries)).then(() => this.emit({ type: 'messages', group, bucket }));
        else this.emit({ type: 'messages', group, bucket });
      }
    }
  }

  // ---------------------------------------------------------------- retention

  /** Deletes expired buckets and erases the keys no live bucket needs. Called at open and on a timer. */
  async expire(): Promise<{ buckets: number; erasedKeys: number }> {
    const removed = await this.replica.expire();
    for (const { group, bucket } of removed) this.docs.delete(`${group}/${bucket}`);
    let erasedKeys = 0;
    const now = this.now();
    for (const group of this.replica.groups()) {
      const state = this.replica.state(group)!;
      const oldest = oldestLiveBucket(now, state.policy.retentionDays);
      for (const id of this.docs.keys()) {
        const [g, b] = id.split('/');
        if (g === group && Number(b) < oldest) this.docs.delete(id);
      }
      await expireBlobs(this.opts.storage, group, oldest);
      await this.outbox.forget((a) => a.group === group && a.bucket < oldest);
      const keep = state.currentEpoch ? epochIdOf(state.currentEpoch) : undefined;
      erasedKeys += (await this.keys.erase(group, oldest, keep)).length;
    }
    if (removed.length > 0 || erasedKeys > 0) this.emit({ type: 'expired', buckets: removed, erasedKeys });
    return { buckets: removed.length, erasedKeys };
  }

  /** Whether this device still holds the key of an epoch (tests of key erasure use it). */
  holdsKey(group: string, epoch: string): boolean {
    return this.keys.has(group, epoch);
  }

  canRead(group: string): boolean {
    const s = this.replica.state(group);
    return !!s && canRead(s, this.deviceId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stopping = true;
    this.cancelMaintenance?.();
    this.cancelMaintenance = undefined;
    await this.queue;
    this.closed = true;
    this.outbox.close();
    for (const s of this.sessions) s.close('engine closed');
    await this.keys.flush();
    await this.opts.storage.close();
  }
}
