/**
 * A light simulated device for load tests: its own libp2p node whose identity is the device key (TCP, Noise,
 * yamux, exactly as a Node device dials), one real sync session with the device's real certificate, and a minimal
 * replica instead of an Engine. The relay does all of its real work (Noise, admission, certificate checks,
 * membership, verification and storage of posts, forwarding); the device only timestamps what it receives.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p, PrivateKey } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { type Engine, deviceCredential, trustStoreVerifier } from '@schoolmesh/engine';
import type { Entry } from '@schoolmesh/entries';
import type { DeviceIdentity, TrustStore } from '@schoolmesh/identity';
import { dialSync, libp2pPrivateKey, loopbackOnlyGater } from '@schoolmesh/net-libp2p';
import { createDeviceNode } from '@schoolmesh/net-libp2p/node';
import { type SyncReplica, SyncSession, boundToTransport } from '@schoolmesh/sync';
import { createLibp2p } from 'libp2p';

export interface LightGroup {
  group: string;
  /** The membership heads the device holds (the relay's too: nothing to exchange). */
  heads: string[];
}

/**
 * A replica that holds a group's membership heads and no entries: what a device that is up to date looks like to
 * the relay. Entries it receives are handed to `received` and acknowledged (a real device would verify, decrypt
 * and store them: that is device work, not relay work, and the load generator has no CPU to spare for it).
 */
export function lightReplica(groups: LightGroup[], received: (entries: readonly Entry[]) => void): SyncReplica {
  const heads = new Map(groups.map((g) => [g.group, g.heads]));
  return {
    groupsFor: async () => groups.map((g) => ({ group: g.group, heads: g.heads })),
    knowsGroup: (group) => heads.has(group),
    mayKnow: (_peer, group) => heads.has(group),
    mayRead: (_peer, group) => heads.has(group),
    membershipFor: () => [],
    heads: (group) => heads.get(group) ?? [],
    applyMembership: async () => ({ applied: 0, rejected: 0, missing: false, fresh: [] }),
    summary: async () => [],
    vector: async () => new Map(),
    entriesFor: async () => [],
    applyEntries: async (entries) => {
      received(entries);
      return { accepted: [...entries], rejected: 0, reason: '' };
    },
    applyManifest: async () => ({ accepted: true, reason: '' }),
    manifestsFor: () => [],
    removalFor: () => [],
  };
}

/**
 * Runs the handshake and catch-up of a session, failing (instead of waiting forever) when the session closes
 * first or takes longer than `ms`: `caughtUp()` alone never settles for a session that closed.
 */
export async function settled(session: SyncSession, steps: () => Promise<void>, ms = 60_000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const failed = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`session not caught up in ${ms} ms`)), ms);
    session.onClose((reason) => reject(new Error(`session closed: ${reason ?? 'closed'}`)));
  });
  failed.catch(() => {});
  try {
    await Promise.race([steps(), failed]);
  } catch (error) {
    session.close('benchmark gave up');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

export interface LightConnection {
  node: Libp2p;
  session: SyncSession;
  close(): Promise<void>;
}

/**
 * A simulated device's libp2p node: what `createDeviceNode` builds (TCP, Noise, yamux, loopback only, libp2p's
 * connection monitor), with two differences. `pingIntervalMs` sets how often the monitor pings the relay (libp2p's
 * default and today's devices: every 10 s; each ping is a new stream, which costs the relay a few ms of CPU). And a
 * slow ping does not abort the connection: a thousand simulated devices share one load-generator process on a
 * shared 2-core machine, so their pings are answered late when that process is busy; with libp2p's default (abort
 * after 5 s) most of them dropped their connection during the ramp-up, which measured the load generator, not the
 * relay (docs/benchmarks.md, "relay").
 */
export function createLightNode(privateKey: PrivateKey, pingIntervalMs = 10_000): Promise<Libp2p> {
  return createLibp2p({
    privateKey,
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: loopbackOnlyGater(),
    connectionManager: { dialTimeout: 30_000 },
    connectionMonitor: { pingInterval: pingIntervalMs, abortConnectionOnPingFailure: false },
  });
}

/** Dials the relay over TCP from the device's own libp2p node and runs the sync handshake until caught up. */
export async function connectLight(
  identity: DeviceIdentity,
  trust: TrustStore,
  relayTcp: string[],
  replica: SyncReplica,
  pingIntervalMs?: number,
): Promise<LightConnection> {
  const node = await createLightNode(await libp2pPrivateKey(identity.signing.seed), pingIntervalMs);
  try {
    const opened = await dialSync(
      node,
      relayTcp.map((a) => multiaddr(a)),
      { signal: AbortSignal.timeout(60_000) },
    );
    const session = new SyncSession({
      channel: opened.channel,
      replica,
      credential: deviceCredential(identity),
      verifier: boundToTransport(trustStoreVerifier(trust), opened.remoteKey),
      agent: 'schoolmesh-bench-device',
    });
    await settled(session, async () => {
      await session.start();
      await session.caughtUp();
    });
    return {
      node,
      session,
      close: async () => {
        session.close('done');
        await node.stop();
      },
    };
  } catch (error) {
    await Promise.resolve(node.stop()).catch(() => {});
    throw error;
  }
}

/** Connects an Engine (a full device) to the relay over its own libp2p node, as connectToRelay does, without redials. */
export async function connectEngine(
  engine: Engine,
  identity: DeviceIdentity,
  relayTcp: string[],
): Promise<{ session: SyncSession; close(): Promise<void> }> {
  const node = await createDeviceNode({ privateKey: await libp2pPrivateKey(identity.signing.seed), loopbackOnly: true });
  try {
    const opened = await dialSync(node, relayTcp.map((a) => multiaddr(a)), { signal: AbortSignal.timeout(60_000) });
    const session = engine.connect(opened.channel, { agent: 'schoolmesh-bench-device', transportKey: opened.remoteKey });
    await session.start();
    return {
      session,
      close: async () => {
        session.close('done');
        await node.stop();
      },
    };
  } catch (error) {
    await Promise.resolve(node.stop()).catch(() => {});
    throw error;
  }
}
