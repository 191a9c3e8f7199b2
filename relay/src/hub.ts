import type { Entry } from '@schoolmesh/entries';
import type { TrustStore } from '@schoolmesh/identity';
import type { Replica } from '@schoolmesh/replica';
import { ErrorCode, type FrameChannel, type LocalCredential, type PeerInfo, type SyncReplica, SyncRefusal, SyncSession } from '@schoolmesh/sync';
import type { Logger } from 'pino';
import { type Admitted, admissionVerifier, stillAdmitted } from './admission.ts';
import type { RelayMetrics } from './metrics.ts';
import type { DeviceRateLimiter } from './rate-limit.ts';

interface Live {
  session: SyncSession;
  admitted?: Admitted;
  origin: 'inbound' | 'outbound';
}

export interface HubOptions {
  replica: Replica;
  trust: TrustStore;
  credential: LocalCredential;
  metrics: RelayMetrics;
  limiter: DeviceRateLimiter;
  log: Logger;
  sessionsPerDevice: number;
  /** A session that has not authenticated after this long is refused (an idle stranger holds a stream). */
  handshakeMs: number;
  /** The school's rules for groups this relay does not hold yet: why a batch of ops is refused, or undefined. */
  admitGroup?: (ops: readonly Uint8Array[]) => Promise<string | undefined>;
}

/**
 * Every sync session of the relay, with devices and with partner relays: admits them, forwards what one peer
 * stored to the others that may read it, and drops sessions whose credentials no longer hold.
 */
export class SessionHub {
  private readonly live = new Set<Live>();
  /**
   * Authenticated sessions by device id, and those of partner relays: forwarding looks up the devices of an entry's
   * group instead of asking every session, and the sessions-per-device check is one lookup. With thousands of
   * sessions a scan per post (or per new session) was the relay's largest cost of its own (docs/benchmarks.md).
   */
  private readonly byDevice = new Map<string, Set<Live>>();
  private readonly relays = new Set<Live>();
  /** Told when a device's session ends (presence drops the device once it has no session left). */
  readonly deviceClosed = new Set<(device: string) => void>();
  /** When each device's sync session last opened or closed here (since the relay started). */
  private readonly seen = new Map<string, number>();

  constructor(private readonly opts: HubOptions) {
    opts.replica.on((event) => {
      if (event.type === 'membership') for (const l of this.live) l.session.refresh(event.group);
    });
  }

  /** Limits from a reloaded config: they apply to sessions opened from now on (and the per-device count at once). */
  setLimits(limits: { sessionsPerDevice: number; handshakeMs: number }): void {
    this.opts.sessionsPerDevice = limits.sessionsPerDevice;
    this.opts.handshakeMs = limits.handshakeMs;
  }

  get size(): number {
    return this.live.size;
  }

  /** A sync session of this device is open now. */
  isOnline(device: string): boolean {
    return this.byDevice.has(device);
  }

  lastSeen(device: string): number | undefined {
    return this.isOnline(device) ? Date.now() : this.seen.get(device);
  }

  peers(): PeerInfo[] {
    return [...this.live].flatMap((l) => (l.session.peer ? [l.session.peer] : []));
  }

  /**
   * Runs a sync session over a channel whose transport authenticated `transportKey`. `onAdmitted` is called once
   * the peer's HELLO showed a credential the relay admits (before its AUTH).
   */
  open(channel: FrameChannel, transportKey: Uint8Array, origin: 'inbound' | 'outbound', onAdmitted?: () => void): SyncSession {
    const { replica, metrics, log } = this.opts;
    const live: Live = { session: undefined as unknown as SyncSession, origin };
    const session = new SyncSession({
      channel,
      replica: this.limited(),
      credential: this.opts.credential,
      verifier: admissionVerifier(this.opts.trust, transportKey, (a) => {
        live.admitted = a;
        onAdmitted?.();
      }),
      agent: 'schoolmesh-relay',
      onEntries: (entries, from) => this.forward(live, entries, from),
      onMembership: (group, ops) => {
        for (const other of this.live) if (other !== live) other.session.pushMembership(group, ops);
      },
      log: (level, message) => (level === 'warn' ? log.warn({ peer: live.admitted?.peer.id }, message) : log.debug({ peer: live.admitted?.peer.id }, message)),
    });
    live.session = session;
    this.live.add(live);
    const handshake = setTimeout(() => {
      if (session.peer || session.isClosed) return;
      metrics.refused.inc({ reason: 'handshake-timeout' });
      session.refuse(ErrorCode.Unauthenticated, `no handshake within ${this.opts.handshakeMs / 1000} s`);
    }, this.opts.handshakeMs);
    handshake.unref();
    session.onClose((reason) => {
      clearTimeout(handshake);
      this.live.delete(live);
      this.relays.delete(live);
      const peerId = session.peer?.id;
      const mine = peerId === undefined ? undefined : this.byDevice.get(peerId);
      if (mine?.delete(live) && mine.size === 0) this.byDevice.delete(peerId!);
      if (peerId !== undefined && session.peer?.kind === 'device') {
        this.seen.set(peerId, Date.now());
        for (const h of this.deviceClosed) h(peerId);
      }
      if (live.admitted) {
        metrics.connections.dec({ kind: live.admitted.peer.kind });
        if (live.admitted.peer.kind === 'relay') metrics.federationLinks.dec();
        log.info({ peer: live.admitted.peer.id, kind: live.admitted.peer.kind, reason }, 'session closed');
      }
    });
    session
      .start()
      .then((peer) => {
        clearTimeout(handshake);
        metrics.connections.inc({ kind: peer.kind });
        if (peer.kind === 'relay') metrics.federationLinks.inc();
        log.info({ peer: peer.id, kind: peer.kind, account: peer.account, school: peer.school, origin }, 'session open');
        if (session.isClosed) return;
        if (peer.kind === 'relay') this.relays.add(live);
        else {
          let mine = this.byDevice.get(peer.id);
          if (!mine) {
            mine = new Set();
            this.byDevice.set(peer.id, mine);
          }
          mine.add(live);
          // The oldest session goes (a Set iterates in insertion order).
          if (mine.size > this.opts.sessionsPerDevice) mine.values().next().value!.session.close('too many sessions for one device');
        }
        metrics.groups.set(replica.groups().length);
      })
      .catch((error: Error) => {
        metrics.refused.inc({ reason: 'handshake' });
        log.info({ reason: error.message, origin }, 'session refused');
      });
    return session;
  }

  private forward(from: Live, entries: Entry[], _peer: PeerInfo): void {
    const { replica, metrics } = this.opts;
    // Who may read: the devices of each entry's group that have a session here, and partner relays; the replica
    // still decides every case (mayRead), the index only spares asking sessions that cannot be readers.
    const readers = new Map<Live, Set<string>>();
    const allow = (other: Live, group: string) => {
      if (other === from || !other.session.peer || !replica.mayRead(other.session.peer, group)) return;
      let groups = readers.get(other);
      if (!groups) {
        groups = new Set();
        readers.set(other, groups);
      }
      groups.add(group);
    };
    for (const group of new Set(entries.map((e) => e.group))) {
      const state = replica.state(group);
      if (!state) continue;
      for (const device of state.devices.keys()) for (const other of this.byDevice.get(device) ?? []) allow(other, group);
      for (const other of this.relays) allow(other, group);
    }
    for (const [other, groups] of readers) {
      const readable = entries.filter((e) => groups.has(e.group));
      const started = performance.now();
      other.session.pushEntries(readable).then(
        () => {
          metrics.entriesForwarded.inc(readable.length);
          metrics.forwardSeconds.observe((performance.now() - started) / 1000);
        },
        () => {},
      );
    }
  }

  /** The replica as one session sees it: the relay's replica behind per-device limits and metrics. */
  private limited(): SyncReplica {
    const { replica, metrics, limiter } = this.opts;
    return {
      groupsFor: (peer) => replica.groupsFor(peer),
      knowsGroup: (group) => replica.knowsGroup(group),
      mayKnow: (peer, group) => replica.mayKnow(peer, group),
      mayRead: (peer, group) => replica.mayRead(peer, group),
      membershipFor: (group, theirs) => replica.membershipFor(group, theirs),
      removalFor: (peer, group, theirs) => replica.removalFor(peer, group, theirs),
      heads: (group) => replica.heads(group),
      applyMembership: async (group, ops, peer) => {
        // A group new to this relay is judged by the school's rules first (group-admission.ts).
        const refusal = this.opts.admitGroup && !replica.knowsGroup(group) ? await this.opts.admitGroup(ops) : undefined;
        if (refusal === undefined) return replica.applyMembership(group, ops, peer);
        this.opts.log.warn({ group, peer: peer.id, reason: refusal }, 'group refused');
        return { applied: 0, rejected: ops.length, missing: false, fresh: [] };
      },
      summary: (group) => replica.summary(group),
      vector: (group, bucket) => replica.vector(group, bucket),
      entriesFor: (group, bucket, theirs) => replica.entriesFor(group, bucket, theirs),
      applyManifest: (manifest, peer) => replica.applyManifest(manifest, peer),
      manifestsFor: (entries) => replica.manifestsFor(entries),
      applyEntries: async (entries, peer) => {
        const started = performance.now();
        if (peer.kind === 'device') {
          const bytes = entries.reduce((n, e) => n + e.ciphertext.length, 0);
          const waitMs = limiter.waitFor(peer.id, entries.length, bytes);
          if (waitMs > 0) metrics.rateLimited.inc({ outcome: 'delayed' });
          if (!(await limiter.take(peer.id, entries.length, bytes))) {
            metrics.rateLimited.inc({ outcome: 'refused' });
            throw new SyncRefusal(ErrorCode.RateLimited, 'rate limit: this device sends more than the relay accepts per minute');
          }
        }
        const result = await replica.applyEntries(entries, peer);
        metrics.entriesStored.inc(result.accepted.length);
        if (result.rejected > 0) metrics.entriesRejected.inc(result.rejected);
        metrics.storeSeconds.observe((performance.now() - started) / 1000);
        return result;
      },
    };
  }

  /** Closes every session whose credential no longer holds (revoked, expired, partner removed). */
  async recheck(): Promise<number> {
    let dropped = 0;
    for (const l of [...this.live]) {
      if (!l.admitted) continue;
      try {
        await stillAdmitted(this.opts.trust, l.admitted);
      } catch (error) {
        dropped++;
        this.opts.metrics.refused.inc({ reason: 'recheck' });
        this.opts.log.warn({ peer: l.admitted.peer.id, reason: (error as Error).message }, 'dropping session');
        l.session.refuse(ErrorCode.Unauthenticated, `no longer admitted: ${(error as Error).message}`);
      }
    }
    return dropped;
  }

  /**
   * The peer behind an admitted, authenticated sync session with this key id (a device id or a relay's authority
   * key), if there is one: other protocols on the same connection (blobs) admit by it.
   */
  admittedPeer(id: string): PeerInfo | undefined {
    for (const l of this.byDevice.get(id) ?? []) if (l.session.peer && l.admitted) return l.session.peer;
    for (const l of this.relays) if (l.session.peer?.id === id && l.admitted) return l.session.peer;
    return undefined;
  }

  /** The partner relays with an authenticated session here. */
  relayPeers(): PeerInfo[] {
    const out = new Map<string, PeerInfo>();
    for (const l of this.relays) if (l.session.peer) out.set(l.session.peer.id, l.session.peer);
    return [...out.values()];
  }

  /** The admitted device with this id, if it holds an open session here now. */
  admittedDevice(id: string): PeerInfo | undefined {
    for (const l of this.byDevice.get(id) ?? []) if (l.session.peer && !l.session.isClosed) return l.session.peer;
    return undefined;
  }

  /** Is a session with this relay (by authority key id) open? */
  hasRelay(id: string): boolean {
    for (const l of this.live) if (l.session.peer?.kind === 'relay' && l.session.peer.id === id) return true;
    return false;
  }

  closeAll(reason: string): void {
    for (const l of [...this.live]) l.session.close(reason);
  }
}
