import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id';

/**
 * The libp2p identity of a device or a relay is its own Ed25519 signing key (the device key, or the relay's
 * authority key), so that the Noise handshake itself proves the key the certificate names.
 */
export function libp2pPrivateKey(seed: Uint8Array): Promise<PrivateKey> {
  if (seed.length !== 32) throw new TypeError('an Ed25519 seed has 32 bytes');
  return generateKeyPairFromSeed('Ed25519', seed);
}

/** The peer id of a raw 32-byte Ed25519 public key. */
export function peerIdOfKey(ed25519PublicKey: Uint8Array): PeerId {
  return peerIdFromPublicKey(publicKeyFromRaw(ed25519PublicKey));
}

/** The raw Ed25519 public key a peer id carries, or undefined for other key types. */
export function rawKeyOfPeer(peer: PeerId | string): Uint8Array | undefined {
  const id = typeof peer === 'string' ? peerIdFromString(peer) : peer;
  if (id.type !== 'Ed25519' || !id.publicKey) return undefined;
  return id.publicKey.raw;
}
