import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify } from '@libp2p/identify';
import type { Libp2p, PrivateKey } from '@libp2p/interface';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { createLibp2p } from 'libp2p';

/**
 * The page's direct-link node: WebSockets to the school's relay (for a circuit-relay reservation and WebRTC
 * signalling only), WebRTC to other devices. Its key is its own (fresh per start), not the device key: it carries
 * bytes, and the engine worker authenticates both ends of every link itself (web/src/worker/direct.ts).
 */
export function createLinkNode(privateKey: PrivateKey, relayWs: string[]): Promise<Libp2p> {
  const withoutPeer = (a: string) => a.replace(/\/p2p\/[^/]+$/, '');
  const relays = relayWs.map(withoutPeer);
  return createLibp2p({
    privateKey,
    addresses: { listen: [...relayWs.slice(0, 1).map((a) => `${a}/p2p-circuit`), '/webrtc'] },
    transports: [webSockets(), circuitRelayTransport(), webRTC({ rtcConfiguration: { iceServers: [] } })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    // It dials the relay, and other devices through the relay (their WebRTC offer travels over the circuit): an
    // address that does not begin with one of the school's relay addresses is refused. ICE, not libp2p, picks the
    // WebRTC path itself; no STUN or TURN server is configured, so nothing leaves the school's network.
    connectionGater: { denyDialMultiaddr: (addr) => !relays.some((r) => addr.toString().startsWith(r)) },
    connectionManager: { dialTimeout: 20_000 },
    connectionMonitor: { enabled: false },
  });
}
