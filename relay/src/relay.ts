import { readFile, readdir, stat } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { Libp2p } from '@libp2p/interface';
import { BLOB_STREAM_OPTIONS, SYNC_PROTOCOL, SYNC_STREAM_OPTIONS, libp2pPrivateKey, syncOverStream } from '@schoolmesh/net-libp2p';
import { BLOB_PROTOCOL } from '@schoolmesh/net-libp2p/blob';
import { LdapAuthenticator } from '@schoolmesh/directory';
import { TrustStore, rootKeyOf, schoolIdOf } from '@schoolmesh/identity';
import { oldestLiveBucket } from '@schoolmesh/model';
import { Replica } from '@schoolmesh/replica';
import { type LevelStorageAdapter, openLevelStorage } from '@schoolmesh/storage-level';
import type { LocalCredential } from '@schoolmesh/sync';
import { toBase64Url } from '@schoolmesh/wire';
import { type Logger, pino } from 'pino';
import { ACCOUNT_PROTOCOL, ACCOUNT_STREAM_OPTIONS } from '@schoolmesh/client/account';
import { AccountService } from './account.ts';
import { AdminGate } from './admin-gate.ts';
import { AuditLog } from './audit-log.ts';
import { ConfigError, type RelayConfig } from './config.ts';
import { BLOB_UPLOADS_PER_MINUTE, BlobService } from './blob-service.ts';
import { BlobStore } from './blob-store.ts';
import { type AccountAuthenticator, Enrollment } from './enrollment.ts';
import type { AdminGroup } from './admin-api.ts';
import { Federation } from './federation.ts';
import { type GroupAdmissionContext, groupCreationRefusal, knownRole } from './group-admission.ts';
import { createHttpServer } from './http.ts';
import { SessionHub } from './hub.ts';
import { type RelayKeys, loadRelayKeys } from './keystore.ts';
import { RelayMetrics } from './metrics.ts';
import { linearConnectionListing } from './connection-list.ts';
import { type CircuitPolicy, createRelayNode } from './node.ts';
import { Presence } from './presence.ts';
import { DeviceRateLimiter } from './rate-limit.ts';
import { SchoolPolicyStore } from './school-policy.ts';
import { type SyncHost, startSyncHost } from './sync-host.ts';

/** Bytes a peer may send before its credential is admitted: a HELLO (certificate ≤ 8 KiB) and an AUTH, framed. */
const PRE_ADMISSION_BYTES = 16 * 1024;

export interface RelayOptions {
  logger?: Logger;
  clock?: () => number;
  /** Password sign-in methods (the directory issue registers LDAP here). */
  authenticators?: AccountAuthenticator[];
}

/**
 * A school's relay: a ciphertext-only Replica on the embedded LevelDB store, behind libp2p (devices and partner
 * relays) and HTTP (web app, enrollment, health, metrics). It can neither read nor forge messages; it admits only
 * certified devices and partner relays and forwards each group only to peers that may read it.
 */
export class Relay {
  private timers: ReturnType<typeof setInterval>[] = [];
  private stopping: Promise<void> | undefined;
  readonly startedAt = Date.now();
  /** The directory sync service (the `directorySync` config section), when configured. */
  syncHost: SyncHost | undefined;

  private constructor(
    private current: RelayConfig,
    readonly keys: RelayKeys,
    readonly log: Logger,
    readonly storage: LevelStorageAdapter,
    readonly trust: TrustStore,
    readonly replica: Replica,
    readonly enrollment: Enrollment,
    readonly metrics: RelayMetrics,
    readonly hub: SessionHub,
    readonly node: Libp2p,
    readonly http: Server,
    readonly federation: Federation,
    private readonly limiter: DeviceRateLimiter,
    private readonly partners: { name: string; root: string }[],
    readonly blobs: BlobStore,
    readonly presence: Presence,
    readonly policies: SchoolPolicyStore,
    private readonly blobService: BlobService,
  ) {}

  /** The config in force (the one given at start, or the last one `reload` applied). */
  get config(): RelayConfig {
    return this.current;
  }

  static async start(config: RelayConfig, options: RelayOptions = {}): Promise<Relay> {
    const clock = options.clock ?? Date.now;
    const keys = await loadRelayKeys(config.dataDir);
    const log = options.logger ?? pino({ level: config.log.level, base: { school: keys.schoolName } });
    const storage = await openLevelStorage(join(config.dataDir, 'store'), { sync: config.store.fsync });
    const trust = new TrustStore(clock);
    trust.addSchool(keys.rootPublicKey, keys.schoolName);
    for (const p of config.federation.partners) trust.addSchool(rootKeyOf(p.root)!, p.name);
    const replica = await Replica.open({ storage, trust, clock, log: (level, message) => log[level]({ component: 'replica' }, message) });
    const enrollment = await Enrollment.open(storage, keys, trust, { codeDays: config.enrollment.codeDays, deviceCertDays: config.enrollment.deviceCertDays, clock });
    for (const a of options.authenticators ?? []) enrollment.addAuthenticator(a);
    if (config.directory) enrollment.addAuthenticator(await ldapAuthenticator(config, log));
    const metrics = new RelayMetrics();
    const policies = await SchoolPolicyStore.open(config.dataDir, { ...config.policy, ...config.directorySync?.policy });
    const credential: LocalCredential = { kind: 'authority', bytes: keys.authorityCert.bytes, sign: (m) => keys.authority.sign(m) };
    const limiter = new DeviceRateLimiter({ entries: config.limits.entriesPerMinutePerDevice, bytes: config.limits.bytesPerMinutePerDevice });
    const admission: GroupAdmissionContext = {
      school: keys.schoolId,
      policy: () => policies.get(),
      roleOf: (account) => knownRole(account, keys.schoolId, enrollment, replica),
    };
    const hub = new SessionHub({
      replica,
      trust,
      credential,
      metrics,
      limiter,
      log,
      sessionsPerDevice: config.limits.sessionsPerDevice,
      handshakeMs: config.limits.handshakeSeconds * 1000,
      admitGroup: (ops) => groupCreationRefusal(ops, admission),
    });
    // The circuit relay serves nobody until the presence service decides (it needs the node to exist first).
    const circuit: CircuitPolicy = { mayReserve: () => false, mayRelay: () => false };
    const node = await createRelayNode(config, await libp2pPrivateKey(keys.authority.seed), circuit);
    if (!linearConnectionListing(node)) log.warn('libp2p connection manager not as expected: connection listing stays quadratic');
    const presence = new Presence(node, { replica, admitted: (device) => hub.admittedDevice(device), log: log.child({ component: 'presence' }) });
    circuit.mayReserve = (peer) => presence.isLink(peer);
    circuit.mayRelay = (source, target) => presence.mayRelay(source, target);
    await presence.start();
    hub.deviceClosed.add(() => presence.recheck());
    await node.handle(
      SYNC_PROTOCOL,
      (stream, connection) => {
        try {
          const opened = syncOverStream(stream, connection);
          // Until its HELLO shows an admitted credential, a peer may send only that HELLO and its AUTH: without
          // this cap, anyone could make the relay buffer a 4 MiB partial frame on every stream it opens.
          let admitted = false;
          let before = 0;
          const cap = (event: { data: { byteLength: number } }) => {
            if (admitted) return stream.removeEventListener('message', cap);
            before += event.data.byteLength;
            if (before > PRE_ADMISSION_BYTES) stream.abort(new Error('too much data before a credential was shown'));
          };
          stream.addEventListener('message', cap);
          hub.open(opened.channel, opened.remoteKey, 'inbound', () => (admitted = true));
        } catch (error) {
          log.info({ reason: (error as Error).message }, 'sync stream refused');
        }
      },
      SYNC_STREAM_OPTIONS,
    );
    const blobs = new BlobStore(join(config.dataDir, 'blobs'), config.store.fsync);
    const blobService = new BlobService({
      store: blobs,
      replica,
      hub,
      node,
      limiter: new DeviceRateLimiter({ entries: BLOB_UPLOADS_PER_MINUTE, bytes: config.limits.blobBytesPerMinutePerDevice }, clock, 0),
      maxBlobBytes: config.limits.blobBytes,
      metrics,
      log: log.child({ component: 'blobs' }),
      clock,
    });
    await node.handle(BLOB_PROTOCOL, (stream, connection) => blobService.handle(stream, connection), BLOB_STREAM_OPTIONS);
    // The same revocation as an admin's: signed list, sessions dropped, and the sync account's groups rotate.
    const revoke = async (devices: string[]) => void (await relay.revoke(devices));
    // A device acts on its own account (its devices, approving a new one) over the connection it already has.
    const account = new AccountService({
      enrollment,
      hub,
      log,
      clock,
      revoke,
      directory: () => relay.syncHost?.sync.directory()?.people,
      policy: () => policies.get(),
    });
    await node.handle(ACCOUNT_PROTOCOL, (stream, connection) => account.handle(stream, connection), ACCOUNT_STREAM_OPTIONS);
    const federation = new Federation(node, hub, log.child({ component: 'federation' }));
    let relay!: Relay;
    // Kept by reference: a config reload edits it in place, and /api/school answers from it.
    const partners = config.federation.partners.map((p) => ({ name: p.name, root: p.root }));
    const http = createHttpServer({
      school: { id: keys.schoolId, name: keys.schoolName, root: toBase64Url(keys.rootPublicKey) },
      partners,
      policy: () => ({ pupilDirectMessages: policies.get().pupilDirectMessages, whoMayCreateGroups: [...policies.get().whoMayCreateGroups] }),
      enrollment,
      metrics,
      webRoot: config.webRoot,
      failuresPerMinutePerAddress: config.enrollment.failuresPerMinutePerAddress,
      log: log.child({ component: 'http' }),
      relayAddrs: () => relay.addresses(),
      health: () => relay.health(),
      refreshMetrics: () => relay.refreshMetrics(),
      admin: {
        gate: new AdminGate({ school: keys.schoolId, trust, adminToken: keys.adminToken }),
        audit: await AuditLog.open(config.dataDir, keys),
        enrollment,
        log,
        revoke,
        directorySync: () => relay.syncHost?.sync,
        policy: () => policies.get(),
        updatePolicy: async (patch) => {
          const policy = await policies.update(patch);
          const updates = (await relay.syncHost?.sync.applyPolicies(policy)) ?? [];
          log.warn({ policy, groups: updates.length }, 'school policy changed');
          return { policy, updates };
        },
        groups: () => relay.adminGroups(),
        partners: () => {
          const connected = new Set(hub.peers().filter((p) => p.kind === 'relay').map((p) => p.school));
          return relay.config.federation.partners.map((p) => ({ ...p, connected: connected.has(p.root) }));
        },
        directorySettings: () => directorySettings(config),
      },
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.httpPort, config.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
    relay = new Relay(config, keys, log, storage, trust, replica, enrollment, metrics, hub, node, http, federation, limiter, partners, blobs, presence, policies, blobService);
    await relay.sweep();
    if (config.directorySync) {
      relay.syncHost = await startSyncHost({
        config,
        keys,
        trust,
        enrollment,
        policies,
        relayAddrs: () => relay.addresses(),
        revoke: (devices) => relay.revoke(devices).then(() => {}),
        log: log.child({ component: 'directory-sync' }),
      });
    }
    federation.start(config.federation.partners);
    await relay.refreshPartners();
    relay.startTimers();
    log.info({ http: relay.httpUrl(), libp2p: node.getMultiaddrs().map(String), partners: config.federation.partners.length }, 'relay started');
    return relay;
  }

  private async refreshPartners(): Promise<void> {
    if ((await this.federation.refreshRevocations(this.current.federation.partners, this.trust)) > 0) await this.hub.recheck();
  }

  private startTimers(): void {
    for (const t of this.timers) clearInterval(t);
    const c = this.current;
    this.timers = [
      setInterval(() => void this.refreshPartners(), c.partnerRevocationMinutes * 60_000),
      setInterval(() => void this.sweep(), c.retention.sweepMinutes * 60_000),
      setInterval(() => void this.hub.recheck(), c.recheckSeconds * 1000),
    ];
    for (const t of this.timers) t.unref();
  }

  /**
   * Applies a changed config without a restart (SIGHUP): federation partners (added ones are trusted and dialled;
   * removed ones are no longer trusted, their links stop and their sessions are dropped at once), limits, timers
   * and the log level. Settings that need a restart (addresses, ports, data directory, store, web root, enrollment,
   * directory) are reported back and logged, not applied. Returns what needs a restart.
   */
  async reload(next: RelayConfig): Promise<string[]> {
    const before = this.current;
    const needsRestart = RESTART_ONLY.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(next[k]));
    const oldRoots = new Set(before.federation.partners.map((p) => p.root));
    const newRoots = new Set(next.federation.partners.map((p) => p.root));
    this.current = { ...next, ...Object.fromEntries(needsRestart.map((k) => [k, before[k]])) } as RelayConfig;
    for (const root of oldRoots) if (!newRoots.has(root)) this.trust.removeSchool(schoolIdOf(rootKeyOf(root)!));
    for (const p of next.federation.partners) this.trust.addSchool(rootKeyOf(p.root)!, p.name);
    this.partners.splice(0, this.partners.length, ...next.federation.partners.map((p) => ({ name: p.name, root: p.root })));
    if (JSON.stringify(before.federation.partners) !== JSON.stringify(next.federation.partners)) {
      this.federation.stop();
      this.federation.start(next.federation.partners);
    }
    this.limiter.setLimits({ entries: next.limits.entriesPerMinutePerDevice, bytes: next.limits.bytesPerMinutePerDevice });
    this.hub.setLimits({ sessionsPerDevice: next.limits.sessionsPerDevice, handshakeMs: next.limits.handshakeSeconds * 1000 });
    this.blobService.setLimits({ blobBytes: next.limits.blobBytes, bytesPerMinutePerDevice: next.limits.blobBytesPerMinutePerDevice });
    this.log.level = next.log.level;
    this.startTimers();
    const dropped = await this.hub.recheck();
    await this.refreshPartners();
    const added = [...newRoots].filter((r) => !oldRoots.has(r)).length;
    const removed = [...oldRoots].filter((r) => !newRoots.has(r)).length;
    this.log.info({ partners: next.federation.partners.length, added, removed, dropped, needsRestart }, 'config reloaded');
    if (needsRestart.length > 0) this.log.warn({ settings: needsRestart }, 'these settings changed but apply only after a restart');
    return needsRestart;
  }

  /** Every group the relay holds, as its membership log says (names, counts, policy), with the sync's keys. */
  adminGroups(): AdminGroup[] {
    const keyOf = new Map((this.syncHost?.sync.groups() ?? []).map((g) => [g.group, g]));
    return this.replica.groups().map((id) => {
      const s = this.replica.state(id)!;
      const d = keyOf.get(id);
      const group: AdminGroup = { id, name: s.name, kind: s.kind, members: s.members.size, devices: s.devices.size, retentionDays: s.policy.retentionDays };
      if (d) group.directory = { key: d.key, ended: d.endedAt !== undefined };
      return group;
    });
  }

  httpUrl(): string {
    const a = this.http.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  addresses(): { peerId: string; ws: string[]; tcp: string[] } {
    const all = this.node.getMultiaddrs().map(String);
    return { peerId: this.node.peerId.toString(), ws: all.filter((a) => a.includes('/ws')), tcp: all.filter((a) => !a.includes('/ws')) };
  }

  health(): Record<string, unknown> {
    const peers = this.hub.peers();
    return {
      status: 'ok',
      school: { id: this.keys.schoolId, name: this.keys.schoolName },
      peerId: this.node.peerId.toString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      sessions: { devices: peers.filter((p) => p.kind === 'device').length, relays: peers.filter((p) => p.kind === 'relay').length },
      groups: this.replica.groups().length,
    };
  }

  /** Deletes buckets past their group's retention, and their blobs (at start-up and every sweepMinutes). */
  async sweep(): Promise<number> {
    try {
      const now = Date.now();
      const gone = await this.blobs.expire((group) => {
        const state = this.replica.state(group);
        return state ? oldestLiveBucket(now, state.policy.retentionDays) : undefined;
      });
      if (gone.blobs > 0) {
        this.metrics.expiredBlobs.inc(gone.blobs);
        this.log.info({ buckets: gone.buckets, blobs: gone.blobs }, 'retention: expired blobs deleted');
      }
      const removed = await this.replica.expire();
      if (removed.length > 0) {
        this.metrics.expiredBuckets.inc(removed.length);
        this.log.info({ buckets: removed.length }, 'retention: expired buckets deleted');
        // LevelDB keeps deleted values on disk until a compaction rewrites their files: expired ciphertext must go.
        await this.storage.compact();
      }
      return removed.length;
    } catch (error) {
      this.log.error({ err: error }, 'retention sweep failed');
      return 0;
    }
  }

  async refreshMetrics(): Promise<void> {
    this.metrics.groups.set(this.replica.groups().length);
    this.metrics.storeBytes.set(await directoryBytes(join(this.config.dataDir, 'store')));
    this.metrics.blobStoreBytes.set(await this.blobs.bytes());
  }

  /**
   * Revokes devices now: signed list, stored, sessions dropped; the sync account then takes them out of the groups
   * it owns, rotating each group's key (in the background: a running sync finishes first).
   */
  async revoke(devices: string[]): Promise<number> {
    await this.enrollment.revoke(devices);
    const dropped = await this.hub.recheck();
    this.log.warn({ devices, dropped }, 'devices revoked');
    void this.syncHost?.sync.removeRevokedDevices(devices).catch((error: Error) => this.log.error({ err: error }, 'rotation after revocation failed'));
    return dropped;
  }

  /** Graceful stop: no new sessions, open sessions closed, the store closed after its last write. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const t of this.timers) clearInterval(t);
      await this.syncHost?.stop().catch((error: Error) => this.log.error({ err: error }, 'sync service did not stop cleanly'));
      this.federation.stop();
      await this.presence.stop();
      await this.node.unhandle(SYNC_PROTOCOL).catch(() => {});
      await this.node.unhandle(BLOB_PROTOCOL).catch(() => {});
      await this.node.unhandle(ACCOUNT_PROTOCOL).catch(() => {});
      this.hub.closeAll('relay shutting down');
      const httpClosed = new Promise<void>((resolve) => this.http.close(() => resolve()));
      this.http.closeAllConnections();
      await httpClosed;
      await this.node.stop();
      await this.replica.close();
      this.log.info('relay stopped');
    })();
    return this.stopping;
  }
}

/** Settings a running relay cannot change: they take effect at the next start. */
const RESTART_ONLY = ['dataDir', 'host', 'httpPort', 'tcpPort', 'wsPort', 'announce', 'loopbackOnly', 'store', 'enrollment', 'directory', 'webRoot'] as const satisfies readonly (keyof RelayConfig)[];

/** The LDAP password sign-in from the config's `directory` section (a bind password may come from a file). */
async function ldapAuthenticator(config: RelayConfig, log: Logger): Promise<AccountAuthenticator> {
  const settings: Record<string, unknown> = { ...config.directory };
  if (typeof settings.bindPasswordFile === 'string') {
    settings.bindPassword = (await readFile(resolve(config.dataDir, settings.bindPasswordFile), 'utf8')).trim();
    delete settings.bindPasswordFile;
  }
  try {
    return new LdapAuthenticator(settings, {
      onRefusal: (reason, username, address) => log.info({ component: 'ldap', reason, username, address }, 'sign-in refused'),
    });
  } catch (error) {
    throw new ConfigError(`invalid relay config: directory: ${(error as Error).message}`);
  }
}

/** What admins see of the directory settings: everything but the bind password. */
function directorySettings(config: RelayConfig): Record<string, unknown> | undefined {
  if (!config.directory && !config.directorySync) return undefined;
  const ldap = config.directory ? { ...config.directory } : undefined;
  if (ldap && 'bindPassword' in ldap) ldap.bindPassword = '(set)';
  if (ldap && typeof ldap.tls === 'object' && ldap.tls !== null) ldap.tls = { ...(ldap.tls as Record<string, unknown>), key: undefined, passphrase: undefined };
  return { ldap: ldap ?? null, sync: config.directorySync ?? null };
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const s = await stat(join(dir, name)).catch(() => undefined);
    if (s?.isFile()) total += s.size;
  }
  return total;
}
