import type { Libp2p } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import type { Engine } from '@schoolmesh/engine';
import type { DeviceIdentity } from '@schoolmesh/identity';
import { RelayLink, type RelayLinkState, libp2pPrivateKey, peerIdOfKey, rawKeyOfPeer } from '@schoolmesh/net-libp2p';
import { relayBlobTransport } from '@schoolmesh/net-libp2p/blob';
import { createDeviceNode } from '@schoolmesh/net-libp2p/node';
import type { SchoolInfo } from './enroll.ts';

export interface RelayConnection {
  node: Libp2p;
  link: RelayLink;
  stop(): Promise<void>;
}

/**
 * Connects an engine to its school's relay from Node.js (tools, tests, benchmarks): a libp2p node whose identity
 * is the device key, and a RelayLink that keeps the sync session up. The browser does the same over WebSockets.
 */
export async function connectToRelay(
  engine: Engine,
  identity: DeviceIdentity,
  relay: SchoolInfo['relay'],
  options: { transport?: 'tcp' | 'ws'; loopbackOnly?: boolean; onState?: (s: RelayLinkState, detail?: string) => void } = {},
): Promise<RelayConnection> {
  const node = await createDeviceNode({ privateKey: await libp2pPrivateKey(identity.signing.seed), loopbackOnly: options.loopbackOnly ?? false });
  const addrs = (options.transport === 'ws' ? relay.ws : relay.tcp).map((a) => multiaddr(a));
  const link = new RelayLink({ node, endpoint: engine, addrs, agent: 'schoolmesh-node-device', ...(options.onState ? { onState: options.onState } : {}) }).start();
  const relayPeer = /\/p2p\/([^/]+)$/.exec(addrs[0]?.toString() ?? '')?.[1];
  const relayKey = relayPeer ? rawKeyOfPeer(relayPeer) : undefined;
  // Attachments go to the same relay, on the same connection, by the blob protocol.
  if (relayKey) engine.useBlobTransport(relayBlobTransport(node, peerIdOfKey(relayKey)));
  return {
    node,
    link,
    stop: async () => {
      engine.useBlobTransport(undefined);
      link.stop();
      await node.stop();
    },
  };
}
