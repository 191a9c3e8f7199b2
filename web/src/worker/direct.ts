import type { Engine } from '@schoolmesh/engine';
import type { DeviceIdentity } from '@schoolmesh/identity';
// libp2p's code loads with the network (after the profile opened), not with the worker: types only here.
import type { BytePipe, PresenceHandle, PresencePeer } from '@schoolmesh/net-libp2p';
import type { SyncSession } from '@schoolmesh/sync';
import { fromBase64Url } from '@schoolmesh/wire';
import type { BrowserRelayConnection } from './net.ts';

/** How long a direct link's Noise handshake may take before the pipe is given up. */
const HANDSHAKE_MS = 10_000;
/** How long an announcement waits for the relay's first answer (a relay link may still be coming up). */
const ANNOUNCE_MS = 15_000;

/**
 * A MessagePort as the byte pipe of a direct link: the page holds the WebRTC connection (RTCPeerConnection does not
 * exist in workers) and passes the stream's bytes through the port; `null` means the end.
 */
function portPipe(port: MessagePort): BytePipe {
  const data: ((d: Uint8Array) => void)[] = [];
  const end: (() => void)[] = [];
  let ended = false;
  const finish = () => {
    if (ended) return;
    ended = true;
    for (const h of end) h();
    port.close();
  };
  port.onmessage = (e: MessageEvent<Uint8Array | null>) => {
    if (e.data instanceof Uint8Array) for (const h of data) h(e.data);
    else finish();
  };
  port.start();
  return {
    send: (d) => {
      if (ended) return;
      const copy = d.slice();
      port.postMessage(copy, [copy.buffer]);
    },
    onData: (h) => data.push(h),
    onEnd: (h) => end.push(h),
    end: () => {
      if (ended) return;
      port.postMessage(null);
      finish();
    },
  };
}

/**
 * The engine's side of direct links between devices of a group: announces this device's direct-link node (held by a
 * page, see web/src/direct/) to the relay through presence, tells the page which devices to reach, and runs a sync
 * session over every link the page hands over, authenticated like a relay session: Noise with the device key over
 * the link's bytes, then the certificate in HELLO bound to that key (the engine's `boundToTransport`).
 */
export class DirectLinks {
  private link: string | undefined;
  private presence: PresenceHandle | undefined;
  private peers: PresencePeer[] = [];
  private readonly sessions = new Map<string, SyncSession>();
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private closed = false;
  private starting = false;

  constructor(
    private readonly engine: Engine,
    private readonly identity: DeviceIdentity,
    private readonly relay: () => BrowserRelayConnection | undefined,
    private readonly onPeers: (peers: PresencePeer[]) => void,
    private readonly onCount: (n: number) => void,
  ) {}

  get self(): string {
    return this.identity.id;
  }

  get count(): number {
    return this.sessions.size;
  }

  /** The page's link node is up under `link`: announce it now (and after every reconnect to the relay). */
  async announce(link: string): Promise<void> {
    if (this.link === link && this.presence) {
      await this.presence.ready;
      return;
    }
    this.presence?.close();
    this.presence = undefined;
    this.link = link;
    const taken = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    const timer = setTimeout(() => this.settle(new Error('the relay did not take the announcement in time')), ANNOUNCE_MS);
    void this.relayConnected();
    try {
      await taken;
    } finally {
      clearTimeout(timer);
    }
  }

  private settle(error?: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) (error ? w.reject(error) : w.resolve());
  }

  /** Called whenever the relay link is (re)connected: presence lives on that connection. */
  async relayConnected(): Promise<void> {
    const connection = this.relay();
    const link = this.link;
    if (!connection || !link || this.closed || connection.link.state !== 'connected') return;
    if (this.presence || this.starting) return;
    this.starting = true;
    try {
      const { announcePresence } = await import('@schoolmesh/net-libp2p');
      const handle = await announcePresence(connection.node, connection.addrs, link, (peers) => {
        this.peers = peers;
        this.onPeers(peers);
      });
      this.presence = handle;
      await handle.ready;
      this.settle();
      void handle.closed.then(() => {
        if (this.presence === handle) this.presence = undefined;
      });
    } catch (error) {
      this.presence = undefined;
      this.settle(error as Error);
    } finally {
      this.starting = false;
    }
  }

  /** The devices the relay last listed (while the relay is gone, the last list stands: links already up stay up). */
  known(): PresencePeer[] {
    return this.peers;
  }

  /**
   * Runs a sync session over a link the page opened (initiator: it dialed `device`) or accepted. A second link to a
   * device that already has one is closed at once.
   */
  async attach(port: MessagePort, initiator: boolean, device?: string): Promise<void> {
    const pipe = portPipe(port);
    if (this.closed || (device && this.sessions.has(device))) {
      pipe.end();
      return;
    }
    const { libp2pPrivateKey, peerIdOfKey, secureDirect } = await import('@schoolmesh/net-libp2p');
    const key = await libp2pPrivateKey(this.identity.signing.seed);
    let secured: Awaited<ReturnType<typeof secureDirect>>;
    try {
      secured = await secureDirect(pipe, key, {
        initiator,
        ...(initiator && device ? { remotePeer: peerIdOfKey(fromBase64Url(device)) } : {}),
        signal: AbortSignal.timeout(HANDSHAKE_MS),
      });
    } catch (error) {
      pipe.end();
      throw error;
    }
    const session = this.engine.connect(secured.channel, { agent: 'schoolmesh-web-direct', transportKey: secured.remoteKey });
    const peer = await session.start();
    if (this.sessions.has(peer.id) || this.closed) {
      session.close('a direct link to this device exists');
      return;
    }
    this.sessions.set(peer.id, session);
    this.onCount(this.sessions.size);
    session.onClose(() => {
      if (this.sessions.get(peer.id) !== session) return;
      this.sessions.delete(peer.id);
      this.onCount(this.sessions.size);
    });
  }

  /** Which devices have a direct session now (the page redials the others). */
  linked(): string[] {
    return [...this.sessions.keys()];
  }

  close(): void {
    this.closed = true;
    this.presence?.close();
    for (const s of this.sessions.values()) s.close('closed');
    this.sessions.clear();
    this.settle(new Error('closed'));
  }
}
