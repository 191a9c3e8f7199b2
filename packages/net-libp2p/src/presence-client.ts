import type { Libp2p } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { PRESENCE_PROTOCOL, type PresencePeer, decodePresence, encodePresence } from './presence.ts';
import { streamChannel } from './stream-channel.ts';

export interface PresenceHandle {
  /** Resolves with the relay's first list (the announcement was taken), rejects with its ERROR or a closed stream. */
  ready: Promise<PresencePeer[]>;
  /** Resolves with the reason once the stream is gone. */
  closed: Promise<string>;
  close(): void;
}

/**
 * Announces a device's direct-link node to its relay over the device's own (admitted) relay connection, and hands
 * every list of peers the relay sends to `onPeers` until closed.
 */
export async function announcePresence(
  node: Libp2p,
  relay: Multiaddr | Multiaddr[],
  link: string,
  onPeers: (peers: PresencePeer[]) => void,
  options: { signal?: AbortSignal } = {},
): Promise<PresenceHandle> {
  const stream = await node.dialProtocol(relay, PRESENCE_PROTOCOL, options.signal ? { signal: options.signal } : {});
  const channel = streamChannel(stream);
  let settle!: { resolve: (p: PresencePeer[]) => void; reject: (e: Error) => void };
  const ready = new Promise<PresencePeer[]>((resolve, reject) => (settle = { resolve, reject }));
  ready.catch(() => {});
  const closed = new Promise<string>((resolve) => channel.onClose((reason) => resolve(reason ?? 'closed')));
  void closed.then((reason) => settle.reject(new Error(`presence closed: ${reason}`)));
  channel.onFrame((frame) => {
    try {
      const m = decodePresence(frame);
      if (m.type === 'error') throw new Error(`relay refused presence: ${m.message}`);
      if (m.type !== 'peers') throw new Error('unexpected presence message');
      settle.resolve(m.peers);
      onPeers(m.peers);
    } catch (error) {
      settle.reject(error as Error);
      channel.close((error as Error).message);
    }
  });
  channel.send(encodePresence({ type: 'announce', link }));
  return { ready, closed, close: () => channel.close('closed') };
}
