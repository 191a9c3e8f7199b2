import type { Libp2p, PeerId } from '@libp2p/interface';
import type { FrameChannel } from '@schoolmesh/sync';
import { streamChannel } from '../stream-channel.ts';
import { BLOB_PROTOCOL, type BlobRef } from './frames.ts';
import { getBlob, putBlob } from './transfer.ts';

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

/**
 * Blob transfer with the device's relay (structurally the engine's `BlobTransport`): one stream per request on
 * the relay link's connection.
 */
export function relayBlobTransport(node: Libp2p, relay: PeerId) {
  return {
    put: async (ref: BlobRef, sealed: Uint8Array, onProgress?: (done: number, total: number) => void): Promise<void> =>
      putBlob(await openBlobChannel(node, relay), ref, sealed, onProgress),
    get: async (ref: BlobRef, maxBytes: number, onProgress?: (done: number, total: number) => void): Promise<Uint8Array> =>
      getBlob(await openBlobChannel(node, relay), ref, maxBytes, onProgress),
  };
}
