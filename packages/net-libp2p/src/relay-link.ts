import type { Libp2p } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { ErrorCode, type FrameChannel, type SyncSession } from '@schoolmesh/sync';
import { dialSync } from './client.ts';

/** What a relay link drives: an engine's connect(), or anything that runs a sync session over a channel. */
export interface SyncEndpoint {
  connect(channel: FrameChannel, options: { agent?: string; transportKey?: Uint8Array }): SyncSession;
}

/**
 * `refused`: the relay ended the session with ERROR 3 (Unauthenticated): this device's certificate is revoked,
 * expired or not of a school the relay trusts. The link keeps trying at the longest delay (a wrongly revoked device
 * gets back in once the school fixes it), but an app should tell the user instead of showing "offline".
 */
export type RelayLinkState = 'connecting' | 'connected' | 'waiting' | 'refused' | 'stopped';

export interface RelayLinkOptions {
  node: Libp2p;
  endpoint: SyncEndpoint;
  /** The relay's addresses (each ending in /p2p/<relay peer id>). */
  addrs: Multiaddr[];
  agent?: string;
  /** First retry delay; doubles up to maxDelayMs, with jitter. */
  minDelayMs?: number;
  maxDelayMs?: number;
  onState?: (state: RelayLinkState, detail?: string) => void;
}

/**
 * Keeps one sync session with a relay open: dials, runs the session, and redials with backoff when the link drops
 * (a relay restart, Wi-Fi gone) until stopped. A refusal by the relay also backs off, never hammers.
 */
export class RelayLink {
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private delay: number;
  session: SyncSession | undefined;
  state: RelayLinkState = 'waiting';

  constructor(private readonly opts: RelayLinkOptions) {
    this.delay = opts.minDelayMs ?? 250;
  }

  start(): this {
    void this.attempt();
    return this;
  }

  private set(state: RelayLinkState, detail?: string): void {
    this.state = state;
    this.opts.onState?.(state, detail);
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    this.set('connecting');
    try {
      const opened = await dialSync(this.opts.node, this.opts.addrs, { signal: AbortSignal.timeout(10_000) });
      if (this.stopped) {
        opened.channel.close('stopped');
        return;
      }
      const session = this.opts.endpoint.connect(opened.channel, { agent: this.opts.agent ?? 'schoolmesh-device', transportKey: opened.remoteKey });
      this.session = session;
      session.onClose((reason) => {
        if (this.session === session) this.session = undefined;
        this.retry(reason ?? 'closed', session.closeCode === ErrorCode.Unauthenticated);
      });
      await session.start();
      this.delay = this.opts.minDelayMs ?? 250;
      this.set('connected');
    } catch (error) {
      if (!this.session) this.retry((error as Error).message);
    }
  }

  private retry(reason: string, refused = false): void {
    if (this.stopped || this.timer) return;
    this.set(refused ? 'refused' : 'waiting', reason);
    const max = this.opts.maxDelayMs ?? 15_000;
    if (refused) this.delay = max;
    const wait = Math.min(max, this.delay) * (0.75 + Math.random() * 0.5);
    this.delay = Math.min(max, this.delay * 2);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.attempt();
    }, wait);
  }

  /** Resolves once a session is connected and caught up (or rejects after timeoutMs). */
  async caughtUp(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const s = this.session;
      if (s?.peer && !s.isClosed) {
        // A session that closes before catching up rejects: wait for the next one.
        if (await s.caughtUp().then(() => true, () => false)) return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('relay link did not catch up in time');
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.session?.close('stopped');
    this.set('stopped');
  }
}
