import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { DIRECT_PROTOCOL } from '@schoolmesh/net-libp2p';

export interface LinkPeer {
  device: string;
  link: string;
}

/** Hands a link's stream to the engine worker; resolves once the sync session over it is up, rejects if not. */
export type AttachLink = (stream: Stream, initiator: boolean, device?: string) => Promise<void>;

/** First retry after a failed dial or a dropped link; doubles per failure (with jitter) up to MAX_RETRY_MS. */
const MIN_RETRY_MS = 1_000;
const MAX_RETRY_MS = 60_000;
/** Failed dials in a row before a device is left alone until it announces itself anew (a new link id). */
const MAX_ATTEMPTS = 8;
const DIAL_TIMEOUT_MS = 20_000;

interface Target {
  peer: LinkPeer;
  failures: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  dialing: boolean;
  stream: Stream | undefined;
}

/**
 * Keeps direct links to the devices presence lists: of two devices, the one with the lower id dials (so two links
 * never cross), through the relay's circuit to the other's `/webrtc` address. A failed dial (no ICE candidates
 * without a media permission, @libp2p/webrtc's init-channel race, a peer gone) or a dropped link is retried with
 * backoff, at most MAX_ATTEMPTS times in a row; meanwhile everything flows through the relay as before.
 */
export class LinkDialer {
  private readonly targets = new Map<string, Target>();
  private stopped = false;

  constructor(
    private readonly node: Libp2p,
    private readonly relayAddr: string,
    private readonly attach: AttachLink,
  ) {}

  /** The relay's newest list of devices (with this device's own id). */
  update(self: string, peers: LinkPeer[]): void {
    const listed = new Set<string>();
    for (const peer of peers) {
      if (peer.device <= self) continue;
      listed.add(peer.device);
      const known = this.targets.get(peer.device);
      if (known && known.peer.link === peer.link) continue;
      // A new link id: the other page restarted (or another tab took over) — start afresh.
      if (known?.timer) clearTimeout(known.timer);
      const target: Target = { peer, failures: 0, timer: undefined, dialing: false, stream: known?.stream };
      this.targets.set(peer.device, target);
      if (!target.stream) void this.dial(target);
    }
    for (const [device, target] of this.targets) {
      if (listed.has(device) || target.stream) continue;
      if (target.timer) clearTimeout(target.timer);
      this.targets.delete(device);
    }
  }

  private async dial(target: Target): Promise<void> {
    if (this.stopped || target.dialing || target.stream || this.targets.get(target.peer.device) !== target) return;
    target.dialing = true;
    let connection: Connection | undefined;
    try {
      const addr = multiaddr(`${this.relayAddr}/p2p-circuit/webrtc/p2p/${target.peer.link}`);
      connection = await this.node.dial(addr, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) });
      // Only a direct WebRTC connection carries a link; a relayed one has limits (and the relay's budget).
      if (connection.limits) throw new Error('not a direct connection');
      const stream = await connection.newStream(DIRECT_PROTOCOL, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) });
      target.stream = stream;
      stream.addEventListener('close', () => this.dropped(target, stream));
      await this.attach(stream, true, target.peer.device);
      target.failures = 0;
    } catch {
      if (target.stream) target.stream.abort(new Error('link failed'));
      else await connection?.close().catch(() => {});
      target.stream = undefined;
      target.failures++;
      this.retry(target);
    } finally {
      target.dialing = false;
    }
  }

  private dropped(target: Target, stream: Stream): void {
    if (target.stream !== stream) return;
    target.stream = undefined;
    if (this.targets.get(target.peer.device) !== target) return;
    this.retry(target);
  }

  private retry(target: Target): void {
    if (this.stopped || target.timer || target.failures >= MAX_ATTEMPTS) return;
    const wait = Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** Math.max(0, target.failures - 1)) * (0.75 + Math.random() * 0.5);
    target.timer = setTimeout(() => {
      target.timer = undefined;
      void this.dial(target);
    }, wait);
  }

  /** Devices with an open link (as the page sees it). */
  get open(): number {
    let n = 0;
    for (const t of this.targets.values()) if (t.stream) n++;
    return n;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.targets.values()) if (t.timer) clearTimeout(t.timer);
    this.targets.clear();
  }
}
