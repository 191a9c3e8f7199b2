import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayServer } from '@libp2p/circuit-relay-v2';
import { identify } from '@libp2p/identify';
import type { Libp2p, PrivateKey } from '@libp2p/interface';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { loopbackOnlyGater } from '@schoolmesh/net-libp2p';
import { createLibp2p } from 'libp2p';
import type { RelayConfig } from './config.ts';

function ipPrefix(host: string): string {
  return host.includes(':') ? `/ip6/${host}` : `/ip4/${host}`;
}

/**
 * The relay's libp2p node: TCP (relays, Node devices) and WebSockets (browsers), Noise, yamux, identify, ping,
 * and a circuit-relay server so that browsers of the school can reach each other for direct WebRTC. Limits are
 * raised for a whole school behind one NAT (docs/admin-guide.md, "Limits").
 */
export async function createRelayNode(config: RelayConfig, privateKey: PrivateKey): Promise<Libp2p> {
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
    // libp2p's connection monitor pings every connection every 10 s, all in one tick, and aborts a connection whose
    // ping takes over 5 s. Devices ping the relay themselves, so the relay's own pings only need to find dead peers
    // (WebSocket connections have no inactivity timeout): once a minute, and only a peer silent for 30 s is dropped.
    // With libp2p's defaults a relay with 2,000 devices spent a large share of its CPU on pings and, when busy for
    // a few seconds, dropped healthy sessions, whose redials made it busier (docs/benchmarks.md, "relay").
    connectionMonitor: { pingInterval: 60_000, pingTimeout: { minTimeout: 30_000 } },
    connectionManager: {
      maxConnections: config.limits.maxConnections,
      inboundConnectionThreshold: config.limits.inboundConnectionsPerHostPerSecond,
      maxIncomingPendingConnections: config.limits.maxPendingConnections,
      dialTimeout: 10_000,
    },
    ...(config.loopbackOnly ? { connectionGater: loopbackOnlyGater() } : {}),
  });
}
