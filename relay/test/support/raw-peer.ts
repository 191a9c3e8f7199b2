/**
 * A peer that speaks the sync protocol by hand over a real libp2p stream to a relay process (loopback only): it
 * can run the handshake itself with a device identity, then send any message, any frame, or any bytes at all,
 * and records what the relay sends back. For admission and fuzz tests, where a well-behaved SyncSession would not
 * send what we want to send.
 */
import type { Libp2p, Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { randomBytes, sha256 } from '@schoolmesh/crypto';
import type { DeviceIdentity } from '@schoolmesh/identity';
import { SYNC_PROTOCOL, libp2pPrivateKey, streamChannel } from '@schoolmesh/net-libp2p';
import { createDeviceNode } from '@schoolmesh/net-libp2p/node';
import { type FrameChannel, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, type SyncMessage, decodeMessage, encodeMessage } from '@schoolmesh/sync';
import { concatBytes } from '@schoolmesh/wire';
import type { RelayProcess } from './relay-process.ts';

const AUTH_CONTEXT = new TextEncoder().encode('schoolmesh/sync-auth/v1');

/** A received frame: decoded, or the raw bytes if it does not decode. */
export type Received = SyncMessage | { type: 'undecodable'; bytes: Uint8Array };

/** A libp2p node on loopback whose identity is `seed` (a device's signing seed, or any 32 bytes). */
export async function rawNode(seed: Uint8Array = randomBytes(32)): Promise<Libp2p> {
  return createDeviceNode({ privateKey: await libp2pPrivateKey(seed), loopbackOnly: true });
}

export interface RawStream {
  stream: Stream;
  channel: FrameChannel;
  received: Received[];
  /** The raw payload of each received frame, index for index with `received`. */
  frames: Uint8Array[];
  /** Set once the stream ended (the relay closed it, or we did). */
  closed: string | undefined;
  /** Sends one message, framed. */
  send(message: SyncMessage): void;
  /** Sends one payload, framed (a 4-byte length prefix is added). */
  sendFrame(payload: Uint8Array): void;
  /** Writes bytes as they are, no framing. */
  sendBytes(bytes: Uint8Array): void;
  /** Waits for the first received message (from index `from`) that matches; fails after `ms`. */
  next<T extends Received['type']>(type: T, ms?: number, from?: number): Promise<Extract<Received, { type: T }>>;
  /** Waits until the stream is closed; fails after `ms`. */
  ended(ms?: number): Promise<string>;
  close(): void;
}

/**
 * Opens a sync stream to the relay over `node` (dialling it if needed). Nothing is sent yet. With `autoAck`, every
 * ENTRIES message the relay sends is acknowledged at once (as stored), so its send window never fills.
 */
export async function openRawStream(node: Libp2p, relay: RelayProcess, options: { autoAck?: boolean } = {}): Promise<RawStream> {
  const connection = await node.dial(
    relay.info.relay.tcp.map((a) => multiaddr(a)),
    { signal: AbortSignal.timeout(10_000) },
  );
  const stream = await connection.newStream(SYNC_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
  const channel = streamChannel(stream);
  const received: Received[] = [];
  const frames: Uint8Array[] = [];
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  const raw: RawStream = {
    stream,
    channel,
    received,
    frames,
    closed: undefined,
    send: (m) => channel.send(encodeMessage(m)),
    sendFrame: (payload) => channel.send(payload),
    sendBytes: (bytes) => {
      if (stream.writeStatus === 'writable') stream.send(bytes);
    },
    next: (type, ms = 10_000, from = 0) =>
      waitFor(
        () => received.slice(from).find((m) => m.type === type) as Extract<Received, { type: typeof type }> | undefined,
        () => raw.closed,
        waiters,
        ms,
        `a ${type} message`,
      ),
    ended: (ms = 10_000) => waitFor(() => raw.closed, () => undefined, waiters, ms, 'end of the stream'),
    close: () => channel.close('test done'),
  };
  channel.onFrame((f) => {
    frames.push(f);
    try {
      const m = decodeMessage(f);
      received.push(m);
      if (options.autoAck && m.type === 'entries') raw.send({ type: 'ack', batch: m.batch, accepted: m.entries.length, rejected: 0, reason: '' });
    } catch {
      received.push({ type: 'undecodable', bytes: f });
    }
    wake();
  });
  channel.onClose((reason) => {
    raw.closed = reason ?? 'closed';
    wake();
  });
  return raw;
}

function waitFor<T>(get: () => T | undefined, gone: () => string | undefined, waiters: Set<() => void>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const value = get();
      if (value !== undefined) {
        done();
        resolve(value);
        return;
      }
      const closed = gone();
      if (closed !== undefined) {
        done();
        reject(new Error(`stream closed (${closed}) before ${what}`));
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${what} within ${ms} ms`));
    }, ms);
    const done = () => {
      clearTimeout(timer);
      waiters.delete(check);
    };
    waiters.add(check);
    check();
  });
}

/** Our HELLO for a credential. */
export function helloFor(identity: DeviceIdentity, nonce: Uint8Array = randomBytes(32)): SyncMessage & { type: 'hello' } {
  return { type: 'hello', version: PROTOCOL_VERSION, minVersion: MIN_PROTOCOL_VERSION, credentialKind: 'device', credential: identity.certificate.bytes, nonce, agent: 'raw-test-peer' };
}

/**
 * Runs the handshake by hand as `identity` (HELLO, the relay's HELLO, AUTH over both hellos and nonces) and
 * resolves once the relay sent GROUPS, i.e. authenticated us. Rejects if the relay closes the stream instead.
 */
export async function rawHandshake(raw: RawStream, identity: DeviceIdentity): Promise<void> {
  const hello = helloFor(identity);
  const helloBytes = encodeMessage(hello);
  raw.sendFrame(helloBytes);
  const theirs = await raw.next('hello');
  const theirBytes = raw.frames[raw.received.indexOf(theirs)]!;
  const transcript = concatBytes(AUTH_CONTEXT, sha256(helloBytes), sha256(theirBytes), hello.nonce, theirs.nonce);
  raw.send({ type: 'auth', signature: await identity.signing.sign(transcript) });
  await raw.next('groups');
}

/** The types of everything received, for readable assertions. */
export function typesOf(received: readonly Received[]): string[] {
  return received.map((m) => m.type);
}

/** Every group id a received message names. */
export function groupsNamed(received: readonly Received[]): Set<string> {
  const out = new Set<string>();
  for (const m of received) {
    if (m.type === 'groups') for (const g of m.groups) out.add(g.group);
    else if ('group' in m) out.add(m.group);
    else if (m.type === 'entries') for (const e of m.entries) out.add(e.group);
  }
  return out;
}
