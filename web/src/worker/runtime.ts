import { type SchoolInfo, refreshRevocations, renewIfDue, schoolInfo, trustFor } from '@schoolmesh/client';
import type { AccountDevice, AccountRequest } from '@schoolmesh/client/account';
import { Engine, EngineError, type EngineEvent, type Posted } from '@schoolmesh/engine';
import { type DeviceIdentity, type TrustStore, decodeDeviceIdentity, encodeDeviceIdentity } from '@schoolmesh/identity';
import type { AeadKey } from '@schoolmesh/crypto';
import { BUCKET_MS, accountRef, bucketOf, bucketStart, type Role, type SchoolPolicy, defaultSchoolPolicy, isExpired, roles as allRoles } from '@schoolmesh/model';
import { openIdbStorage } from '@schoolmesh/storage-idb';
import type { AppEvent, ApprovalCode, ChatSummary, ConnectionStatus, FileToSend, GroupInfo, MessagePage, MessageView, MyDevice, Person, ProfileSummary } from '../api/protocol.ts';
import type { AuditEntry, AuditHead } from '@schoolmesh/client/audit';
import { type AuditCheck, checkAuditLog } from './audit-anchor.ts';
import { type ChatSummaryRecord, ChatSummaries } from './chat-summaries.ts';
import { DeviceApprovals } from './device-approvals.ts';
import { DirectLinks } from './direct.ts';
import { groupEvents } from './group-events.ts';
import { EncryptedStorage } from './encrypted-storage.ts';
import type { BrowserRelayConnection } from './net.ts';
import { DirectChatRefused, GroupRefused, type KnownPerson, directPartner, directWith, groupInfo, knownPeople, mayCreateGroups, mayMessage, people } from './people.ts';
import { profileDatabase } from './registry.ts';

type ChatMessage = Awaited<ReturnType<Engine['messages']>>[number];
type ForeignReaction = ReturnType<Awaited<ReturnType<Engine['openBucket']>>['foreignReactions']>[number];

const enc = new TextEncoder();
const dec = new TextDecoder();
const IDENTITY_KEY = ['app', 'identity'];
const SCHOOL_KEY = ['app', 'school'];
const seenKey = (group: string) => ['app', 'seen', group];
const pendingPrefix = ['app', 'pending'];
/** Groups this device was removed from that the user took off the chat list (`app / dismissed / group`). */
const dismissedPrefix = ['app', 'dismissed'];
/** Longest group name the app lets a user type (the wire allows 256 bytes). */
const MAX_GROUP_NAME = 80;
const EXPIRY_CHECK_MS = 60_000;
const MAX_EXPIRY_WAIT_MS = 6 * 3_600_000;

/** Stores a freshly enrolled identity and its school in the profile's own database, encrypted under its key. */
export async function storeNewProfile(id: string, key: AeadKey, identity: DeviceIdentity, info: SchoolInfo): Promise<void> {
  const storage = new EncryptedStorage(await openIdbStorage(profileDatabase(id), { durability: 'strict' }), key);
  try {
    await storage.writeCheck();
    await storage.batch([
      { type: 'put', key: IDENTITY_KEY, data: encodeDeviceIdentity(identity) },
      { type: 'put', key: SCHOOL_KEY, data: enc.encode(JSON.stringify(info)) },
    ]);
  } finally {
    await storage.close();
  }
}

/**
 * One open profile inside the worker: its engine on its own IndexedDB database, its libp2p link to the relay, and
 * what the UI needs on top of the engine (which messages still wait for the relay, what the user has seen).
 */
export class ProfileRuntime {
  status: ConnectionStatus = { state: 'connecting' };
  private connection: BrowserRelayConnection | undefined;
  /** `group/bucket/key` of own messages the relay has not acknowledged yet. */
  private readonly pending = new Set<string>();
  /** Pending marks restored after a reload: the entries go out with catch-up, cleared once caught up. */
  private readonly restored = new Set<string>();
  private readonly seen = new Map<string, number>();
  /** People found in the school's directory (by account reference): a direct chat can be started with them. */
  private readonly directoryPeople = new Map<string, KnownPerson>();
  /** Chats this account was removed from and the user took off the list. */
  private readonly dismissed = new Set<string>();
  private readonly lastReceipt = new Map<string, string>();
  private closed = false;
  private expiryTimer: ReturnType<typeof setInterval> | undefined;
  /** When the next message shown in a view passes its retention (the views hide it then). */
  private nextExpiry: { at: number; timer: ReturnType<typeof setTimeout> } | undefined;
  private emitTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly dirty = new Set<string>();
  /** Direct links to devices of the same groups (issue 5): presence, and sync sessions over the page's WebRTC. */
  readonly direct: DirectLinks;
  private chatsDirty = false;
  /** When a failed certificate renewal may be tried again. */
  private renewAfter = 0;
  /** When the school's revocation list is fetched again. */
  private revocationsAfter = 0;
  /** The chat list's newest message and unread count per group, kept so that a cold start opens no bucket. */
  private readonly summaries: ChatSummaries;
  /** Further devices of this account: approved into this device's chats by a code it asked for, or by the user. */
  private readonly approvals: DeviceApprovals;

  private constructor(
    readonly profile: ProfileSummary,
    readonly engine: Engine,
    public identity: DeviceIdentity,
    private info: SchoolInfo,
    private readonly storage: EncryptedStorage,
    private readonly emit: (e: AppEvent) => void,
    private readonly trust: TrustStore,
  ) {
    this.summaries = new ChatSummaries(storage);
    this.approvals = new DeviceApprovals(engine, () => this.accountDevices());
    this.direct = new DirectLinks(
      engine,
      identity,
      () => this.connection,
      (peers) => emit({ type: 'direct-peers', self: identity.id, peers }),
      () => this.setStatus(this.status),
    );
  }

  /** Opens a profile whose key was derived from the right PIN (the caller verified it). */
  static async open(profile: ProfileSummary, key: AeadKey, emit: (e: AppEvent) => void): Promise<ProfileRuntime> {
    const storage = new EncryptedStorage(await openIdbStorage(profileDatabase(profile.id), { durability: 'strict' }), key);
    let rawIdentity: Uint8Array | undefined;
    let rawInfo: Uint8Array | undefined;
    try {
      await storage.verify();
      rawIdentity = await storage.load(IDENTITY_KEY);
      rawInfo = await storage.load(SCHOOL_KEY);
      if (!rawIdentity || !rawInfo) throw new Error('this profile has no identity stored');
    } catch (error) {
      await storage.close();
      throw error;
    }
    const identity = await decodeDeviceIdentity(rawIdentity);
    const info = JSON.parse(dec.decode(rawInfo)) as SchoolInfo;
    // The engine's warnings (entries a peer refused, uploads that failed) go to the worker's console: what a
    // school's support sees in the browser's devtools.
    const log = (level: 'debug' | 'warn', message: string) => (level === 'warn' ? console.warn : console.debug)(`schoolmesh: ${message}`);
    const trust = trustFor(info);
    const engine = await Engine.open({ storage, identity, trust, log });
    const runtime = new ProfileRuntime(profile, engine, identity, info, storage, emit, trust);
    await runtime.restore();
    engine.on((e) => runtime.onEngineEvent(e));
    // Retention on this device: expired day buckets (and the keys only they needed) go, also while the app stays open.
    runtime.expiryTimer = setInterval(() => {
      runtime.checkExpiry();
      void runtime.renewIfDue();
      void runtime.refreshRevocations();
    }, EXPIRY_CHECK_MS);
    void runtime.goOnline();
    return runtime;
  }

  /**
   * Renews the device certificate at the relay when less than a third of its validity is left (checked when the link
   * is up and every minute): stored first, then handed to the engine, which lists it in the device's groups. A
   * failure (offline, relay down) is tried again an hour later; a device unused until its certificate ended must be
   * enrolled again.
   */
  private async renewIfDue(): Promise<void> {
    if (this.closed || Date.now() < this.renewAfter || this.status.state !== 'online') return;
    this.renewAfter = Date.now() + 3_600_000;
    try {
      const renewed = await renewIfDue(self.location.origin, this.identity);
      if (!renewed || this.closed) return;
      await this.storage.save(IDENTITY_KEY, encodeDeviceIdentity(renewed));
      this.identity = renewed;
      await this.engine.renewIdentity(renewed);
      this.renewAfter = 0;
    } catch {
      // tried again later
    }
  }

  /**
   * Fetches the school's revocation list when online (on connecting, then at most every ten minutes) and lets the
   * engine rotate away from keys a revoked device holds in this device's groups (Engine.applyRevocations).
   */
  private async refreshRevocations(): Promise<void> {
    if (this.closed || Date.now() < this.revocationsAfter || this.status.state !== 'online') return;
    this.revocationsAfter = Date.now() + 600_000;
    try {
      if ((await refreshRevocations(self.location.origin, this.trust)) > 0 && !this.closed) await this.engine.applyRevocations();
    } catch {
      // tried again later
    }
  }

  private async restore(): Promise<void> {
    for (const r of await this.storage.loadRange(['app', 'seen'])) this.seen.set(r.key[2]!, Number(dec.decode(r.data)));
    for (const key of await this.storage.keys(dismissedPrefix)) this.dismissed.add(key[2]!);
    for (const key of await this.storage.keys(pendingPrefix)) this.restored.add(key.slice(2).join('/'));
    await this.summaries.load();
  }

  /** Refreshes the relay's addresses when it answers (they may have changed), then keeps a link up. */
  private async goOnline(): Promise<void> {
    try {
      const fresh = await Promise.race([
        schoolInfo(self.location.origin),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 3_000)),
      ]);
      if (fresh.school.id === this.info.school.id) {
        this.info = fresh;
        await this.storage.save(SCHOOL_KEY, enc.encode(JSON.stringify(fresh)));
      }
    } catch {
      // offline: the stored addresses will do, RelayLink retries them
    }
    if (this.closed) return;
    // The network's code (libp2p, Noise, yamux) loads here, after the profile opened from local data.
    const { connectBrowserToRelay } = await import('./net.ts');
    if (this.closed) return;
    const connection = await connectBrowserToRelay(this.engine, this.identity, this.info.relay, (state) => {
      if (state === 'connected') {
        this.setStatus({ state: 'online' });
        void this.onConnected();
      } else if (state === 'refused') this.setStatus({ state: 'refused' });
      else if (state === 'waiting' || state === 'stopped') this.setStatus({ state: 'offline' });
      // 'connecting' keeps what was true before: 'connecting' on the first dial, 'offline' on a redial.
    });
    if (this.closed) await connection.stop().catch(() => {});
    else this.connection = connection;
  }

  /** The relay's WebSocket addresses (the page's direct-link node reserves its circuit slot there). */
  relayAddrs(): string[] {
    return this.info.relay.ws;
  }

  private async onConnected(): Promise<void> {
    // The first 'connected' can come before connectBrowserToRelay returned: wait for the assignment.
    await Promise.resolve();
    const session = this.connection?.link.session;
    if (!session) return;
    // A session that closes first rejects; the next 'connected' tries again.
    if (!(await session.caughtUp().then(() => true, () => false))) return;
    void this.renewIfDue();
    void this.refreshRevocations();
    // After catch-up the relay surely counts this session as admitted (presence asks it).
    void this.direct.relayConnected();
    if (this.restored.size === 0) return;
    // What was written before a reload: this device's chain of each such day goes to the relay again, and a mark
    // clears when the relay acknowledged it (it skips what it has); a refusal or a lost link keeps the marks for the
    // next connection.
    const byBucket = new Map<string, { group: string; bucket: number; ids: string[] }>();
    for (const id of this.restored) {
      const [group, bucket] = id.split('/') as [string, string];
      const day = byBucket.get(`${group}/${bucket}`) ?? { group, bucket: Number(bucket), ids: [] };
      day.ids.push(id);
      byBucket.set(`${group}/${bucket}`, day);
    }
    for (const { group, bucket, ids } of byBucket.values()) {
      if (!(await this.engine.confirmOwnChain(session, group, bucket).then(() => true, () => false))) continue;
      for (const id of ids) this.restored.delete(id);
      await this.storage.batch(ids.map((id) => ({ type: 'del' as const, key: [...pendingPrefix, ...id.split('/')] }))).catch(() => {});
      this.touch(group);
    }
  }

  private setStatus(status: ConnectionStatus): void {
    const { direct: _, ...rest } = status;
    this.status = this.direct.count > 0 ? { ...rest, direct: this.direct.count } : rest;
    this.emit({ type: 'status', status: this.status });
  }

  private onEngineEvent(e: EngineEvent): void {
    if (e.type === 'messages' || e.type === 'uploaded') this.touch(e.group);
    else if (e.type === 'groups' || e.type === 'expired') this.touchAll();
    else if (e.type === 'progress' && e.peer.kind === 'relay') {
      const { received, expected, caughtUp } = e.progress;
      const state = this.status.state;
      this.setStatus(caughtUp || expected === 0 ? { state } : { state, sync: { received, expected } });
    }
  }

  /** Coalesces change events: one 'messages' per group and one 'chats' per 50 ms at most. */
  private touch(group: string): void {
    this.summaries.invalidate(group);
    this.dirty.add(group);
    this.chatsDirty = true;
    this.schedule();
  }

  private touchAll(): void {
    this.chatsDirty = true;
    this.summaries.invalidateAll(this.engine.groups().map((g) => g.id));
    for (const g of this.engine.groups()) this.dirty.add(g.id);
    this.schedule();
  }

  private schedule(): void {
    if (this.emitTimer) return;
    this.emitTimer = setTimeout(() => {
      this.emitTimer = undefined;
      if (this.chatsDirty) this.emit({ type: 'chats' });
      this.chatsDirty = false;
      for (const group of this.dirty) this.emit({ type: 'messages', group });
      this.dirty.clear();
    }, 50);
  }

  // ------------------------------------------------------------ views

  /** A group of this account; with `orRemoved`, also one it was removed from (still shown, read-only). */
  private requireGroup(group: string, orRemoved = false) {
    const state = this.engine.state(group);
    if (state?.members.has(this.engine.account)) return state;
    if (state && orRemoved && this.removal(group)) return state;
    throw new EngineError('unknown-group', 'unknown group');
  }

  /** Who removed this account from the group (the op's signer's certified name), if it was removed. */
  private removal(group: string): { by: string } | undefined {
    const op = this.engine.replica.removalOf(group, this.engine.deviceId, this.engine.account);
    return op ? { by: op.author.displayName } : undefined;
  }

  /** Takes a group this account was removed from off the chat list, on this device (its data goes with retention). */
  async dismissChat(group: string): Promise<void> {
    if (!this.removal(group)) throw new EngineError('forbidden', 'only a chat you were removed from can be taken off the list');
    this.dismissed.add(group);
    await this.storage.save([...dismissedPrefix, group], new Uint8Array(1));
    this.touchAll();
  }

  private canPost(group: string): boolean {
    const state = this.engine.state(group);
    if (!state?.devices.has(this.engine.deviceId)) return false;
    const role = state.members.get(this.engine.account);
    if (!role || role === 'reader' || role === 'manager') return false;
    return state.policy.whoMayPost === 'members' || role === 'owner' || role === 'moderator';
  }

  /** This device is not listed in the group, but another device of the account is: that one must approve this one. */
  private awaitsApproval(group: string): boolean {
    const s = this.engine.state(group);
    if (!s || s.devices.has(this.engine.deviceId)) return false;
    for (const d of s.devices.values()) if (d.account === this.engine.account) return true;
    return false;
  }

  private author(group: string, device: string | undefined): { name: string; account: string; role: string; partner?: string } {
    const entry = device ? this.engine.state(group)?.devices.get(device) : undefined;
    if (!entry) return { name: '?', account: '', role: '' };
    const cert = entry.certificate;
    const partner = cert.school !== this.identity.certificate.school ? (this.info.partners.find((p) => p.root === cert.school)?.name ?? '?') : undefined;
    return { name: cert.displayName, account: entry.account, role: cert.role, ...(partner ? { partner } : {}) };
  }

  private async bucketMessages(group: string, bucket: number): Promise<{ list: ChatMessage[]; me: number; foreign: ForeignReaction[]; clientIds: Map<number, string> }> {
    const [list, doc] = await Promise.all([this.engine.messages(group, bucket), this.engine.openBucket(group, bucket)]);
    const clientIds = new Map<number, string>();
    for (const device of this.engine.state(group)?.devices.keys() ?? []) clientIds.set(doc.clientIdOf(device), device);
    return { list, me: doc.clientIdOf(this.engine.deviceId), foreign: doc.foreignReactions(), clientIds };
  }

  /**
   * The group's newest message and unread count: the kept summary while it holds (no bucket opened), else counted
   * from the newest buckets back to the last one read, and kept.
   */
  private async summary(group: string, retentionDays: number): Promise<ChatSummaryRecord> {
    const seen = this.seen.get(group) ?? 0;
    const buckets = this.engine.liveBuckets(group);
    const now = this.engine.now();
    const kept = this.summaries.valid(group, seen, buckets);
    if (kept && (kept.oldest === undefined || !isExpired(kept.oldest, now, retentionDays))) {
      if (kept.oldest !== undefined) this.expireAt(kept.oldest + retentionDays * BUCKET_MS);
      return kept;
    }
    const generation = this.summaries.generation(group);
    const record: ChatSummaryRecord = { unread: 0, seen, buckets: buckets.join(',') };
    for (let i = buckets.length - 1; i >= 0; i--) {
      const list = (await this.bucketMessages(group, buckets[i]!)).list.filter((m) => !isExpired(m.ts, now, retentionDays));
      if (list.length > 0) {
        this.expireAt(list[0]!.ts + retentionDays * BUCKET_MS);
        record.oldest = Math.min(record.oldest ?? Number.POSITIVE_INFINITY, list[0]!.ts);
      }
      record.unread += list.filter((m) => m.author !== this.engine.deviceId && !m.deleted && m.ts > seen).length;
      const newest = list.at(-1);
      if (!record.last && newest) {
        const text = newest.text || (newest.attachments[0] ? `📎 ${newest.attachments[0].name}` : '');
        record.last = { text, author: newest.author, ts: newest.ts, mine: newest.author === this.engine.deviceId, deleted: newest.deleted };
      }
      // Older buckets can only hold more unread messages if this one's oldest is still unread.
      if (record.last && list.length > 0 && list[0]!.ts <= seen) break;
    }
    this.summaries.set(group, generation, record);
    return record;
  }

  async chats(): Promise<ChatSummary[]> {
    const out: ChatSummary[] = [];
    let people: ReturnType<typeof knownPeople> | undefined;
    const known = () => (people ??= knownPeople(this.engine));
    for (const g of this.engine.groups()) {
      // A group this account was removed from stays, read-only and marked, until the user takes it off the list.
      if (g.removed && this.dismissed.has(g.id)) continue;
      const removed = g.removed ? this.removal(g.id) : undefined;
      const canRead = this.engine.canRead(g.id);
      const summary = canRead ? await this.summary(g.id, g.policy.retentionDays) : undefined;
      const newest = summary?.last;
      const last: ChatSummary['last'] = newest
        ? { text: newest.text, authorName: this.author(g.id, newest.author).name, ts: newest.ts, mine: newest.mine, deleted: newest.deleted }
        : undefined;
      const unread = summary?.unread ?? 0;
      out.push({
        id: g.id,
        name: this.chatName(g.id, g.name, known),
        kind: g.kind,
        members: g.members,
        canPost: this.canPost(g.id),
        canRead,
        ...(!canRead && this.awaitsApproval(g.id) ? { awaitingApproval: true } : {}),
        ...(removed ? { removed } : {}),
        retentionDays: g.policy.retentionDays,
        unread,
        ...(last ? { last } : {}),
      });
    }
    out.sort((a, b) => (b.last?.ts ?? 0) - (a.last?.ts ?? 0) || a.name.localeCompare(b.name, 'de'));
    return out;
  }

  // ------------------------------------------------------------ people and group info

  /** The name of a partner school by its id; undefined for this device's own school. */
  private partnerName = (school: string): string | undefined =>
    school === this.identity.certificate.school ? undefined : (this.info.partners.find((p) => p.root === school)?.name ?? '?');

  /** The school's rules as its relay announced them (defaults where it announced none). */
  private schoolPolicy(): SchoolPolicy {
    const announced = this.info.policy;
    const roles = announced?.whoMayCreateGroups?.filter((r): r is Role => (allRoles as readonly string[]).includes(r));
    return {
      ...defaultSchoolPolicy,
      pupilDirectMessages: announced?.pupilDirectMessages ?? defaultSchoolPolicy.pupilDirectMessages,
      whoMayCreateGroups: roles ?? defaultSchoolPolicy.whoMayCreateGroups,
    };
  }

  /** A direct chat is named for the other person; every other group by its own name. `known`: computed once per list. */
  private chatName(group: string, name: string, known?: () => Map<string, { name: string }>): string {
    const partner = directPartner(this.engine, group);
    return partner ? ((known ? known() : knownPeople(this.engine)).get(partner)?.name ?? name) : name;
  }

  groupInfo(group: string): GroupInfo {
    const state = this.requireGroup(group, true);
    return groupInfo(this.engine, group, this.chatName(group, state.name), this.partnerName);
  }

  people(): Person[] {
    return people(this.engine, this.identity.certificate.role, this.partnerName, this.schoolPolicy());
  }

  /** Opens the direct chat with `account`, or creates it (both as members; the policy decides who may). */
  /**
   * The school's directory (account protocol PEOPLE): the people of this school this account may write to directly,
   * matching `query`; the relay applies the school's policy, this device checks it again.
   */
  async schoolPeople(query: string): Promise<Person[]> {
    const answer = await this.account({ type: 'people', query });
    if (answer.type !== 'found') return [];
    const school = this.identity.certificate.school;
    const out: Person[] = [];
    for (const p of answer.people) {
      const account = accountRef(school, p.account);
      if (account === this.engine.account) continue;
      const person: KnownPerson = { name: p.displayName, role: p.role, school, notBefore: 0 };
      this.directoryPeople.set(account, person);
      const direct = directWith(this.engine, account);
      out.push({ account, name: p.displayName, role: p.role, ...(direct ? { direct } : {}), mayMessage: mayMessage(this.identity.certificate.role, person, this.schoolPolicy()) });
    }
    return out;
  }

  async openDirect(account: string): Promise<{ group: string; created: boolean }> {
    const existing = directWith(this.engine, account);
    if (existing) return { group: existing, created: false };
    const person = knownPeople(this.engine).get(account) ?? this.directoryPeople.get(account);
    if (!person || account === this.engine.account) throw new DirectChatRefused('unknown-person', 'this device does not know that person');
    if (!mayMessage(this.identity.certificate.role, person, this.schoolPolicy())) throw new DirectChatRefused('policy', "the school's policy does not allow this direct chat");
    const mine = this.identity.certificate.displayName;
    const group = await this.engine.createGroup({ kind: 'direct', name: `${mine} · ${person.name}`, members: [{ account, role: 'member' }] });
    this.touchAll();
    return { group, created: true };
  }

  /** Whether this account may create groups here (the school's `whoMayCreateGroups`). */
  mayCreateGroups(): boolean {
    return mayCreateGroups(this.identity.certificate.role, this.schoolPolicy());
  }

  /**
   * Creates a group with this account as owner and the picked people (known from this device's groups) as members:
   * a custom group, or an announcement group in which only its owners and moderators post.
   */
  async createGroup(input: { name: string; announcement: boolean; members: readonly string[] }): Promise<{ group: string }> {
    if (!this.mayCreateGroups()) throw new GroupRefused('policy', "the school's policy does not let this account create groups");
    const name = input.name.trim().replace(/\s+/g, ' ');
    if (name.length === 0 || name.length > MAX_GROUP_NAME) throw new GroupRefused('bad-name', `a group name has 1 to ${MAX_GROUP_NAME} characters`);
    const known = knownPeople(this.engine);
    const members = [...new Set(input.members)].filter((a) => a !== this.engine.account);
    const unknown = members.find((a) => !known.has(a));
    if (unknown) throw new GroupRefused('unknown-person', 'this device does not know one of the people picked');
    const group = await this.engine.createGroup({
      kind: input.announcement ? 'announcement' : 'custom',
      name,
      members: members.map((account) => ({ account, role: 'member' as const })),
    });
    this.touchAll();
    return { group };
  }

  /** Admin profiles: verifies the relay's audit log here, against the last head this profile verified. */
  checkAudit(log: { entries: AuditEntry[]; head: AuditHead | null }): Promise<AuditCheck> {
    return checkAuditLog(this.storage, this.identity.certificate.school, log);
  }

  // ------------------------------------------------------------ this account's devices (account protocol)

  /**
   * One request to the relay over the libp2p connection the sync link already has. The account protocol's client
   * loads on first use (it is not part of the worker's initial code).
   */
  private async account(request: AccountRequest) {
    const { AccountProtocolError, accountCall } = await import('@schoolmesh/client/account');
    const node = this.connection?.node;
    if (!node || this.status.state !== 'online') throw new AccountProtocolError('unreachable', 'no connection to the school');
    const { multiaddr } = await import('@multiformats/multiaddr');
    return accountCall(node, this.info.relay.ws.map((a) => multiaddr(a)), request);
  }

  private async accountDevices(): Promise<AccountDevice[]> {
    const answer = await this.account({ type: 'list' });
    return answer.type === 'devices' ? answer.devices : [];
  }

  async myDevices(): Promise<MyDevice[]> {
    return this.approvals.review(await this.accountDevices());
  }

  async approveDevice(device: string): Promise<{ groups: number }> {
    const found = (await this.accountDevices()).find((d) => d.device === device && !d.revoked && !d.current);
    if (!found) throw Object.assign(new Error('no device of this account has that id'), { name: 'AccountProtocolError', code: 'not-yours' });
    return { groups: await this.approvals.approve(found) };
  }

  async renameDevice(device: string, name: unknown): Promise<void> {
    const { checkDeviceName } = await import('@schoolmesh/client/account');
    await this.account({ type: 'rename', device, name: checkDeviceName(name) });
  }

  async revokeDevice(device: string): Promise<void> {
    await this.account({ type: 'revoke', device });
    // The new revocation list at once (not in up to ten minutes): the engine then never lists the device anywhere
    // again (it would, as a device this one approved, in the next group it joins) and rotates away from its keys.
    this.revocationsAfter = 0;
    await this.refreshRevocations();
  }

  async approvalCode(): Promise<ApprovalCode> {
    const answer = await this.account({ type: 'code', origin: self.location.origin });
    if (answer.type !== 'issued') throw Object.assign(new Error('no code in the answer'), { name: 'AccountProtocolError', code: 'bad-response' });
    const { code, expiresAt, url, qrSvg } = answer;
    this.approvals.codeIssued(expiresAt);
    return { code, expiresAt, ...(url ? { url } : {}), ...(qrSvg ? { qrSvg } : {}) };
  }

  async messages(group: string, min = 60): Promise<MessagePage> {
    this.requireGroup(group, true);
    const buckets = this.engine.liveBuckets(group);
    const loaded: Awaited<ReturnType<ProfileRuntime['bucketMessages']>>[] = [];
    let count = 0;
    let i = buckets.length - 1;
    for (; i >= 0 && count < min; i--) {
      const b = await this.bucketMessages(group, buckets[i]!);
      loaded.unshift(b);
      count += b.list.length;
    }
    // Reactions per message and person (device): a reaction stored in a later bucket replaces an earlier one.
    const reactions = new Map<string, Map<string, string>>();
    const react = (target: string, device: string | undefined, emoji: string) => {
      if (!device) return;
      const m = reactions.get(target) ?? new Map<string, string>();
      reactions.set(target, m);
      m.set(device, emoji);
    };
    for (const b of loaded) {
      for (const m of b.list) for (const [emoji, ids] of Object.entries(m.reactions)) for (const id of ids) react(`${m.bucket}/${m.key}`, b.clientIds.get(id), emoji);
      for (const f of b.foreign) react(`${f.target.bucket}/${f.target.key}`, b.clientIds.get(f.authorClientId), f.emoji);
    }
    // A live bucket can still hold messages past retention (it goes when its last moment does): hide those.
    const now = this.engine.now();
    const retention = this.engine.state(group)?.policy.retentionDays ?? Number.POSITIVE_INFINITY;
    const all = loaded.flatMap((b) => b.list.filter((m) => !isExpired(m.ts, now, retention)).map((m) => ({ m, me: b.me })));
    if (all.length > 0) this.expireAt(all[0]!.m.ts + retention * BUCKET_MS);
    const byKey = new Map(all.map(({ m }) => [`${m.bucket}/${m.key}`, m]));
    const messages: MessageView[] = all.map(({ m, me }) => {
      const a = this.author(group, m.author);
      const mine = m.author === this.engine.deviceId;
      const id = `${group}/${m.bucket}/${m.key}`;
      const target = m.replyTo ? byKey.get(`${m.replyTo.bucket}/${m.replyTo.key}`) : undefined;
      const counts = new Map<string, { count: number; mine: boolean }>();
      for (const [device, emoji] of reactions.get(`${m.bucket}/${m.key}`) ?? []) {
        const c = counts.get(emoji) ?? { count: 0, mine: false };
        c.count++;
        if (device === this.engine.deviceId) c.mine = true;
        counts.set(emoji, c);
      }
      return {
        key: m.key,
        bucket: m.bucket,
        authorName: a.name,
        authorAccount: a.account,
        authorRole: a.role,
        ...(a.partner ? { partnerSchool: a.partner } : {}),
        mine,
        text: m.deleted ? '' : m.text,
        ts: m.ts,
        ...(m.editedAt && !m.deleted ? { editedAt: m.editedAt } : {}),
        deleted: m.deleted,
        // Pending until the relay has the entry and every attachment (written offline, files follow from the outbox).
        pending: mine && (this.pending.has(id) || this.restored.has(id) || m.attachments.some((att) => this.engine.isUploadPending(group, m.bucket, att.id))),
        ...(m.replyTo
          ? { replyTo: { ...m.replyTo, authorName: target ? this.author(group, target.author).name : '', text: target && !target.deleted ? target.text : '' } }
          : {}),
        reactions: m.deleted ? [] : [...counts].map(([emoji, c]) => ({ emoji, ...c })),
        readBy: m.readBy.filter((c) => c !== me).length,
        ...(!m.deleted && m.attachments.length > 0 ? { attachments: m.attachments.map((a) => ({ id: a.id, name: a.name, mime: a.mime, size: a.size })) } : {}),
      };
    });
    // The group's changes over the time the page covers: from its oldest bucket, or the whole retained time.
    const since = i >= 0 ? bucketStart(buckets[i + 1] ?? bucketOf(now)) : now - retention * BUCKET_MS;
    return { group, messages, events: groupEvents(this.engine, group, since, () => knownPeople(this.engine)), hasMore: i >= 0 };
  }

  /** Runs every minute: expired buckets go, and views refresh if a shown message expired (also after a clock jump). */
  private checkExpiry(): void {
    void this.engine.expire().catch(() => {});
    if (this.nextExpiry && this.nextExpiry.at <= this.engine.now()) {
      clearTimeout(this.nextExpiry.timer);
      this.nextExpiry = undefined;
      this.touchAll();
    }
  }

  /** Refreshes every view when the oldest shown message expires, so it disappears on time, not a minute later. */
  private expireAt(at: number): void {
    if (this.closed || (this.nextExpiry && this.nextExpiry.at < at)) return;
    // The same moment again: set the timer anew, the clock may have jumped (a laptop waking up) since.
    if (this.nextExpiry) clearTimeout(this.nextExpiry.timer);
    // Far-off expiries are checked again in a few hours (setTimeout cannot wait beyond ~24 days anyway).
    const timer = setTimeout(() => {
      this.nextExpiry = undefined;
      void this.engine.expire().catch(() => {});
      this.touchAll();
    }, Math.min(MAX_EXPIRY_WAIT_MS, Math.max(0, at - this.engine.now()) + 50));
    this.nextExpiry = { at, timer };
  }

  async react(group: string, bucket: number, key: string, emoji: string | null): Promise<void> {
    this.requireGroup(group);
    const posted = await this.engine.react(group, bucket, key, emoji);
    this.track(group, posted);
  }

  async edit(group: string, bucket: number, key: string, text: string): Promise<void> {
    this.requireGroup(group);
    this.track(group, await this.engine.edit(group, bucket, key, text));
  }

  async deleteMessage(group: string, bucket: number, key: string): Promise<void> {
    this.requireGroup(group);
    this.track(group, await this.engine.deleteForEveryone(group, bucket, key));
  }

  /** Own changes show at once; the view refreshes again when the relay has them. */
  private track(group: string, posted: Posted): void {
    this.touch(group);
    void posted.acked.then(() => this.touch(group));
  }

  async post(group: string, text: string, replyTo?: { bucket: number; key: string }, files?: FileToSend[]): Promise<{ key: string; bucket: number }> {
    this.requireGroup(group);
    const input = { text, ...(replyTo ? { replyTo } : {}) };
    let reported = -1;
    const progress = (done: number, total: number) => {
      const step = Math.floor((done / total) * 20);
      if (step === reported) return;
      reported = step;
      this.emit({ type: 'upload', group, done, total });
    };
    const posted = files && files.length > 0 ? await this.engine.postWithAttachments(group, input, files, progress) : await this.engine.post(group, input);
    const id = `${group}/${posted.bucket}/${posted.key}`;
    const key = [...pendingPrefix, group, String(posted.bucket), posted.key];
    this.pending.add(id);
    // Kept across a reload: the entry is stored, and goes to the relay when the link is back.
    void this.storage.save(key, new Uint8Array([1])).catch(() => {});
    void posted.acked.then(() => {
      this.pending.delete(id);
      // With the relay away, the acknowledgement came from a direct link's peer, not the school: the mark stays, and
      // the entry goes to the relay with the next catch-up, which clears it (as after a reload).
      if (this.status.state !== 'online') {
        this.restored.add(id);
        this.touch(group);
        return;
      }
      void this.storage.remove(key).catch(() => {});
      this.touch(group);
    });
    await this.markSeen(group, Date.now());
    this.touch(group);
    return { key: posted.key, bucket: posted.bucket };
  }

  /** The verified bytes of an attachment of the message `key` in (group, bucket). */
  async attachment(group: string, bucket: number, key: string, id: string): Promise<{ name: string; mime: string; bytes: Uint8Array }> {
    this.requireGroup(group);
    const message = (await this.engine.messages(group, bucket)).find((m) => m.key === key);
    const attachment = message?.attachments.find((a) => a.id === id);
    if (!message || message.deleted || !attachment) throw new EngineError('unknown-group', 'no such attachment');
    const bytes = await this.engine.attachment(group, bucket, attachment);
    return { name: attachment.name, mime: attachment.mime, bytes };
  }

  async markRead(group: string): Promise<void> {
    this.requireGroup(group);
    const buckets = this.engine.liveBuckets(group);
    const newest = buckets.at(-1);
    let seenTs = Date.now();
    if (newest !== undefined) {
      const { list } = await this.bucketMessages(group, newest);
      const lastOther = list.filter((m) => m.author !== this.engine.deviceId).at(-1);
      if (lastOther) {
        seenTs = Math.max(seenTs, lastOther.ts);
        const receipt = `${newest}/${lastOther.key}`;
        const policy = this.engine.state(group)?.policy;
        if (policy?.readReceipts && this.canPost(group) && this.lastReceipt.get(group) !== receipt) {
          this.lastReceipt.set(group, receipt);
          await this.engine.markRead(group, newest, lastOther.key).catch(() => {});
        }
      }
    }
    await this.markSeen(group, seenTs);
    this.chatsDirty = true;
    this.schedule();
  }

  private async markSeen(group: string, ts: number): Promise<void> {
    if ((this.seen.get(group) ?? 0) >= ts) return;
    this.seen.set(group, ts);
    await this.storage.save(seenKey(group), enc.encode(String(ts)));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.emitTimer) clearTimeout(this.emitTimer);
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    if (this.nextExpiry) clearTimeout(this.nextExpiry.timer);
    this.direct.close();
    this.approvals.close();
    await this.connection?.stop().catch(() => {});
    await this.engine.close();
  }
}
