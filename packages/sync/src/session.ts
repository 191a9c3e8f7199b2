import { constantTimeEqual, randomBytes, sha256, verifySignature } from '@schoolmesh/crypto';
import { type Entry, type Manifest, type VersionVector, vectorDigest } from '@schoolmesh/entries';
import { DecodeError, concatBytes } from '@schoolmesh/wire';
import type { FrameChannel } from './channel.ts';
import {
  ErrorCode,
  MAX_HEADS,
  MAX_OPS,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  type SyncMessage,
  decodeMessage,
  encodeMessage,
} from './messages.ts';
import type { LocalCredential, PeerInfo, PeerVerifier, SyncReplica } from './replica.ts';

const sameChain = (a: Entry, b: Entry) => a.group === b.group && a.bucket === b.bucket && a.author === b.author;

/** Ops go in MEMBERSHIP messages of about this many bytes (well under the 4 MiB frame); a larger op goes alone. */
const MEMBERSHIP_BYTES = 1024 * 1024;

const AUTH_CONTEXT = new TextEncoder().encode('schoolmesh/sync-auth/v1');

export class SyncError extends Error {
  override readonly name = 'SyncError';
  constructor(
    readonly code: 'protocol' | 'version' | 'unauthenticated' | 'closed' | 'remote',
    message: string,
    /** With code 'remote': the ERROR code the peer ended the session with (`ErrorCode`). */
    readonly remoteCode?: number,
  ) {
    super(message);
  }
}

/**
 * Thrown by a replica (or the wrapper a relay puts around it) to refuse a peer's message with a specific ERROR
 * code instead of ERROR 7 (Internal): a relay's per-device rate limit refuses with ERROR 6 (RateLimited).
 */
export class SyncRefusal extends Error {
  override readonly name = 'SyncRefusal';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface SyncProgress {
  /** Entries received and stored in this session's catch-up. */
  received: number;
  /** Entries the peer announced it will send; grows as plans arrive. */
  expected: number;
  caughtUp: boolean;
}

export interface SyncSessionOptions {
  channel: FrameChannel;
  replica: SyncReplica;
  credential: LocalCredential;
  verifier: PeerVerifier;
  agent?: string;
  /** Most entries in one ENTRIES message. */
  batchEntries?: number;
  /** Most bytes of ciphertext in one ENTRIES message. */
  batchBytes?: number;
  /** Most ENTRIES messages in flight without an ACK (backpressure). */
  window?: number;
  /** Called with entries the peer sent that the replica accepted (the engine decrypts, the relay forwards). */
  onEntries?: (entries: Entry[], peer: PeerInfo) => void;
  /** Called with the membership ops the peer sent that the replica did not hold before (so forwarding ends). */
  onMembership?: (group: string, ops: Uint8Array[], peer: PeerInfo) => void;
  onProgress?: (progress: SyncProgress) => void;
  log?: (level: 'debug' | 'warn', message: string) => void;
}

interface OutgoingBatch {
  id: number;
  entries: Entry[];
  waiters: { resolve: () => void; reject: (e: Error) => void }[];
  /** Ciphertext bytes, for the cap on what waits to be sent. */
  bytes: number;
  /** The last batch of a VECTOR's answer names it: once it is sent, the same bucket may be asked again. */
  answers?: string;
}

/**
 * Most ciphertext bytes waiting to be sent (beyond the window in flight). A peer that keeps asking (VECTOR) or is
 * pushed to faster than it acknowledges would otherwise make this side hold without bound; past it, the session
 * ends with ERROR 6 (RateLimited). Far above any honest catch-up of text chats.
 */
export const MAX_QUEUED_BYTES = 128 * 1024 * 1024;

/**
 * One sync session over one channel: handshake, membership and catch-up by version vectors, then live push.
 * Symmetric: the same code runs on a device, a relay, and between relays (docs/protocol.md).
 */
export class SyncSession {
  /** The peer, once its AUTH signature verified; undefined before. */
  peer: PeerInfo | undefined;
  private candidate: PeerInfo | undefined;
  private readonly opts: Required<Pick<SyncSessionOptions, 'batchEntries' | 'batchBytes' | 'window' | 'agent'>> & SyncSessionOptions;
  private readonly nonce = randomBytes(32);
  private myHello: Uint8Array | undefined;
  private peerHello: (SyncMessage & { type: 'hello' }) | undefined;
  private peerHelloBytes: Uint8Array | undefined;
  private peerKey: Uint8Array | undefined;
  private authenticated = false;
  private closed = false;
  private inbox: Promise<void> = Promise.resolve();
  private readonly ready: Promise<PeerInfo>;
  private resolveReady!: (p: PeerInfo) => void;
  private rejectReady!: (e: Error) => void;
  private nextBatch = 1;
  private readonly outgoing: OutgoingBatch[] = [];
  private queuedBytes = 0;
  /** (group, bucket) whose VECTOR answer still waits in `outgoing`: a repeated VECTOR for it is answered empty. */
  private readonly answering = new Set<string>();
  private readonly inFlight = new Map<number, OutgoingBatch>();
  private vectorsSent = 0;
  private readonly summarized = new Set<string>();
  private plansReceived = 0;
  private peerSummariesDone = false;
  private progress: SyncProgress = { received: 0, expected: 0, caughtUp: false };
  private readonly caughtUpWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private readonly closeHandlers: ((reason?: string) => void)[] = [];
  /** Manifests sent in this session (group, author, issued): each goes once, ahead of the first run it covers. */
  private readonly manifestsSent = new Set<string>();
  /**
   * The heads the peer listed in its GROUPS, per group: what a removal sent to it later may leave out. A group it
   * learned of in this session (ops went either way) is here with no heads: a removal then brings its whole past.
   */
  private readonly peerHeads = new Map<string, string[]>();
  /** Groups whose removal this session has sent the peer (once is enough). */
  private readonly removalsSent = new Set<string>();
  closeReason: string | undefined;
  /** The ERROR code the peer ended the session with, if it did. */
  closeCode: number | undefined;

  constructor(options: SyncSessionOptions) {
    this.opts = { batchEntries: 512, batchBytes: 256 * 1024, window: 8, agent: 'schoolmesh', ...options };
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {});
    options.channel.onFrame((frame) => {
      this.inbox = this.inbox.then(() => this.receive(frame));
    });
    // Frames that arrived before the close are handled first: an ERROR just before the end says why it ended.
    options.channel.onClose((reason) => {
      this.inbox = this.inbox.then(() => this.handleClose(reason ?? 'closed by peer'));
    });
  }

  /** Sends HELLO (once) and resolves with the authenticated peer. */
  start(): Promise<PeerInfo> {
    if (this.myHello) return this.ready;
    const hello: SyncMessage = {
      type: 'hello',
      version: PROTOCOL_VERSION,
      minVersion: MIN_PROTOCOL_VERSION,
      credentialKind: this.opts.credential.kind,
      credential: this.opts.credential.bytes,
      nonce: this.nonce,
      agent: this.opts.agent,
    };
    this.myHello = encodeMessage(hello);
    this.sendRaw(this.myHello);
    return this.ready;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onClose(handler: (reason?: string) => void): void {
    this.closeHandlers.push(handler);
  }

  /**
   * Resolves once the initial catch-up with this peer is complete; rejects with `SyncError('closed')` when the
   * session closes before that.
   */
  caughtUp(): Promise<void> {
    if (this.progress.caughtUp) return Promise.resolve();
    if (this.closed)
      return Promise.reject(this.closeCode === undefined ? new SyncError('closed', this.closeReason ?? 'closed') : new SyncError('remote', this.closeReason ?? '', this.closeCode));
    return new Promise((resolve, reject) => this.caughtUpWaiters.push({ resolve, reject }));
  }

  getProgress(): SyncProgress {
    return { ...this.progress };
  }

  /** Live push of new entries; resolves when the peer acknowledged storing them. */
  pushEntries(entries: readonly Entry[]): Promise<void> {
    if (this.closed) return Promise.reject(new SyncError('closed', 'session closed'));
    if (!this.authenticated) return Promise.reject(new SyncError('unauthenticated', 'peer not authenticated yet'));
    return new Promise((resolve, reject) => this.enqueue([...entries], { resolve, reject }));
  }

  /** Live push of membership operations. */
  pushMembership(group: string, ops: Uint8Array[]): void {
    if (this.closed || !this.authenticated || !this.peer) return;
    if (!this.opts.replica.mayKnow(this.peer, group)) {
      // The ops may have removed the peer (it listed the group): tell it, and nothing else.
      this.sendRemoval(group);
      return;
    }
    this.sendMembership(group, ops);
    this.inbox = this.inbox.then(() => this.refreshGroup(group));
  }

  /** Live push of a manifest (an author just packed); sent once per session, only to a peer that may read the group. */
  pushManifest(manifest: Manifest): void {
    if (this.closed || !this.authenticated || !this.peer) return;
    if (!this.opts.replica.knowsGroup(manifest.group) || !this.opts.replica.mayRead(this.peer, manifest.group)) return;
    this.sendManifest(manifest);
  }

  private sendManifest(manifest: Manifest): void {
    const id = `${manifest.group}/${manifest.author}/${manifest.issued}`;
    if (this.manifestsSent.has(id)) return;
    this.manifestsSent.add(id);
    this.send({ type: 'manifest', manifest });
  }

  /** Offers a group that became shareable after the handshake (for example, a new group). */
  async offerGroup(group: string): Promise<void> {
    if (this.closed || !this.authenticated || !this.peer) return;
    if (!this.opts.replica.mayKnow(this.peer, group)) return;
    this.sendMembership(group, this.opts.replica.membershipFor(group, []));
    this.inbox = this.inbox.then(() => this.refreshGroup(group));
  }

  /**
   * Re-evaluates a group after its membership changed, whichever session the change came through: starts its
   * catch-up with this peer if it just became readable, and forgets the earlier summary if it no longer is (so a
   * later re-admission starts a fresh catch-up).
   */
  refresh(group: string): void {
    if (this.closed || !this.authenticated || !this.peer) return;
    this.inbox = this.inbox.then(async () => {
      if (this.closed) return;
      if (!this.opts.replica.knowsGroup(group) || !this.opts.replica.mayRead(this.peer!, group)) {
        this.summarized.delete(group);
        return;
      }
      await this.refreshGroup(group);
    });
  }

  /**
   * Starts catch-up of a group once the peer may read it: membership changes (a device joining) can make a
   * group readable in the middle of a session.
   */
  private async refreshGroup(group: string): Promise<void> {
    if (this.closed || this.summarized.has(group)) return;
    if (!this.opts.replica.knowsGroup(group) || !this.opts.replica.mayRead(this.peer!, group)) return;
    await this.sendSummary(group);
  }

  close(reason = 'closed'): void {
    if (this.closed) return;
    this.opts.channel.close(reason);
    this.handleClose(reason);
  }

  /**
   * Ends the session telling the peer why with an ERROR message (for example ERROR 3 when its credential was
   * revoked), so that it can tell a refusal from a lost connection.
   */
  refuse(code: number, message: string): void {
    if (this.closed) return;
    this.fail(code, message);
  }

  private handleClose(reason: string, remoteCode?: number): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.closeCode = remoteCode;
    // Ended by the peer's ERROR: say so (a relay refusing a revoked device is ERROR 3), not just "closed".
    const error = remoteCode === undefined ? new SyncError('closed', reason) : new SyncError('remote', reason, remoteCode);
    this.rejectReady(error);
    for (const batch of [...this.inFlight.values(), ...this.outgoing]) for (const w of batch.waiters) w.reject(error);
    for (const w of this.caughtUpWaiters.splice(0)) w.reject(error);
    this.inFlight.clear();
    this.outgoing.length = 0;
    this.queuedBytes = 0;
    this.answering.clear();
    for (const h of this.closeHandlers) h(reason);
  }

  private fail(code: number, message: string): void {
    this.opts.log?.('warn', `sync: ${message}`);
    try {
      this.send({ type: 'error', code, message });
    } catch {
      // the channel may be gone already
    }
    this.close(message);
  }

  private send(m: SyncMessage): void {
    this.sendRaw(encodeMessage(m));
  }

  /**
   * Sends membership ops (parents first, as the log orders them) in MEMBERSHIP messages of at most MAX_OPS ops and
   * about MEMBERSHIP_BYTES each, so a long log reaches the peer in parts that it applies one after another.
   */
  private sendMembership(group: string, ops: readonly Uint8Array[]): void {
    if (ops.length > 0 && !this.peerHeads.has(group)) this.peerHeads.set(group, []);
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < ops.length; i++) {
      const size = ops[i]!.length + 5;
      if (i > start && (i - start >= MAX_OPS || bytes + size > MEMBERSHIP_BYTES)) {
        this.send({ type: 'membership', group, ops: ops.slice(start, i) });
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    if (ops.length > start) this.send({ type: 'membership', group, ops: ops.slice(start) });
  }

  private sendRaw(bytes: Uint8Array): void {
    if (this.closed) return;
    try {
      this.opts.channel.send(bytes);
    } catch {
      // The channel closed under us; its close is queued behind the frames being handled.
    }
  }

  private async receive(frame: Uint8Array): Promise<void> {
    if (this.closed) return;
    let message: SyncMessage;
    try {
      message = decodeMessage(frame);
    } catch (error) {
      this.fail(ErrorCode.Protocol, error instanceof DecodeError ? `bad frame: ${error.message}` : 'bad frame');
      return;
    }
    try {
      if (message.type === 'hello') this.peerHelloBytes = frame;
      await this.handle(message);
    } catch (error) {
      if (error instanceof SyncRefusal) this.fail(error.code, error.message);
      else this.fail(ErrorCode.Internal, `failed to handle ${message.type}: ${(error as Error).message}`);
    }
  }

  private async handle(m: SyncMessage): Promise<void> {
    if (m.type === 'error') {
      this.handleClose(`peer error ${m.code}: ${m.message}`, m.code);
      this.opts.channel.close();
      return;
    }
    if (!this.authenticated) {
      if (m.type === 'hello') return this.onHello(m);
      if (m.type === 'auth') return this.onAuth(m.signature);
      return this.fail(ErrorCode.Unauthenticated, `${m.type} before authentication`);
    }
    const peer = this.peer!;
    const replica = this.opts.replica;
    switch (m.type) {
      case 'hello':
      case 'auth':
        return this.fail(ErrorCode.Protocol, `unexpected ${m.type}`);
      case 'groups':
        return this.onGroups(m.groups);
      case 'membership': {
        if (!this.peerHeads.has(m.group)) this.peerHeads.set(m.group, []);
        const result = await replica.applyMembership(m.group, m.ops, peer);
        // Ops whose parents we lack: tell the peer where we stand, it sends what is missing.
        if (result.missing) this.send({ type: 'heads', group: m.group, heads: replica.heads(m.group).slice(0, MAX_HEADS) });
        if (result.fresh.length > 0) this.opts.onMembership?.(m.group, result.fresh, peer);
        await this.refreshGroup(m.group);
        return;
      }
      case 'heads': {
        if (!replica.knowsGroup(m.group) || !replica.mayKnow(peer, m.group)) return;
        const ops = replica.membershipFor(m.group, m.heads);
        this.sendMembership(m.group, ops);
        return;
      }
      case 'summary':
        return this.onSummary(m.group, m.buckets);
      case 'summaries-done':
        this.peerSummariesDone = true;
        this.checkCaughtUp();
        return;
      case 'vector': {
        if (!replica.knowsGroup(m.group) || !replica.mayRead(peer, m.group)) {
          this.send({ type: 'plan', group: m.group, bucket: m.bucket, count: 0 });
          // Not readable for this peer now; a later membership op may change that, so summarize again then.
          this.summarized.delete(m.group);
          return;
        }
        // The same bucket asked again while the first answer still waits to be sent: that answer will bring it.
        const key = `${m.group}\u0000${m.bucket}`;
        if (this.answering.has(key)) {
          this.send({ type: 'plan', group: m.group, bucket: m.bucket, count: 0 });
          return;
        }
        const theirs: VersionVector = new Map(m.vector.map((v) => [v.author, v.seq]));
        const entries = await replica.entriesFor(m.group, m.bucket, theirs);
        this.send({ type: 'plan', group: m.group, bucket: m.bucket, count: entries.length });
        if (entries.length > 0) this.enqueue(entries, undefined, key);
        return;
      }
      case 'manifest': {
        // Comes ahead of the runs it vouches for. Not awaited: the replica makes entries applied later wait for it,
        // and the manifests of a catch-up are checked concurrently. A refused one only means those runs are refused.
        const author = m.manifest.author.slice(0, 8);
        replica.applyManifest(m.manifest, peer).then(
          (result) => {
            if (!result.accepted) this.opts.log?.('warn', `manifest of ${author}… refused: ${result.reason}`);
          },
          (error: Error) => this.opts.log?.('warn', `manifest of ${author}… not stored: ${error.message}`),
        );
        return;
      }
      case 'plan':
        this.plansReceived++;
        this.progress.expected += m.count;
        this.emitProgress();
        this.checkCaughtUp();
        return;
      case 'entries': {
        const result = await replica.applyEntries(m.entries, peer);
        this.send({ type: 'ack', batch: m.batch, accepted: result.accepted.length, rejected: result.rejected, reason: result.reason });
        this.progress.received += m.entries.length;
        if (result.accepted.length > 0) this.opts.onEntries?.(result.accepted, peer);
        this.emitProgress();
        this.checkCaughtUp();
        return;
      }
      case 'ack': {
        const batch = this.inFlight.get(m.batch);
        if (!batch) return this.fail(ErrorCode.Protocol, `ack for unknown batch ${m.batch}`);
        this.inFlight.delete(m.batch);
        if (m.rejected > 0) {
          // Not stored there: whoever waits for this push must not take it as delivered.
          this.opts.log?.('warn', `peer rejected ${m.rejected} entries: ${m.reason}`);
          for (const w of batch.waiters) w.reject(new SyncError('remote', `peer rejected ${m.rejected} entries: ${m.reason}`));
        } else for (const w of batch.waiters) w.resolve();
        this.pump();
        return;
      }
    }
  }

  private async onHello(m: SyncMessage & { type: 'hello' }): Promise<void> {
    if (this.peerHello) return this.fail(ErrorCode.Protocol, 'second hello');
    // A reflected HELLO (our own, sent back) would make the peer's transcript equal ours, so our own AUTH would
    // verify as theirs: refuse our nonce, and our own credential, coming back.
    if (constantTimeEqual(m.nonce, this.nonce)) return this.fail(ErrorCode.Unauthenticated, 'reflected hello');
    if (m.version < MIN_PROTOCOL_VERSION || m.minVersion > PROTOCOL_VERSION)
      return this.fail(ErrorCode.Version, `no common protocol version (peer ${m.minVersion}..${m.version}, we ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION})`);
    let verified: { peer: PeerInfo; publicKey: Uint8Array };
    try {
      verified = await this.opts.verifier.verify(m.credentialKind, m.credential);
    } catch (error) {
      return this.fail(ErrorCode.Unauthenticated, `credential refused: ${(error as Error).message}`);
    }
    this.peerHello = m;
    this.peerKey = verified.publicKey;
    this.candidate = verified.peer;
    if (!this.myHello) void this.start();
    const signature = await this.opts.credential.sign(this.transcript(true));
    this.send({ type: 'auth', signature });
  }

  private async onAuth(signature: Uint8Array): Promise<void> {
    if (!this.peerHello || !this.peerKey || !this.candidate) return this.fail(ErrorCode.Protocol, 'auth before hello');
    if (!(await verifySignature(this.peerKey, this.transcript(false), signature)))
      return this.fail(ErrorCode.Unauthenticated, 'handshake signature does not verify');
    this.authenticated = true;
    this.peer = this.candidate;
    this.resolveReady(this.peer);
    const groups = await this.opts.replica.groupsFor(this.peer);
    // groupsFor lists what the peer may know of; onGroups decides per group what it may read. Past MAX_HEADS
    // concurrent heads the list is cut: the peer then sends some ops this side holds, which it ignores.
    this.send({ type: 'groups', groups: groups.map((g) => (g.heads.length > MAX_HEADS ? { ...g, heads: g.heads.slice(0, MAX_HEADS) } : g)) });
  }

  /**
   * What each side signs: both nonces and both hellos, so a signature proves possession of the certified key
   * for this very session and cannot be replayed into another (docs/protocol.md, "Handshake").
   */
  private transcript(mine: boolean): Uint8Array {
    const myHash = sha256(this.myHello!);
    const peerHash = sha256(this.peerHelloBytes!);
    const [first, second] = mine ? [myHash, peerHash] : [peerHash, myHash];
    const [n1, n2] = mine ? [this.nonce, this.peerHello!.nonce] : [this.peerHello!.nonce, this.nonce];
    return concatBytes(AUTH_CONTEXT, first, second, n1, n2);
  }

  private async onGroups(theirs: { group: string; heads: string[] }[]): Promise<void> {
    const peer = this.peer!;
    const replica = this.opts.replica;
    const theirHeads = new Map(theirs.map((g) => [g.group, g.heads]));
    for (const [group, heads] of theirHeads) this.peerHeads.set(group, heads);
    const mine = await replica.groupsFor(peer);
    const all = new Set([...mine.map((g) => g.group), ...theirHeads.keys()]);
    for (const group of all) {
      if (!replica.knowsGroup(group)) continue;
      if (!replica.mayKnow(peer, group)) {
        // A removed device still offers the group: it gets the op that removed it, and nothing later.
        this.sendRemoval(group);
        continue;
      }
      const ops = replica.membershipFor(group, theirHeads.get(group) ?? []);
      if (ops.length > 0) this.sendMembership(group, ops);
      if (replica.mayRead(peer, group)) await this.sendSummary(group);
    }
    this.send({ type: 'summaries-done' });
  }

  /** Sends a peer that listed `group` but may no longer know it the op that removed it (once per session). */
  private sendRemoval(group: string): void {
    const theirs = this.peerHeads.get(group);
    if (!theirs || this.removalsSent.has(group)) return;
    const ops = this.opts.replica.removalFor(this.peer!, group, theirs);
    if (ops.length === 0) return;
    this.removalsSent.add(group);
    this.sendMembership(group, ops);
  }

  private async sendSummary(group: string): Promise<void> {
    this.summarized.add(group);
    this.send({ type: 'summary', group, buckets: await this.opts.replica.summary(group) });
  }

  private async onSummary(group: string, buckets: { bucket: number; digest: string }[]): Promise<void> {
    const replica = this.opts.replica;
    // Our vector tells who wrote how much: only for a peer that may read the group.
    if (!replica.knowsGroup(group) || !replica.mayRead(this.peer!, group)) return;
    for (const { bucket, digest } of buckets) {
      const mine = await replica.vector(group, bucket);
      if (vectorDigest(mine) === digest) continue;
      this.vectorsSent++;
      this.send({ type: 'vector', group, bucket, vector: [...mine].map(([author, seq]) => ({ author, seq })) });
    }
    this.checkCaughtUp();
  }

  /**
   * Splits entries into ENTRIES messages by size, never inside a chain run: a stored run carries a signature only
   * on its last entry, so its parts could not be verified apart.
   */
  private enqueue(entries: Entry[], waiter?: OutgoingBatch['waiters'][number], answers?: string): void {
    const { batchEntries, batchBytes } = this.opts;
    // Frames leave in order, so a manifest sent now arrives before any ENTRIES carrying the runs it covers.
    for (const m of this.opts.replica.manifestsFor(entries)) this.sendManifest(m);
    let current: OutgoingBatch | undefined;
    let bytes = 0;
    let i = 0;
    while (i < entries.length) {
      let j = i + 1;
      let runBytes = entries[i]!.ciphertext.length + 150;
      while (j < entries.length && sameChain(entries[j - 1]!, entries[j]!) && !entries[j - 1]!.signature) {
        runBytes += entries[j]!.ciphertext.length + 150;
        j++;
      }
      if (!current || (current.entries.length > 0 && (current.entries.length + (j - i) > batchEntries || bytes + runBytes > batchBytes))) {
        current = { id: 0, entries: [], waiters: [], bytes: 0 };
        this.outgoing.push(current);
        bytes = 0;
      }
      for (let k = i; k < j; k++) {
        current.entries.push(entries[k]!);
        current.bytes += entries[k]!.ciphertext.length;
      }
      this.queuedBytes += runBytes - 150 * (j - i);
      bytes += runBytes;
      i = j;
    }
    if (waiter) {
      if (current) current.waiters.push(waiter);
      else waiter.resolve();
    }
    if (current && answers) {
      current.answers = answers;
      this.answering.add(answers);
    }
    if (this.queuedBytes > MAX_QUEUED_BYTES) {
      this.fail(ErrorCode.RateLimited, `more than ${MAX_QUEUED_BYTES} bytes wait for the peer: it asks or is sent faster than it acknowledges`);
      return;
    }
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.inFlight.size < this.opts.window && this.outgoing.length > 0) {
      const batch = this.outgoing.shift()!;
      this.queuedBytes -= batch.bytes;
      if (batch.answers) this.answering.delete(batch.answers);
      batch.id = this.nextBatch++;
      this.inFlight.set(batch.id, batch);
      this.send({ type: 'entries', batch: batch.id, entries: batch.entries });
    }
  }

  private emitProgress(): void {
    this.opts.onProgress?.({ ...this.progress });
  }

  private checkCaughtUp(): void {
    if (this.progress.caughtUp) return;
    if (!this.peerSummariesDone || this.plansReceived < this.vectorsSent || this.progress.received < this.progress.expected) return;
    this.progress.caughtUp = true;
    this.emitProgress();
    for (const w of this.caughtUpWaiters.splice(0)) w.resolve();
  }
}
