import { noise } from '@chainsafe/libp2p-noise';
import type { AbortOptions, PeerId, PrivateKey, Upgrader } from '@libp2p/interface';
import { defaultLogger } from '@libp2p/logger';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { AbstractMultiaddrConnection, type SendResult } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import type { FrameChannel } from '@schoolmesh/sync';
import { rawKeyOfPeer } from './keys.ts';
import { streamChannel } from './stream-channel.ts';

/** The libp2p protocol id under which a direct link's bytes travel between the two devices' link nodes. */
export const DIRECT_PROTOCOL = '/schoolmesh/direct/1';

/** Bound into the Noise handshake of a direct link, so its transcript cannot be taken for any other use of the key. */
const PROLOGUE = new TextEncoder().encode('schoolmesh-direct/1');

/**
 * Bytes to and from the other device, carried by something libp2p does not see: in the browser, the page's WebRTC
 * stream reaches the engine worker through a MessagePort.
 */
export interface BytePipe {
  send(data: Uint8Array): void;
  onData(handler: (data: Uint8Array) => void): void;
  /** The other end went away (or the pipe broke). */
  onEnd(handler: () => void): void;
  end(): void;
}

/** A byte pipe as a libp2p connection, so that Noise can run over it. */
class PipeConnection extends AbstractMultiaddrConnection {
  constructor(
    private readonly pipe: BytePipe,
    direction: 'inbound' | 'outbound',
  ) {
    super({ remoteAddr: multiaddr('/memory/direct'), direction, log: defaultLogger().forComponent('schoolmesh:direct') });
    pipe.onData((data) => {
      if (this.status === 'open') this.onData(data);
    });
    pipe.onEnd(() => this.onTransportClosed());
  }

  sendData(data: Parameters<AbstractMultiaddrConnection['sendData']>[0]): SendResult {
    for (const chunk of data) this.pipe.send(chunk);
    return { sentBytes: data.byteLength, canSendMore: true };
  }

  sendReset(): void {
    this.pipe.end();
  }

  async sendClose(_options?: AbortOptions): Promise<void> {
    this.pipe.end();
  }

  sendPause(): void {}
  sendResume(): void {}
}

export interface SecuredDirect {
  channel: FrameChannel;
  /** The raw Ed25519 key the other end proved in Noise: the certificate in its HELLO must be for this key. */
  remoteKey: Uint8Array;
  remotePeer: PeerId;
}

/**
 * Runs Noise XX with the device key over a byte pipe and returns a sync channel on the encrypted stream. The key
 * never leaves the engine: the browser's link node that carries the bytes has a key of its own, and authenticates
 * nothing that the sync session relies on. The initiator may name the device it expects (its key as peer id).
 */
export async function secureDirect(
  pipe: BytePipe,
  privateKey: PrivateKey,
  options: { initiator: boolean; remotePeer?: PeerId; signal?: AbortSignal },
): Promise<SecuredDirect> {
  const connection = new PipeConnection(pipe, options.initiator ? 'outbound' : 'inbound');
  const encrypter = noise({ prologueBytes: PROLOGUE })({
    peerId: peerIdFromPrivateKey(privateKey),
    privateKey,
    logger: defaultLogger(),
    // No stream muxer is negotiated over a direct link (one sync stream is all it carries).
    upgrader: { getStreamMuxers: () => new Map() } as unknown as Upgrader,
  });
  const secureOptions = {
    skipStreamMuxerNegotiation: true,
    ...(options.remotePeer ? { remotePeer: options.remotePeer } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  try {
    const secured = options.initiator ? await encrypter.secureOutbound(connection, secureOptions) : await encrypter.secureInbound(connection, secureOptions);
    const remoteKey = rawKeyOfPeer(secured.remotePeer);
    if (!remoteKey) throw new Error('only Ed25519 peers speak the sync protocol');
    return { channel: streamChannel(secured.connection), remoteKey, remotePeer: secured.remotePeer };
  } catch (error) {
    connection.abort(error as Error);
    throw error;
  }
}
