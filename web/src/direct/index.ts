/**
 * Direct WebRTC links between devices of a group (issue 5), loaded lazily once the chat list shows. One tab per
 * profile leads (a Web Lock): it runs the link node, the others wait and take over when it closes. Nothing here is
 * shown as an error: without WebRTC, everything keeps flowing through the relay.
 */
import type { Libp2p, Stream } from '@libp2p/interface';
import { DIRECT_PROTOCOL, libp2pPrivateKey, peerIdOfKey } from '@schoolmesh/net-libp2p';
import type { EngineClient } from '../api/client.ts';
import type { AppEvent } from '../api/protocol.ts';
import { LinkDialer, type LinkPeer } from './link-dialer.ts';
import { createLinkNode } from './link-node.ts';
import { pipeStreamToPort } from './pipe.ts';

export interface DirectLinksHandle {
  stop(): void;
}

const MIN_RETRY_MS = 2_000;
const MAX_RETRY_MS = 60_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Starts direct links for the profile open in this tab (when this tab gets the profile's lead). */
export function startDirectLinks(client: EngineClient, profile: string): DirectLinksHandle {
  const abort = new AbortController();
  const locks = navigator.locks;
  if (typeof RTCPeerConnection !== 'function' || !locks) return { stop: () => {} };
  void locks
    .request(`schoolmesh-direct-${profile}`, { signal: abort.signal }, () => lead(client, abort.signal))
    .catch(() => {});
  return { stop: () => abort.abort() };
}

const hasCircuitAddr = (node: Libp2p) => node.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit'));

async function lead(client: EngineClient, signal: AbortSignal): Promise<void> {
  // A fresh key per lead: the link node proves nothing the engine relies on, and a new id per start tells the
  // other devices that this page restarted.
  const key = await libp2pPrivateKey(crypto.getRandomValues(new Uint8Array(32)));
  const link = peerIdOfKey(key.publicKey.raw).toString();
  let latest: { self: string; peers: LinkPeer[] } | undefined;
  let dialer: LinkDialer | undefined;
  let node: Libp2p | undefined;
  /** Streams of open links, either direction. */
  const open = new Set<Stream>();
  /** Wakes the loop below: stop, or the node lost its reservation (the relay went away and came back). */
  let wake = () => {};
  const off = client.on((e: AppEvent) => {
    if (e.type !== 'direct-peers') return;
    latest = { self: e.self, peers: e.peers };
    dialer?.update(e.self, e.peers);
    // A fresh list after the relay came back, but no circuit address: libp2p does not reserve again by itself, so
    // the node is made anew, once no link would be cut by it.
    if (node && !hasCircuitAddr(node) && open.size === 0) wake();
  });
  signal.addEventListener('abort', () => wake());
  const attach = async (stream: Stream, initiator: boolean, device?: string) => {
    const { port1, port2 } = new MessageChannel();
    open.add(stream);
    stream.addEventListener('close', () => open.delete(stream));
    pipeStreamToPort(stream, port1);
    await client.transfer('directAttach', [{ port: port2, initiator, ...(device ? { device } : {}) }], [port2]);
  };
  let delay = MIN_RETRY_MS;
  try {
    while (!signal.aborted) {
      // The relay must take the announcement before it grants this node a circuit reservation; while it is away
      // (or refuses), try again later.
      try {
        const { relay } = await client.call('directAnnounce', { link });
        if (relay.length === 0) throw new Error('no relay address');
        node = await createLinkNode(key, relay);
        await node.handle(
          DIRECT_PROTOCOL,
          (stream, connection) => {
            if (connection.limits) return stream.abort(new Error('direct links only over direct connections'));
            void attach(stream, false).catch(() => stream.abort(new Error('link refused')));
          },
          { runOnLimitedConnection: false, maxInboundStreams: 2 },
        );
        dialer = new LinkDialer(node, relay[0]!, attach);
        if (latest) dialer.update(latest.self, latest.peers);
        delay = MIN_RETRY_MS;
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (signal.aborted) resolve();
        });
      } catch {
        await sleep(delay * (0.75 + Math.random() * 0.5), signal);
        delay = Math.min(MAX_RETRY_MS, delay * 2);
      } finally {
        dialer?.stop();
        dialer = undefined;
        await Promise.resolve(node?.stop()).catch(() => {});
        node = undefined;
      }
    }
  } finally {
    off();
  }
}
