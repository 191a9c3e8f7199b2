import type { Libp2p, PeerId } from '@libp2p/interface';
import type { FrameChannel } from '@schoolmesh/sync';
import { streamChannel } from '../stream-channel.ts';
import { BLOB_PROTOCOL } from './frames.ts';

/**
 * Opens one blob stream to a peer, on the connection that is already up (the device's relay link, a federation
 * link) or a new one. The peer admits it only if this peer holds an admitted sync session (docs/protocol.md).
 */
export async function openBlobChannel(node: Libp2p, peer: PeerId, options: { signal?: AbortSignal } = {}): Promise<FrameChannel> {
  const signal = options.signal ? { signal: options.signal } : {};
  const connection = node.getConnections(peer).find((c) => c.status === 'open') ?? (await node.dial(peer, signal));
  const stream = await connection.newStream(BLOB_PROTOCOL, signal);
  return streamChannel(stream);
}
