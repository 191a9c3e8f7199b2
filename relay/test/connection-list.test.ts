/**
 * The relay's linear connection listing (relay/src/connection-list.ts) on a real relay libp2p node with real
 * device nodes dialling it over loopback: it is installed, and it lists exactly the connections libp2p holds.
 */
import type { Libp2p } from '@libp2p/interface';
import { generateSigningKeyPair } from '@schoolmesh/crypto';
import { libp2pPrivateKey } from '@schoolmesh/net-libp2p';
import { createDeviceNode } from '@schoolmesh/net-libp2p/node';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.ts';
import { linearConnectionListing } from '../src/connection-list.ts';
import { createRelayNode } from '../src/node.ts';
import { until } from './support/devices.ts';

const nodes: Libp2p[] = [];
afterAll(async () => {
  for (const n of nodes) await n.stop();
});

describe('linear connection listing', () => {
  it('replaces libp2p’s quadratic listing and lists the same connections', async () => {
    const config = parseConfig({ dataDir: '.', host: '127.0.0.1', httpPort: 0, tcpPort: 0, wsPort: 0, loopbackOnly: true });
    const relay = await createRelayNode(config, await libp2pPrivateKey((await generateSigningKeyPair()).seed), { mayReserve: () => false, mayRelay: () => false });
    nodes.push(relay);
    const manager = (relay as unknown as { components: { connectionManager: object } }).components.connectionManager;
    expect(Object.hasOwn(manager, 'getConnections')).toBe(false);
    expect(linearConnectionListing(relay)).toBe(true);
    expect(Object.hasOwn(manager, 'getConnections')).toBe(true);
    expect(relay.getConnections()).toEqual([]);
    const address = relay.getMultiaddrs().find((a) => !String(a).includes('/ws'))!;
    for (let i = 0; i < 3; i++) {
      const device = await createDeviceNode({ privateKey: await libp2pPrivateKey((await generateSigningKeyPair()).seed), loopbackOnly: true });
      nodes.push(device);
      await device.dial(address);
    }
    await until(() => relay.getConnections().length === 3, 10_000, 'three connections');
    const fromMap = [...(relay as unknown as { components: { connectionManager: { getConnectionsMap(): Map<unknown, unknown[]> } } }).components.connectionManager.getConnectionsMap().values()].flat();
    expect(relay.getConnections()).toEqual(fromMap);
    expect(new Set(relay.getConnections().map((c) => c.remotePeer.toString()))).toEqual(new Set(nodes.slice(1).map((n) => n.peerId.toString())));
    const one = nodes[1]!.peerId;
    expect(relay.getConnections(one).map((c) => c.remotePeer.toString())).toEqual([one.toString()]);
  });
});
