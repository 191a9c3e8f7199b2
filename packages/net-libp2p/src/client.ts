import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import type { FrameChannel } from '@schoolmesh/sync';
import { rawKeyOfPeer } from './keys.ts';
import { SYNC_PROTOCOL } from './protocol.ts';
import { streamChannel } from './stream-channel.ts';

/** A sync channel opened over libp2p, with the peer key that libp2p's Noise handshake authenticated. */
export interface OpenedSync {
  channel: FrameChannel;
  /** The raw Ed25519 key the remote end proved in Noise: the certificate it shows must be for this key. */
  remoteKey: Uint8Array;
  remotePeer: PeerId;
  connection: Connection;
}

/** Wraps an inbound or outbound sync stream. */
export function syncOverStream(stream: Stream, connection: Connection): OpenedSync {
  const remoteKey = rawKeyOfPeer(connection.remotePeer);
  if (!remoteKey) {
    stream.abort(new Error('only Ed25519 peers speak the sync protocol'));
    throw new Error('only Ed25519 peers speak the sync protocol');
  }
  return { channel: streamChannel(stream), remoteKey, remotePeer: connection.remotePeer, connection };
}

/** Dials a peer (a relay's multiaddr with /p2p/ id) and opens one sync stream on the connection. */
export async function dialSync(node: Libp2p, addr: Multiaddr | Multiaddr[], options: { signal?: AbortSignal } = {}): Promise<OpenedSync> {
  const connection = await node.dial(addr, options.signal ? { signal: options.signal } : {});
  const stream = await connection.newStream(SYNC_PROTOCOL, options.signal ? { signal: options.signal } : {});
  return syncOverStream(stream, connection);
}
