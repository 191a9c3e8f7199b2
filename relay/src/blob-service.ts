import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { sha256 } from '@schoolmesh/crypto';
import { canPost } from '@schoolmesh/membership';
import { bucketOf, oldestLiveBucket } from '@schoolmesh/model';
import { peerIdOfKey, rawKeyOfPeer, streamChannel } from '@schoolmesh/net-libp2p';
import { BlobError, BlobErrorCode, BlobFrameReader, type BlobRef, getBlob, openBlobChannel, receiveChunks, sendChunks, sendFrame } from '@schoolmesh/net-libp2p/blob';
import type { Replica } from '@schoolmesh/replica';
import type { FrameChannel, PeerInfo } from '@schoolmesh/sync';
import { fromBase64Url, toBase64Url } from '@schoolmesh/wire';
import type { Logger } from 'pino';
import type { BlobStore } from './blob-store.ts';
import type { SessionHub } from './hub.ts';
import type { RelayMetrics } from './metrics.ts';
import type { DeviceRateLimiter } from './rate-limit.ts';

export interface BlobServiceOptions {
  store: BlobStore;
  replica: Replica;
  hub: SessionHub;
  node: Libp2p;
  /** Per-device byte budget for uploads (refuses at once when spent: no waiting on a blob stream). */
  limiter: DeviceRateLimiter;
  maxBlobBytes: number;
  metrics: RelayMetrics;
  log: Logger;
  clock: () => number;
}

/** Uploads per device and minute: the byte budget is what limits uploads; this only bounds a flood of tiny ones. */
export const BLOB_UPLOADS_PER_MINUTE = 1_000;

/** How long a request may take before the relay gives up on the stream (a stalled or hostile peer). */
const REQUEST_TIMEOUT_MS = 120_000;

/**
 * The relay's side of `/schoolmesh/blob/1`: sealed attachment blobs, tied to a (group, bucket). A stream is
 * admitted only from a peer that holds an admitted sync session (its certificate was verified and bound to the
 * Noise key of this very peer); uploads need the right to post in the group, downloads the right to read it.
 * The relay checks a blob's address (SHA-256 of its bytes) and never sees its key.
 */
export class BlobService {
  constructor(private readonly opts: BlobServiceOptions) {}

  /** New limits (config reload): the largest blob and each device's upload bytes per minute, for the next request. */
  setLimits(limits: { blobBytes: number; bytesPerMinutePerDevice: number }): void {
    this.opts.maxBlobBytes = limits.blobBytes;
    this.opts.limiter.setLimits({ entries: BLOB_UPLOADS_PER_MINUTE, bytes: limits.bytesPerMinutePerDevice });
  }

  /** Handles one inbound blob stream; never throws (a peer's bytes must not take the relay down). */
  handle(stream: Stream, connection: Connection): void {
    const key = rawKeyOfPeer(connection.remotePeer);
    const peer = key ? this.opts.hub.admittedPeer(toBase64Url(key)) : undefined;
    const channel = streamChannel(stream);
    if (!peer) {
      // Nothing is read from a peer the relay has not admitted on a sync session: it hears why, and the stream ends.
      this.opts.metrics.blobRequests.inc({ op: 'none', outcome: 'unauthenticated' });
      sendFrame(channel, { type: 'error', code: BlobErrorCode.Unauthenticated, message: 'no admitted sync session on this connection' });
      channel.close('not admitted');
      return;
    }
    const timer = setTimeout(() => channel.close('blob request timed out'), REQUEST_TIMEOUT_MS);
    timer.unref?.();
    this.serve(channel, peer)
      .catch((error: Error) => this.opts.log.warn({ peer: peer.id, err: error.message }, 'blob request failed'))
      .finally(() => clearTimeout(timer));
  }

  private async serve(channel: FrameChannel, peer: PeerInfo): Promise<void> {
    const reader = new BlobFrameReader(channel);
    const refuse = (op: string, code: number, message: string) => {
      this.opts.metrics.blobRequests.inc({ op, outcome: outcomeOf(code) });
      sendFrame(channel, { type: 'error', code, message });
      channel.close(message);
    };
    let first: Awaited<ReturnType<BlobFrameReader['next']>>;
    try {
      first = await reader.next();
    } catch (error) {
      return refuse('none', BlobErrorCode.Protocol, (error as Error).message);
    }
    if (first.type !== 'put' && first.type !== 'get') return refuse('none', BlobErrorCode.Protocol, `a blob stream starts with PUT or GET, not ${first.type.toUpperCase()}`);
    try {
      if (first.type === 'put') await this.put(channel, reader, peer, first, first.size);
      else await this.get(channel, peer, first);
    } catch (error) {
      const e = error instanceof BlobError ? error : new BlobError(BlobErrorCode.Internal, 'internal error');
      if (!(error instanceof BlobError)) this.opts.log.error({ err: error, peer: peer.id }, 'blob request failed');
      refuse(first.type, e.code, e.message);
    }
  }

  private async put(channel: FrameChannel, reader: BlobFrameReader, peer: PeerInfo, ref: BlobRef, size: number): Promise<void> {
    const { store, replica, limiter, maxBlobBytes, metrics, log } = this.opts;
    const state = replica.state(ref.group);
    if (peer.kind !== 'device' || !state || !canPost(state, peer.id)) throw new BlobError(BlobErrorCode.Forbidden, 'this device may not post in this group');
    this.requireLive(ref, state.policy.retentionDays);
    if (size > maxBlobBytes) throw new BlobError(BlobErrorCode.TooLarge, `blob of ${size} bytes exceeds this relay's limit of ${maxBlobBytes} bytes`);
    if (await store.has(ref)) {
      // Already here (a retry, or the same blob sent twice): no need for its bytes.
      metrics.blobRequests.inc({ op: 'put', outcome: 'ok' });
      sendFrame(channel, { type: 'ok', size });
      return;
    }
    if (!(await limiter.take(peer.id, 1, size))) throw new BlobError(BlobErrorCode.RateLimited, 'this device uploads more than the relay accepts per minute');
    const bytes = await receiveChunks(reader, size);
    if (toBase64Url(sha256(bytes)) !== ref.id) throw new BlobError(BlobErrorCode.Mismatch, 'blob does not match its address');
    await store.write(ref, bytes);
    metrics.blobRequests.inc({ op: 'put', outcome: 'ok' });
    metrics.blobBytesIn.inc(size);
    log.debug({ peer: peer.id, group: ref.group, bucket: ref.bucket, size }, 'blob stored');
    sendFrame(channel, { type: 'ok', size });
  }

  private async get(channel: FrameChannel, peer: PeerInfo, ref: BlobRef): Promise<void> {
    const { store, replica, metrics } = this.opts;
    const state = replica.state(ref.group);
    if (!state || !replica.mayRead(peer, ref.group)) throw new BlobError(BlobErrorCode.Forbidden, 'not a reader of this group');
    this.requireLive(ref, state.policy.retentionDays);
    // A device asks through its own relay; a partner relay asks only for what is stored here (no fetch loops).
    const bytes = (await store.read(ref)) ?? (peer.kind === 'device' ? await this.fetchFromPartners(ref) : undefined);
    if (!bytes) throw new BlobError(BlobErrorCode.NotFound, 'no such blob here');
    metrics.blobRequests.inc({ op: 'get', outcome: 'ok' });
    metrics.blobBytesOut.inc(bytes.length);
    sendFrame(channel, { type: 'ok', size: bytes.length });
    await sendChunks(channel, bytes);
    // The downloader closes the stream when it has everything.
  }

  private requireLive(ref: BlobRef, retentionDays: number): void {
    const now = this.opts.clock();
    if (ref.bucket < oldestLiveBucket(now, retentionDays) || ref.bucket > bucketOf(now) + 1) throw new BlobError(BlobErrorCode.Forbidden, 'that day is not live in this group');
  }

  /** Fetch-through for federated groups: asks each partner relay with a session here, keeps what verifies. */
  private async fetchFromPartners(ref: BlobRef): Promise<Uint8Array | undefined> {
    const { hub, node, replica, store, maxBlobBytes, log } = this.opts;
    for (const relay of hub.relayPeers()) {
      if (!replica.mayRead(relay, ref.group)) continue;
      try {
        const channel = await openBlobChannel(node, peerIdOfKey(fromBase64Url(relay.id)), { signal: AbortSignal.timeout(30_000) });
        const bytes = await getBlob(channel, ref, maxBlobBytes);
        if (toBase64Url(sha256(bytes)) !== ref.id) throw new Error('partner sent a blob that does not match its address');
        await store.write(ref, bytes);
        this.opts.metrics.blobRequests.inc({ op: 'fetch', outcome: 'ok' });
        return bytes;
      } catch (error) {
        log.debug({ partner: relay.id, err: (error as Error).message }, 'blob not fetched from partner');
      }
    }
    return undefined;
  }
}

function outcomeOf(code: number): string {
  switch (code) {
    case BlobErrorCode.Forbidden:
      return 'forbidden';
    case BlobErrorCode.TooLarge:
      return 'too-large';
    case BlobErrorCode.RateLimited:
      return 'rate-limited';
    case BlobErrorCode.NotFound:
      return 'not-found';
    case BlobErrorCode.Mismatch:
      return 'mismatch';
    case BlobErrorCode.Protocol:
      return 'protocol';
    default:
      return 'internal';
  }
}
