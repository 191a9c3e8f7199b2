import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { webSockets } from '@libp2p/websockets';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import type { SchoolInfo } from '@schoolmesh/client';
import type { Engine } from '@schoolmesh/engine';
import type { DeviceIdentity } from '@schoolmesh/identity';
import { RelayLink, type RelayLinkState, libp2pPrivateKey, peerIdOfKey, rawKeyOfPeer } from '@schoolmesh/net-libp2p';
import { createLibp2p } from 'libp2p';

export type BrowserNode = Awaited<ReturnType<typeof createLibp2p>>;

export interface BrowserRelayConnection {
  node: BrowserNode;
  link: RelayLink;
  /** The relay's addresses (presence for direct links opens its stream on the same connection). */
  addrs: Multiaddr[];
  stop(): Promise<void>;
}

/**
 * The browser's libp2p node: the device key is its libp2p identity (so Noise proves the device), WebSockets to the
 * school's relay, Noise, yamux; it listens on nothing. It runs inside the engine worker (WebSockets and WebCrypto
 * exist there; RTCPeerConnection does not: direct WebRTC links are held by a page, web/src/direct/).
 */
export async function connectBrowserToRelay(
  engine: Engine,
  identity: DeviceIdentity,
  relay: SchoolInfo['relay'],
  onState: (state: RelayLinkState, detail?: string) => void,
): Promise<BrowserRelayConnection> {
  const addrs = relay.ws.map((a) => multiaddr(a));
  const withoutPeer = (a: string) => a.replace(/\/p2p\/[^/]+$/, '');
  const allowed = new Set(addrs.map((a) => withoutPeer(a.toString())));
  const node = await createLibp2p({
    privateKey: await libp2pPrivateKey(identity.signing.seed),
    addresses: { listen: [] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // libp2p's browser default refuses private addresses, but a school relay is on the school's LAN (and on
    // loopback in tests). The node dials nothing but the relay addresses its own school published.
    connectionGater: { denyDialMultiaddr: (addr) => !allowed.has(withoutPeer(addr.toString())) },
    connectionManager: { dialTimeout: 10_000 },
    // A ping a minute finds a dead relay soon enough; libp2p's 10 s default costs a relay with 2,000 devices most of
    // a core (docs/benchmarks.md, "relay"). A ping may take 30 s before the link is dropped: a relay busy
    // for a few seconds must not make every device drop and redial at once (libp2p's default is 5 s).
    connectionMonitor: { pingInterval: 60_000, pingTimeout: { minTimeout: 30_000 } },
  });
  const link = new RelayLink({ node, endpoint: engine, addrs, agent: 'schoolmesh-web', minDelayMs: 500, maxDelayMs: 5_000, onState }).start();
  // Attachments travel to the same relay on the same connection (/schoolmesh/blob/1).
  const relayKey = rawKeyOfPeer(relay.peerId);
  if (relayKey) {
    // The blob protocol's code loads on the first attachment sent or opened, not with the worker.
    const relayPeer = peerIdOfKey(relayKey);
    const transport = import('@schoolmesh/net-libp2p/blob').then((m) => m.relayBlobTransport(node, relayPeer));
    engine.useBlobTransport({
      put: async (address, sealed, onProgress) => (await transport).put(address, sealed, onProgress),
      get: async (address, maxBytes, onProgress) => (await transport).get(address, maxBytes, onProgress),
    });
  }
  return {
    node,
    link,
    addrs,
    stop: async () => {
      engine.useBlobTransport(undefined);
      link.stop();
      await node.stop();
    },
  };
}
