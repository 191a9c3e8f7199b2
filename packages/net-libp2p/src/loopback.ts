import type { ConnectionGater } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';

/** Is the multiaddr's host on the loopback interface (127.0.0.0/8 or ::1)? Circuit addresses count by their relay. */
export function isLoopback(addr: Multiaddr): boolean {
  const first = addr.getComponents()[0];
  if (!first) return false;
  if (first.name === 'ip4') return first.value?.startsWith('127.') ?? false;
  if (first.name === 'ip6') return first.value === '::1';
  if (first.name === 'dns' || first.name === 'dns4' || first.name === 'dns6') return first.value === 'localhost';
  return false;
}

/**
 * A connection gater that never dials or accepts anything but loopback: tests and single-machine demos use it
 * so that no traffic can leave the machine, whatever a peer announces.
 */
export function loopbackOnlyGater(): ConnectionGater {
  return {
    denyDialMultiaddr: (addr) => !isLoopback(addr),
    denyInboundConnection: (conn) => !isLoopback(conn.remoteAddr),
  };
}
