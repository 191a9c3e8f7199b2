import type { Connection, Libp2p, PeerId } from '@libp2p/interface';

/** The part of libp2p's (internal) connection manager this module replaces. */
interface ConnectionManagerLike {
  getConnections(peerId?: PeerId): Connection[];
  getConnectionsMap(): { values(): Iterable<Connection[]>; get(peerId: PeerId): Connection[] | undefined };
}

/**
 * libp2p 3.3's connection manager lists all connections with `conns = conns.concat(c)` per peer: O(n²) copying for
 * n peers, and it does so twice for every inbound connection (the accept check and the pruner). At 2,000 devices
 * that was 6.6 % of the relay's CPU over a benchmark run (13 s, almost all while devices connected; docs/benchmarks.md,
 * "relay"), and it grows with the cube of the school's size during a reconnect storm. This replaces the listing on the
 * node's connection manager with one linear pass over the same map, same order, same result. Returns false (and
 * changes nothing) if the node does not have the expected shape, e.g. after a libp2p upgrade.
 */
export function linearConnectionListing(node: Libp2p): boolean {
  const manager = (node as unknown as { components?: { connectionManager?: Partial<ConnectionManagerLike> } }).components?.connectionManager;
  if (!manager || typeof manager.getConnections !== 'function' || typeof manager.getConnectionsMap !== 'function') return false;
  const map = manager.getConnectionsMap.call(manager);
  if (!map || typeof map.values !== 'function' || typeof map.get !== 'function') return false;
  manager.getConnections = (peerId?: PeerId): Connection[] => {
    if (peerId != null) return map.get(peerId) ?? [];
    const all: Connection[] = [];
    for (const conns of map.values()) for (const c of conns) all.push(c);
    return all;
  };
  return true;
}
