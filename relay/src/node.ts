import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayServer } from '@libp2p/circuit-relay-v2';
import { identify } from '@libp2p/identify';
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { loopbackOnlyGater } from '@schoolmesh/net-libp2p';
import { createLibp2p } from 'libp2p';
import type { RelayConfig } from './config.ts';

function ipPrefix(host: string): string {
  return host.includes(':') ? `/ip6/${host}` : `/ip4/${host}`;
}

/** Whom the circuit-relay server serves: decided by the presence service once it runs (nobody before). */
export interface CircuitPolicy {
  mayReserve(peer: PeerId): boolean;
  mayRelay(source: PeerId, target: PeerId): boolean;
}

/**
 * The relay's libp2p node: TCP (relays, Node devices) and WebSockets (browsers), Noise, yamux, identify, ping,
 * and a circuit-relay server so that browsers of the school can reach each other for direct WebRTC (only the
 * direct-link nodes that admitted devices announced through presence). Limits are
 * raised for a whole school behind one NAT (docs/admin-guide.md, "Limits").
 */
export async function createRelayNode(config: RelayConfig, privateKey: PrivateKey, circuit: CircuitPolicy): Promise<Libp2p> {
  const host = ipPrefix(config.host);
  return createLibp2p({
    privateKey,
    addresses: {
      listen: [`${host}/tcp/${config.tcpPort}`, `${host}/tcp/${config.wsPort}/ws`],
      announce: config.announce,
    },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      circuitRelay: circuitRelayServer({
        reservations: {
          // Every browser of the school may hold a reservation; limits per relayed connection stay at libp2p's
          // defaults (2 minutes, 128 KiB): enough for WebRTC signalling, not for carrying traffic.
          maxReservations: config.limits.maxConnections,
        },
      }),
    },
    // No relay-side connection monitor. libp2p's default pings every connection every 10 s, each ping a new stream
    // (~4 ms of relay CPU here), all connections in the same tick (a 0.5 s stall at 900 devices), and aborts a
    // connection whose ping takes 5 s, so a busy relay drops healthy sessions whose redials make it busier
    // (docs/benchmarks.md, "relay"). Liveness does not need it: yamux pings every connection every 30 s with one
    // frame and no stream, spread out, so a dead peer's connection fails on write; devices run their own monitor to
    // notice a dead relay and redial.
    connectionMonitor: { enabled: false },
    connectionManager: {
      maxConnections: config.limits.maxConnections,
      inboundConnectionThreshold: config.limits.inboundConnectionsPerHostPerSecond,
      maxIncomingPendingConnections: config.limits.maxPendingConnections,
      dialTimeout: 10_000,
    },
    connectionGater: {
      ...(config.loopbackOnly ? loopbackOnlyGater() : {}),
      // Reservations and relayed connections only for the direct-link nodes of admitted devices that share a group
      // (relay/src/presence.ts): the circuit relay carries WebRTC signalling for the school, not for strangers.
      denyInboundRelayReservation: (peer) => !circuit.mayReserve(peer),
      denyOutboundRelayedConnection: (source, target) => !circuit.mayRelay(source, target),
    },
  });
}
