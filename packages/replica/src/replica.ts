import {
  type Entry,
  EntryError,
  type Manifest,
  type VersionVector,
  chainSeed,
  decodeManifest,
  foldRun,
  encodeManifest,
  vectorDigest,
  verifyManifest,
  verifyRun,
} from '@schoolmesh/entries';
import type { TrustStore } from '@schoolmesh/identity';
import { verifySignature } from '@schoolmesh/crypto';
import { type GroupState, MembershipLog, type MembershipOp, canRead, decodeOp, signedMessage } from '@schoolmesh/membership';
import { bucketOf, bucketStart, oldestLiveBucket, parseAccountRef } from '@schoolmesh/model';
import type { StorageAdapter, StorageOp } from '@schoolmesh/storage';
import type { ApplyResult, GroupOffer, PeerInfo, SyncReplica } from '@schoolmesh/sync';
import { fromBase64Url, toBase64Url } from '@schoolmesh/wire';
import { type ChainState, decodeBucketChains, encodeBucketChains } from './chain-state.ts';
import { decodeStoredEntry, encodeStoredEntry } from './stored-entry.ts';
import { chainPrefix, entryKey, entryPrefix, heldKey, heldPrefix, manifestKey, manifestPrefix, opKey, opPrefix } from './keys.ts';

export interface ReplicaOptions {
  storage: StorageAdapter;
  trust: TrustStore;
  clock: () => number;
  log?: (level: 'debug' | 'warn', message: string) => void;
}

interface GroupReplica {
  log: MembershipLog;
  /** bucket -> author -> chain */
  chains: Map<number, Map<string, ChainState>>;
  /** author -> its manifests still needed, oldest first (the newest, and older ones listing chains no newer one lists). */
  manifests: Map<string, Manifest[]>;
}

/** Most manifests kept per (group, author): an honest author's newest lists all its live packed chains. */
const MAX_MANIFESTS_PER_AUTHOR = 16;

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** How far in the future (in buckets) an entry may be dated: clocks drift, but not by days. */
const FUTURE_BUCKETS = 1;

/**
 * The ciphertext-level replica: membership logs and signed entry chains in a store, verified on the way in,
 * expired by retention. Holds no content key: relays run exactly this, devices wrap it with keys and Yjs
 * (docs/architecture.md). Implements what a sync session asks of it.
 */
export class Replica implements SyncReplica {
  private readonly groupsById = new Map<string, GroupReplica>();
  private readonly listeners = new Set<(event: ReplicaEvent) => void>();
  /** Manifests being checked: entries applied meanwhile wait for them (they may be what vouches for the entries). */
  private readonly manifestsUnderWay = new Set<Promise<unknown>>();

  private constructor(private readonly opts: ReplicaOptions) {}

  static async open(opts: ReplicaOptions): Promise<Replica> {
    const replica = new Replica(opts);
    await replica.load();
    return replica;
  }

  private async load(): Promise<void> {
    const { storage } = this.opts;
    const ops = await storage.loadRange(opPrefix());
    const byGroup = new Map<string, Uint8Array[]>();
    for (const r of ops) {
      const group = r.key[1]!;
      let list = byGroup.get(group);
      if (!list) {
      list = [];
      byGroup.set(group, list);
    }
      list.push(r.data);
    }
    for (const [group, list] of byGroup) {
      const g = this.ensureGroup(group);
      // Verified when first stored; certificates may have expired since, so restore skips the time checks.
      for (const bytes of list) g.log.restore(bytes);
    }
    for (const r of await storage.loadRange(heldPrefix())) await this.ensureGroup(r.key[1]!).log.add(r.data);
    for (const r of await storage.loadRange(chainPrefix())) {
      const [, group, bucket] = r.key as [string, string, string];
      const chains = this.chainsOf(this.ensureGroup(group), Number(bucket));
      for (const [author, chain] of decodeBucketChains(r.data)) chains.set(author, chain);
    }
    // Verified when first stored.
    for (const r of await storage.loadRange(manifestPrefix())) {
      const m = decodeManifest(r.data);
      const g = this.ensureGroup(m.group);
      const list = g.manifests.get(m.author) ?? [];
      list.push(m);
      g.manifests.set(m.author, list.sort((a, b) => a.issued - b.issued));
    }
  }

  /** Releases the store. */
  close(): Promise<void> {
    return this.opts.storage.close();
  }

  on(listener: (event: ReplicaEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: ReplicaEvent): void {
    for (const l of this.listeners) l(event);
  }

  private ensureGroup(group: string): GroupReplica {
    let g = this.groupsById.get(group);
    if (!g) {
      g = { log: new MembershipLog(this.opts.trust, group), chains: new Map(), manifests: new Map() };
      this.groupsById.set(group, g);
    }
    return g;
  }

  private chainsOf(g: GroupReplica, bucket: number): Map<string, ChainState> {
    let m = g.chains.get(bucket);
    if (!m) {
      m = new Map();
      g.chains.set(bucket, m);
    }
    return m;
  }

  groups(): string[] {
    return [...this.groupsById.keys()].filter((id) => this.state(id) !== undefined);
  }

  log(group: string): MembershipLog | undefined {
    return this.groupsById.get(group)?.log;
  }

  state(group: string): GroupState | undefined {
    const g = this.groupsById.get(group);
    if (!g || g.log.heads().length === 0) return undefined;
    return g.log.state();
  }

  knowsGroup(group: string): boolean {
    return this.state(group) !== undefined;
  }

  // ---- membership ----

  /** Adds membership operations (local or from a peer); stores the ones the log keeps. */
  async addOps(
    group: string | null,
    ops: readonly Uint8Array[],
  ): Promise<{ applied: number; rejected: number; reasons: string[]; missing: boolean; fresh: Uint8Array[] }> {
    let missing = false;
    const fresh: Uint8Array[] = [];
    let applied = 0;
    let rejected = 0;
    const reasons: string[] = [];
    const writes: StorageOp[] = [];
    const touched = new Set<string>();
    const decoded: { bytes: Uint8Array; op: MembershipOp }[] = [];
    for (const bytes of ops) {
      let op: MembershipOp;
      try {
        op = decodeOp(bytes);
      } catch (error) {
        rejected++;
        reasons.push(`undecodable op: ${(error as Error).message}`);
        continue;
      }
      if (group !== null && op.group !== group) {
        rejected++;
        reasons.push('op of another group');
        continue;
      }
      decoded.push({ bytes, op });
    }
    await this.preverify(decoded.map((d) => d.op));
    for (const { bytes, op } of decoded) {
      const g = this.ensureGroup(op.group);
      const result = await g.log.add(op);
      if (result.status === 'rejected' && result.held) {
        // Sound but signed under a certificate that has lapsed: kept aside until a valid op builds on it.
        writes.push({ type: 'put', key: heldKey(op.group, op.id), data: bytes });
        continue;
      }
      if (result.status === 'rejected') {
        rejected++;
        reasons.push(result.reason ?? 'rejected');
        continue;
      }
      for (const id of result.released ?? []) {
        const released = g.log.get(id);
        if (!released) continue;
        writes.push({ type: 'put', key: opKey(op.group, id), data: released.bytes }, { type: 'del', key: heldKey(op.group, id) });
      }
      if (result.status === 'duplicate') continue;
      writes.push({ type: 'put', key: opKey(op.group, op.id), data: bytes });
      fresh.push(bytes);
      touched.add(op.group);
      if (result.status === 'applied') applied++;
      if (result.status === 'missing-parents') missing = true;
    }
    if (writes.length > 0) await this.opts.storage.batch(writes);
    for (const group of touched) this.emit({ type: 'membership', group });
    return { applied, rejected, reasons, missing, fresh };
  }

  heads(group: string): string[] {
    return this.groupsById.get(group)?.log.heads() ?? [];
  }

  /**
   * Checks the signatures and certificates of a batch of ops concurrently, so that the log's own sequential checks
   * hit the caches (crypto's verified-signature memo, the trust store's certificate cache). Verdicts come from
   * the log alone: a failure here only means the log will find it again.
   */
  private async preverify(ops: readonly MembershipOp[]): Promise<void> {
    const checks: Promise<unknown>[] = [];
    for (const op of ops) {
      if (this.groupsById.get(op.group)?.log.has(op.id)) continue;
      checks.push(this.opts.trust.verifyDevice(op.author).catch(() => {}));
      if (op.body.type === 'add-device') checks.push(this.opts.trust.verifyDevice(op.body.certificate).catch(() => {}));
      checks.push(verifySignature(op.author.deviceKey, signedMessage(op), op.signature));
    }
    await Promise.all(checks);
  }

  membershipFor(group: string, theirHeads: readonly string[]): Uint8Array[] {
    const log = this.groupsById.get(group)?.log;
    if (!log) return [];
    return log.opsNotIn(theirHeads).map((op) => op.bytes);
  }

  async applyMembership(
    group: string,
    ops: readonly Uint8Array[],
    _peer: PeerInfo,
  ): Promise<{ applied: number; rejected: number; missing: boolean; fresh: Uint8Array[] }> {
    const { applied, rejected, reasons, missing, fresh } = await this.addOps(group, ops);
    if (rejected > 0) this.opts.log?.('warn', `rejected ${rejected} membership ops of ${group}: ${reasons.slice(0, 3).join('; ')}`);
    return { applied, rejected, missing, fresh };
  }

  // ---- access ----

  async groupsFor(peer: PeerInfo): Promise<GroupOffer[]> {
    const offers: GroupOffer[] = [];
    for (const [group, g] of this.groupsById) {
      if (!this.knowsGroup(group) || !this.mayKnow(peer, group)) continue;
      offers.push({ group, heads: g.log.heads() });
    }
    return offers;
  }

  mayKnow(peer: PeerInfo, group: string): boolean {
    const state = this.state(group);
    if (!state) return false;
    if (peer.kind === 'device') return canRead(state, peer.id) || (peer.account !== undefined && state.members.has(peer.account));
    return this.mayRead(peer, group);
  }

  /**
   * The op that took `device` (of `account`) out of the group while it may no longer read it: the last op of the log
   * that had effect and was a `remove` of the account or a `remove-device` of the device. Undefined otherwise.
   */
  removalOf(group: string, device: string, account?: string): MembershipOp | undefined {
    const state = this.state(group);
    const log = this.groupsById.get(group)?.log;
    if (!state || !log || canRead(state, device)) return undefined;
    const ignored = new Set(state.ignored.map((i) => i.op));
    let found: MembershipOp | undefined;
    for (const op of log.ops()) {
      const b = op.body;
      const removes = (b.type === 'remove' && account !== undefined && b.account === account) || (b.type === 'remove-device' && b.device === device);
      if (removes && !ignored.has(op.id)) found = op;
    }
    return found;
  }

  /**
   * For a device that may no longer know the group: the op that removed it and the ops it depends on, less what the
   * device holds (`theirHeads`); nothing the group did after or beside it (docs/protocol.md §7, "Removed devices").
   */
  removalFor(peer: PeerInfo, group: string, theirHeads: readonly string[]): Uint8Array[] {
    if (peer.kind !== 'device' || this.mayKnow(peer, group)) return [];
    const op = this.removalOf(group, peer.id, peer.account);
    if (!op) return [];
    return this.groupsById.get(group)!.log.pastOf(op.id, theirHeads).map((o) => o.bytes);
  }

  mayRead(peer: PeerInfo, group: string): boolean {
    const state = this.state(group);
    if (!state) return false;
    if (peer.kind === 'device') return canRead(state, peer.id);
    // A relay may carry a group that has at least one member of its school.
    for (const account of state.members.keys()) if (parseAccountRef(account).school === peer.school) return true;
    return false;
  }

  // ---- entries ----

  chain(group: string, bucket: number, author: string): ChainState | undefined {
    return this.groupsById.get(group)?.chains.get(bucket)?.get(author);
  }

  liveBuckets(group: string): number[] {
    const g = this.groupsById.get(group);
    const state = this.state(group);
    if (!g || !state) return [];
    const oldest = oldestLiveBucket(this.opts.clock(), state.policy.retentionDays);
    return [...g.chains.keys()].filter((b) => b >= oldest && (g.chains.get(b)?.size ?? 0) > 0).sort((a, b) => a - b);
  }

  async vector(group: string, bucket: number): Promise<VersionVector> {
    const chains = this.groupsById.get(group)?.chains.get(bucket);
    const v: VersionVector = new Map();
    if (chains) for (const [author, c] of chains) v.set(author, c.seq);
    return v;
  }

  async summary(group: string): Promise<{ bucket: number; digest: string }[]> {
    const out: { bucket: number; digest: string }[] = [];
    for (const bucket of this.liveBuckets(group)) out.push({ bucket, digest: vectorDigest(await this.vector(group, bucket)) });
    return out;
  }

  /** Every entry of one bucket, chain by chain, the head of each carrying its signature. */
  async bucketEntries(group: string, bucket: number): Promise<Entry[]> {
    return this.entriesFor(group, bucket, new Map());
  }

  async entriesFor(group: string, bucket: number, theirs: VersionVector): Promise<Entry[]> {
    const chains = this.groupsById.get(group)?.chains.get(bucket);
    if (!chains) return [];
    const wanted = [...chains].filter(([author, chain]) => (theirs.get(author) ?? 0) < chain.seq);
    if (wanted.length === 0) return [];
    // Most chains wanted (a catch-up): one range read of the bucket. A few (live or nearly in sync): per chain,
    // starting after what the peer holds.
    const records =
      wanted.length > 4
        ? await this.opts.storage.loadRange(entryPrefix(group, bucket))
        : (
            await Promise.all(
              wanted.map(([author]) => {
                const have = theirs.get(author) ?? 0;
                return this.opts.storage.loadRange(entryPrefix(group, bucket, author), have > 0 ? { after: entryKey(group, bucket, author, have) } : {});
              }),
            )
          ).flat();
    const byAuthor = new Map<string, Entry[]>();
    for (const r of records) {
      const author = r.key[3]!;
      const chain = chains.get(author);
      const have = theirs.get(author) ?? 0;
      if (!chain || have >= chain.seq) continue;
      const entry = decodeStoredEntry(r.data, { group, bucket, author });
      // A packed entry covers 1..seq: send it whole when the peer lacks any of it.
      if (entry.kind === 'single' && entry.seq <= have) continue;
      let run = byAuthor.get(author);
      if (!run) {
        run = [];
        byAuthor.set(author, run);
      }
      run.push(entry);
    }
    const out: Entry[] = [];
    for (const [author, run] of byAuthor) {
      const chain = chains.get(author)!;
      const last = run[run.length - 1]!;
      // A chain a manifest vouches for goes without its signature: the session sends the manifest ahead, and the
      // receiver checks one signature per author and group instead of one per chain.
      if (last.seq === chain.seq && this.manifestListing(group, bucket, author, chain.seq, chain.head)) {
        out.push(...run);
        continue;
      }
      if (!chain.signature) {
        this.opts.log?.('warn', `chain ${group}/${bucket}/${author.slice(0, 8)}… has neither signature nor manifest`);
        continue;
      }
      run[run.length - 1] = { ...last, signature: chain.signature };
      out.push(...run);
    }
    return out;
  }

  // ---- manifests ----

  /** The held manifest of `author` that lists exactly (bucket, seq, head), if any. */
  manifestListing(group: string, bucket: number, author: string, seq: number, head: Uint8Array): Manifest | undefined {
    const list = this.groupsById.get(group)?.manifests.get(author);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const m = list[i]!;
      for (const c of m.chains) if (c.bucket === bucket && c.seq === seq && sameBytes(c.head, head)) return m;
    }
    return undefined;
  }

  /** The newest held manifest of an author in a group. */
  manifest(group: string, author: string): Manifest | undefined {
    return this.groupsById.get(group)?.manifests.get(author)?.at(-1);
  }

  /**
   * Chains that held manifests list in live buckets and this replica does not hold up to the listed seq: what a peer
   * that served the manifest withheld (a relay that drops runs shows here), or what has not arrived yet.
   */
  unheldListed(group: string): { author: string; bucket: number; seq: number; held: number }[] {
    const g = this.groupsById.get(group);
    const state = this.state(group);
    if (!g || !state) return [];
    const oldest = oldestLiveBucket(this.opts.clock(), state.policy.retentionDays);
    const out: { author: string; bucket: number; seq: number; held: number }[] = [];
    for (const [author, list] of g.manifests) {
      const newest = list.at(-1);
      if (!newest) continue;
      for (const c of newest.chains) {
        if (c.bucket < oldest) continue;
        const held = g.chains.get(c.bucket)?.get(author)?.seq ?? 0;
        if (held < c.seq) out.push({ author, bucket: c.bucket, seq: c.seq, held });
      }
    }
    return out;
  }

  manifestsFor(entries: readonly Entry[]): Manifest[] {
    const out = new Set<Manifest>();
    for (const e of entries) {
      // Only a run's last entry can be vouched for (the others never carry a signature): it is the chain's held seq.
      if (e.signature) continue;
      const chain = this.chain(e.group, e.bucket, e.author);
      if (!chain || chain.seq !== e.seq) continue;
      const m = this.manifestListing(e.group, e.bucket, e.author, e.seq, chain.head);
      if (m) out.add(m);
    }
    return [...out];
  }

  /**
   * Verifies and keeps a manifest. Refused: an unknown group, an author that never was a writer of the group, a bad
   * signature, another manifest of the same author and time with different contents. Keeps per (group, author) the
   * newest manifest and older ones only while they list a live chain no newer one lists.
   */
  applyManifest(manifest: Manifest, _peer?: PeerInfo): Promise<{ accepted: boolean; reason: string }> {
    // Entries that arrive after a manifest may need it: applyEntries waits for the manifests under way, while the
    // manifests themselves are checked concurrently (a catch-up brings hundreds, one signature each).
    const verdict = this.applyManifestNow(manifest);
    this.manifestsUnderWay.add(verdict);
    void verdict.finally(() => this.manifestsUnderWay.delete(verdict)).catch(() => {});
    return verdict;
  }

  private async applyManifestNow(manifest: Manifest): Promise<{ accepted: boolean; reason: string }> {
    const state = this.state(manifest.group);
    if (!state) return { accepted: false, reason: `unknown group ${manifest.group}` };
    if (![...state.epochWriters.values()].some((w) => w.has(manifest.author)))
      return { accepted: false, reason: `author ${manifest.author.slice(0, 8)}… never wrote in the group` };
    const g = this.groupsById.get(manifest.group)!;
    const list = g.manifests.get(manifest.author) ?? [];
    const same = list.find((m) => m.issued === manifest.issued);
    if (same) {
      return sameBytes(encodeManifest(same), encodeManifest(manifest))
        ? { accepted: true, reason: 'held' }
        : { accepted: false, reason: 'another manifest of the same author and time' };
    }
    if (!(await verifyManifest(manifest))) return { accepted: false, reason: 'manifest signature does not verify' };
    // From here on synchronous up to the write, so that concurrent manifests of one author build on each other.
    const held = g.manifests.get(manifest.author) ?? [];
    if (held.some((m) => m.issued === manifest.issued)) return this.applyManifestNow(manifest);
    const next = this.pruneManifests(manifest.group, [...held, manifest].sort((a, b) => a.issued - b.issued));
    if (!next.includes(manifest)) return { accepted: true, reason: 'newer manifests held list all it lists' };
    const writes: StorageOp[] = [{ type: 'put', key: manifestKey(manifest.group, manifest.author, manifest.issued), data: encodeManifest(manifest) }];
    for (const m of held) if (!next.includes(m)) writes.push({ type: 'del', key: manifestKey(m.group, m.author, m.issued) });
    g.manifests.set(manifest.author, next);
    await this.opts.storage.batch(writes);
    return { accepted: true, reason: '' };
  }

  /**
   * Which of one author's manifests (oldest first) to keep: the newest with a live chain, and an older one only if it
   * lists a live (bucket, seq, head) that no newer kept one lists and that this replica does not hold beyond (a
   * chain held further than an old manifest lists is neither checked nor served with it: authors re-sign as their
   * chains of today grow, and each of those manifests would otherwise be kept); at most MAX_MANIFESTS_PER_AUTHOR,
   * newest first.
   */
  private pruneManifests(group: string, sorted: Manifest[]): Manifest[] {
    const state = this.state(group);
    const oldest = state ? oldestLiveBucket(this.opts.clock(), state.policy.retentionDays) : 0;
    const chains = this.groupsById.get(group)?.chains;
    const keep: Manifest[] = [];
    const listed = new Map<number, { seq: number; head: Uint8Array }[]>();
    for (let i = sorted.length - 1; i >= 0 && keep.length < MAX_MANIFESTS_PER_AUTHOR; i--) {
      const m = sorted[i]!;
      const newest = i === sorted.length - 1;
      let adds = false;
      for (const c of m.chains) {
        if (c.bucket < oldest) continue;
        if (!newest && (chains?.get(c.bucket)?.get(m.author)?.seq ?? 0) > c.seq) continue;
        const seen = listed.get(c.bucket) ?? [];
        if (seen.some((s) => s.seq === c.seq && sameBytes(s.head, c.head))) continue;
        seen.push(c);
        listed.set(c.bucket, seen);
        adds = true;
      }
      if (adds) keep.unshift(m);
    }
    return keep;
  }


  /**
   * Verifies and stores entries from a peer, or the local device's own. Per chain: entries the replica holds
   * already are skipped, the rest must continue the chain without a gap and end in a valid signature. One
   * storage batch for the whole call. Returns the accepted entries, for forwarding and decryption.
   */
  async applyEntries(entries: readonly Entry[], _peer?: PeerInfo): Promise<ApplyResult> {
    if (this.manifestsUnderWay.size > 0) await Promise.all(this.manifestsUnderWay);
    // Chains verify in parallel; the runs of one chain in order, each continuing from the one before.
    const byChain = new Map<string, Entry[][]>();
    for (const run of splitRuns(entries)) {
      const id = `${run[0]!.group}/${run[0]!.bucket}/${run[0]!.author}`;
      const list = byChain.get(id);
      if (list) list.push(run);
      else byChain.set(id, [run]);
    }
    const now = this.opts.clock();
    const outcomes = await Promise.all([...byChain.values()].map((runs) => this.verifyChainRuns(runs, now)));
    const accepted: Entry[] = [];
    const writes: StorageOp[] = [];
    const changed: { group: string; bucket: number; author: string; chain: ChainState }[] = [];
    let rejected = 0;
    const reasons: string[] = [];
    for (const outcome of outcomes) {
      rejected += outcome.rejected;
      for (const r of outcome.reasons) if (reasons.length < 3) reasons.push(r);
      if (!outcome.chain) continue;
      const { group, bucket, author } = outcome.stored[0]!;
      if (outcome.replaced) writes.push({ type: 'del-range', prefix: entryPrefix(group, bucket, author) });
      for (const e of outcome.stored) writes.push({ type: 'put', key: entryKey(group, bucket, author, e.seq), data: encodeStoredEntry(e) });
      changed.push({ group, bucket, author, chain: outcome.chain });
      accepted.push(...outcome.accepted);
    }
    // One chain record per touched (group, bucket), written in the same batch as the entries.
    const touched = new Map<string, Map<string, ChainState>>();
    for (const c of changed) {
      const id = `${c.group}/${c.bucket}`;
      let next = touched.get(id);
      if (!next) {
        next = new Map(this.chainsOf(this.groupsById.get(c.group)!, c.bucket));
        touched.set(id, next);
      }
      next.set(c.author, c.chain);
    }
    for (const [id, chains] of touched) {
      const [group, bucket] = id.split('/') as [string, string];
      writes.push({ type: 'put', key: chainPrefix(group, Number(bucket)), data: encodeBucketChains(chains) });
    }
    if (writes.length > 0) await this.opts.storage.batch(writes);
    for (const c of changed) this.chainsOf(this.groupsById.get(c.group)!, c.bucket).set(c.author, c.chain);
    if (accepted.length > 0) this.emit({ type: 'entries', entries: accepted });
    return { accepted, rejected, reason: reasons.join('; ') };
  }

  /**
   * Verifies the runs of one chain in order against the held chain state. Returns what to store: entries to put
   * (after deleting the chain's stored entries when a packed entry replaces them), the new chain state, and the
   * accepted entries (each run's last one carrying its signature, for forwarding).
   */
  private async verifyChainRuns(
    runs: Entry[][],
    now: number,
  ): Promise<{ stored: Entry[]; accepted: Entry[]; chain?: ChainState; replaced: boolean; rejected: number; reasons: string[] }> {
    const first = runs[0]![0]!;
    const g = this.groupsById.get(first.group);
    let current = g?.chains.get(first.bucket)?.get(first.author);
    let stored: Entry[] = [];
    const accepted: Entry[] = [];
    let replaced = false;
    let rejected = 0;
    const reasons: string[] = [];
    let changed = false;
    for (const run of runs) {
      const head0 = run[0]!;
      const refusal = this.refusal(head0, now) ?? this.epochRefusal(run);
      if (refusal) {
        rejected += run.length;
        reasons.push(refusal);
        continue;
      }
      const held = current?.seq ?? 0;
      let fresh = run;
      if (head0.kind === 'single') {
        fresh = run.filter((e) => e.seq > held);
        if (fresh.length === 0) continue;
        if (fresh[0]!.seq !== held + 1) {
          rejected += run.length;
          reasons.push(`gap: holds seq ${held}, expected seq ${held + 1}, got ${fresh[0]!.seq}`);
          continue;
        }
      } else if (head0.seq < held || (head0.seq === held && current?.packed)) {
        continue;
      }
      try {
        const prev = fresh[0]!.kind === 'packed' ? new Uint8Array(32) : (current?.head ?? chainSeed(head0.group, head0.bucket, head0.author));
        const last = fresh[fresh.length - 1]!;
        const head = last.signature ? await verifyRun(fresh, prev, fromBase64Url(head0.author)) : this.vouchedHead(fresh, prev);
        if (fresh[0]!.kind === 'packed') {
          replaced = true;
          stored = [];
        }
        stored.push(...fresh);
        accepted.push(...fresh.slice(0, -1), { ...last });
        current = { seq: last.seq, head, packed: fresh[0]!.kind === 'packed' || (current?.packed ?? false) };
        if (last.signature) current.signature = last.signature;
        changed = true;
      } catch (error) {
        rejected += run.length;
        reasons.push(error instanceof EntryError ? error.message : String(error));
      }
    }
    return changed && current ? { stored, accepted, chain: current, replaced, rejected, reasons } : { stored: [], accepted: [], replaced: false, rejected, reasons };
  }


  /** The head of a run whose last entry carries no signature, if a held manifest of its author lists it; else refuses. */
  private vouchedHead(run: readonly Entry[], prev: Uint8Array): Uint8Array {
    const head = foldRun(run, prev);
    const last = run[run.length - 1]!;
    if (!this.manifestListing(last.group, last.bucket, last.author, last.seq, head))
      throw new EntryError('bad-signature', `run of ${last.author.slice(0, 8)}… bucket ${last.bucket} ends without a signature and no manifest lists its head`);
    return head;
  }

  /** Why an entry cannot be accepted at all, whatever its signature; undefined when it may be. */
  private refusal(entry: Entry, now: number): string | undefined {
    const state = this.state(entry.group);
    if (!state) return `unknown group ${entry.group}`;
    const who = `author ${entry.author.slice(0, 8)}…`;
    const index = state.epochs.findIndex((id) => epochIdOf(id) === entry.epoch);
    if (index < 0) return `unknown key epoch ${entry.epoch}`;
    const epoch = state.epochs[index]!;
    // Judged against the epoch, not against today's state: the author must have been a device allowed to post at
    // some point while this epoch was current. That depends on the ops alone, so every replica decides the same,
    // whatever order ops and entries arrive in; a removal ends a writer's epochs by the rotation that follows it.
    if (!state.epochWriters.get(epoch)?.has(entry.author)) {
      const what = state.devices.has(entry.author) ? 'may not post' : 'is not a device of the group';
      return `${who} ${what} (epoch ${entry.epoch})`;
    }
    // An epoch covers the days from its rotation (a day earlier for clock skew) to the day of the next rotation:
    // a removed member, who keeps the old key, cannot write anything dated after the rotation day.
    const from = bucketOf(state.epochTimes.get(epoch) ?? 0) - 1;
    const next = state.epochs[index + 1];
    const to = next === undefined ? Number.POSITIVE_INFINITY : bucketOf(state.epochTimes.get(next) ?? 0);
    if (entry.bucket < from || entry.bucket > to) return `bucket ${entry.bucket} lies outside epoch ${entry.epoch}`;
    if (this.opts.trust.isRevoked(entry.author)) return `${who} is revoked`;
    // An entry is dated by its bucket: a device may write only into days its certificate covers, so an expired
    // device cannot add anything new, while what it wrote in time still syncs.
    const cert = state.devices.get(entry.author)?.certificate;
    if (cert) {
      const validFrom = Math.max(cert.notBefore, cert.authority.notBefore);
      const validTo = Math.min(cert.notAfter, cert.authority.notAfter);
      if (bucketStart(entry.bucket) >= validTo || bucketStart(entry.bucket + 1) <= validFrom)
        return `${who}'s certificate does not cover bucket ${entry.bucket}`;
    }
    if (entry.bucket < oldestLiveBucket(now, state.policy.retentionDays)) return `bucket ${entry.bucket} expired`;
    if (entry.bucket > bucketOf(now) + FUTURE_BUCKETS) return `bucket ${entry.bucket} lies in the future`;
    return undefined;
  }


  /** Every entry of a run, not only its first, must name a key epoch of the group. */
  private epochRefusal(run: readonly Entry[]): string | undefined {
    const epochs = new Set(this.state(run[0]!.group)!.epochs.map(epochIdOf));
    const bad = run.find((e) => !epochs.has(e.epoch));
    return bad ? `unknown key epoch ${bad.epoch}` : undefined;
  }

  /** Deletes every bucket past its group's retention, and the chains with it. Returns how many. */
  async expire(): Promise<{ group: string; bucket: number }[]> {
    const now = this.opts.clock();
    const removed: { group: string; bucket: number }[] = [];
    const writes: StorageOp[] = [];
    for (const [group, g] of this.groupsById) {
      const state = this.state(group);
      if (!state) continue;
      const oldest = oldestLiveBucket(now, state.policy.retentionDays);
      for (const bucket of g.chains.keys()) {
        if (bucket >= oldest) continue;
        writes.push({ type: 'del-range', prefix: entryPrefix(group, bucket) }, { type: 'del-range', prefix: chainPrefix(group, bucket) });
        removed.push({ group, bucket });
      }
    }
    const kept: { g: GroupReplica; author: string; list: Manifest[] }[] = [];
    for (const [group, g] of this.groupsById) {
      for (const [author, list] of g.manifests) {
        const next = this.pruneManifests(group, list);
        if (next.length === list.length) continue;
        for (const m of list) if (!next.includes(m)) writes.push({ type: 'del', key: manifestKey(group, author, m.issued) });
        kept.push({ g, author, list: next });
      }
    }
    if (writes.length > 0) await this.opts.storage.batch(writes);
    for (const { g, author, list } of kept) {
      if (list.length > 0) g.manifests.set(author, list);
      else g.manifests.delete(author);
    }
    for (const { group, bucket } of removed) this.groupsById.get(group)!.chains.delete(bucket);
    if (removed.length > 0) this.emit({ type: 'expired', buckets: removed });
    return removed;
  }
}

export type ReplicaEvent =
  | { type: 'entries'; entries: Entry[] }
  | { type: 'membership'; group: string }
  | { type: 'expired'; buckets: { group: string; bucket: number }[] };

/** The 8-byte epoch id that entries carry: the first bytes of the rotate-key op id. */
export function epochIdOf(rotateOpId: string): string {
  return toBase64Url(fromBase64Url(rotateOpId).subarray(0, 8));
}


/** Splits a batch into maximal runs of one chain in arrival order. */
function splitRuns(entries: readonly Entry[]): Entry[][] {
  const runs: Entry[][] = [];
  let current: Entry[] | undefined;
  for (const e of entries) {
    const last = current?.[current.length - 1];
    if (current && last && last.group === e.group && last.bucket === e.bucket && last.author === e.author && e.kind !== 'packed' && last.seq + 1 === e.seq) {
      current.push(e);
    } else {
      current = [e];
      runs.push(current);
    }
  }
  return runs;
}

