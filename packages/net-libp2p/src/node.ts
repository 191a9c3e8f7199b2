import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p, PrivateKey } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { createLibp2p } from 'libp2p';
import { loopbackOnlyGater } from './loopback.ts';

/**
 * A device's libp2p node in Node.js (tools, tests, benchmarks): TCP and WebSockets, Noise, yamux, no listening.
 * The browser builds its own with WebSockets and WebRTC (web/).
 */
export async function createDeviceNode(options: { privateKey: PrivateKey; loopbackOnly?: boolean }): Promise<Libp2p> {
  return createLibp2p({
    privateKey: options.privateKey,
    addresses: { listen: [] },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(options.loopbackOnly ? { connectionGater: loopbackOnlyGater() } : {}),
    connectionManager: { dialTimeout: 10_000 },
    // A ping a minute finds a dead relay soon enough; libp2p's 10 s default costs a relay with 2,000 devices most of
    // a core (docs/benchmarks.md, "relay"). A ping may take 30 s before the link is dropped: a relay busy
    // for a few seconds must not make every device drop and redial at once (libp2p's default is 5 s).
    connectionMonitor: { pingInterval: 60_000, pingTimeout: { minTimeout: 30_000 } },
  });
}
