import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { PRESENCE_PROTOCOL, type PresencePeer, decodePresence, encodePresence, rawKeyOfPeer, streamChannel } from '@schoolmesh/net-libp2p';
import type { Replica } from '@schoolmesh/replica';
import type { FrameChannel, PeerInfo } from '@schoolmesh/sync';
import { toBase64Url } from '@schoolmesh/wire';
import type { Logger } from 'pino';

const MAX_ANNOUNCEMENTS_PER_STREAM = 4;

/** Who is online for direct links: one entry per device, the newest announcement wins. */
interface Announced {
  peer: PeerInfo;
  link: string;
  channel: FrameChannel;
  /** The list last sent, to send only changes. */
  sent: string | undefined;
}

export interface PresenceOptions {
  replica: Replica;
  /** The admitted device behind a device id, if it has a sync session with this relay now. */
  admitted: (device: string) => PeerInfo | undefined;
  log: Logger;
}

/**
 * The presence service (docs/protocol.md, "Presence"): a device that holds a sync session with this relay announces
 * the peer id of its browser's direct-link node, and learns the devices that share a readable group with it and did
 * the same. Nobody else learns anything: a stream from a connection without an admitted device session is refused,
 * and each list holds only devices that share a group with the asker. The circuit-relay server serves only the link
 * nodes announced here (`mayRelay`), so the relay carries WebRTC signalling for its devices and for no one else.
 */
export class Presence {
  private readonly online = new Map<string, Announced>();
  private readonly links = new Map<string, string>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly node: Libp2p,
    private readonly opts: PresenceOptions,
  ) {}

  async start(): Promise<void> {
    await this.node.handle(PRESENCE_PROTOCOL, (stream, connection) => this.accept(stream, connection), {
      maxInboundStreams: 2,
      maxOutboundStreams: 1,
      runOnLimitedConnection: false,
    });
    // Membership changes who shares a group with whom.
    this.unsubscribe = this.opts.replica.on((event) => {
      if (event.type === 'membership') this.refreshAll();
    });
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.node.unhandle(PRESENCE_PROTOCOL).catch(() => {});
    for (const a of [...this.online.values()]) a.channel.close('relay shutting down');
  }

  /** Is this libp2p peer the announced link node of a device online here? */
  isLink(peer: PeerId | string): boolean {
    return this.links.has(peer.toString());
  }

  /** Circuit relay between two link nodes only: both announced, and their devices share a group. */
  mayRelay(source: PeerId, target: PeerId): boolean {
    const a = this.links.get(source.toString());
    const b = this.links.get(target.toString());
    if (!a || !b) return false;
    const from = this.online.get(a);
    return from !== undefined && this.peersOf(from.peer).some((p) => p.device === b);
  }

  /** How many devices are announced (for health and tests). */
  get size(): number {
    return this.online.size;
  }

  private accept(stream: Stream, connection: Connection): void {
    const key = rawKeyOfPeer(connection.remotePeer);
    const peer = key ? this.opts.admitted(toBase64Url(key)) : undefined;
    const channel = streamChannel(stream);
    if (peer?.kind !== 'device') {
      this.opts.log.info({ remote: connection.remotePeer.toString() }, 'presence refused: no admitted device session');
      channel.send(encodePresence({ type: 'error', message: 'presence needs an admitted sync session on this connection' }));
      channel.close('not admitted');
      return;
    }
    let announcements = 0;
    channel.onFrame((frame) => {
      let message: ReturnType<typeof decodePresence>;
      try {
        // Each announcement makes the relay recompute and push lists to the device's peers: a few per stream are
        // plenty (a page that restarts opens a new stream), more is a device hammering the relay.
        if (++announcements > MAX_ANNOUNCEMENTS_PER_STREAM) throw new Error('too many announcements on one stream');
        message = decodePresence(frame);
        if (message.type !== 'announce') throw new Error(`a device sends only ANNOUNCE, not ${message.type}`);
        const link = peerIdFromString(message.link);
        if (link.type !== 'Ed25519') throw new Error('a link node has an Ed25519 key');
      } catch (error) {
        channel.send(encodePresence({ type: 'error', message: (error as Error).message }));
        channel.close('bad presence message');
        return;
      }
      this.announce({ peer, link: message.link, channel, sent: undefined });
    });
    channel.onClose(() => {
      const current = this.online.get(peer.id);
      if (current?.channel !== channel) return;
      this.withdraw(peer.id);
    });
  }

  private announce(a: Announced): void {
    const previous = this.online.get(a.peer.id);
    if (previous) {
      this.links.delete(previous.link);
      if (previous.channel !== a.channel) previous.channel.close('announced again');
    }
    this.online.set(a.peer.id, a);
    this.links.set(a.link, a.peer.id);
    this.opts.log.info({ peer: a.peer.id, link: a.link }, 'presence announced');
    this.send(a);
    for (const p of this.peersOf(a.peer)) this.send(this.online.get(p.device)!);
  }

  private withdraw(device: string): void {
    const a = this.online.get(device);
    if (!a) return;
    this.online.delete(device);
    this.links.delete(a.link);
    for (const p of this.peersOf(a.peer)) this.send(this.online.get(p.device)!);
  }

  /** Drops announcements whose device no longer holds an admitted session (revoked, expired, gone). */
  recheck(): void {
    for (const [device, a] of [...this.online]) {
      if (this.opts.admitted(device)) continue;
      a.channel.close('no longer admitted');
      this.withdraw(device);
    }
  }

  private refreshAll(): void {
    for (const a of this.online.values()) this.send(a);
  }

  /** The announced devices that share a group this device may read, and may read it too. */
  peersOf(peer: PeerInfo): PresencePeer[] {
    const { replica } = this.opts;
    const found = new Map<string, string>();
    for (const group of replica.groups()) {
      if (!replica.mayRead(peer, group)) continue;
      for (const device of replica.state(group)?.devices.keys() ?? []) {
        if (device === peer.id || found.has(device)) continue;
        const other = this.online.get(device);
        if (other && replica.mayRead(other.peer, group)) found.set(device, other.link);
      }
    }
    return [...found].sort(([a], [b]) => (a < b ? -1 : 1)).map(([device, link]) => ({ device, link }));
  }

  private send(a: Announced): void {
    const peers = this.peersOf(a.peer);
    const key = peers.map((p) => `${p.device}=${p.link}`).join(',');
    // The first answer goes out even when empty: it tells the device its announcement was taken.
    if (key === a.sent) return;
    a.sent = key;
    a.channel.send(encodePresence({ type: 'peers', peers }));
  }
}
