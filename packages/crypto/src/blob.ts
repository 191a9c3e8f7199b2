import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { CryptoError } from './errors.ts';
import { constantTimeEqual, randomBytes, sha256 } from './hash.ts';

/**
 * Attachments (docs/protocol.md, "Blobs"): each blob is sealed under a fresh random key of its own with
 * XChaCha20-Poly1305 (the AEAD chat entries use, from @noble/ciphers), as `nonce(24) ‖ ciphertext ‖ tag(16)`.
 * The blob is addressed by the SHA-256 of those sealed bytes, so a relay can check what it stores without any key;
 * the key and the SHA-256 of the plaintext travel only inside the encrypted message that references the blob.
 * Before sealing, the plaintext is padded with zeros to `paddedLength` of its size (Padmé), so the sealed size a
 * relay sees tells little more than the order of magnitude; the message carries the real size.
 */
export const BLOB_KEY_BYTES = 32 as const;
export const BLOB_NONCE_BYTES = 24 as const;
export const BLOB_OVERHEAD_BYTES = 24 + 16;
const BLOB_AAD = new TextEncoder().encode('schoolmesh/blob/v1');

export interface SealedBlob {
  /** `nonce ‖ ciphertext ‖ tag`: what is uploaded and stored. */
  sealed: Uint8Array;
  /** SHA-256 of `sealed`: the blob's address. */
  id: Uint8Array;
  /** The fresh key (never leaves the encrypted message). */
  key: Uint8Array;
  /** SHA-256 of the plaintext (without the padding). */
  plainHash: Uint8Array;
  /** The plaintext's length (without the padding). */
  size: number;
}

/** Blobs up to this size are all padded to it. */
const MIN_PADDED_BYTES = 256;

/**
 * The length a plaintext of `length` bytes is padded to: Padmé (Nikitin et al., "Reducing Metadata Leakage from
 * Encrypted Files and Communication with PURBs", PETS 2019), at least 256 bytes. A length L with 2^E ≤ L < 2^(E+1)
 * is rounded up to a multiple of 2^(E − ⌊log2 E⌋ − 1): at most 12 % more bytes, and about log2 log2 L bits of the
 * length left to see.
 */
export function paddedLength(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0) throw new CryptoError('bad-input', 'a length is a non-negative integer');
  if (length <= MIN_PADDED_BYTES) return MIN_PADDED_BYTES;
  const e = Math.floor(Math.log2(length));
  const step = 2 ** (e - Math.floor(Math.log2(e)) - 1);
  return Math.ceil(length / step) * step;
}

/** The address of sealed blob bytes. */
export function blobId(sealed: Uint8Array): Uint8Array {
  return sha256(sealed);
}

/** Seals a blob under a fresh random key. */
export function sealBlob(plaintext: Uint8Array): SealedBlob {
  if (!(plaintext instanceof Uint8Array)) throw new CryptoError('bad-input', 'a blob is bytes');
  const key = randomBytes(BLOB_KEY_BYTES);
  const nonce = randomBytes(BLOB_NONCE_BYTES);
  const padded = new Uint8Array(paddedLength(plaintext.length));
  padded.set(plaintext);
  const body = xchacha20poly1305(key, nonce, BLOB_AAD).encrypt(padded);
  const sealed = new Uint8Array(BLOB_NONCE_BYTES + body.length);
  sealed.set(nonce, 0);
  sealed.set(body, BLOB_NONCE_BYTES);
  return { sealed, id: sha256(sealed), key, plainHash: sha256(plaintext), size: plaintext.length };
}

/**
 * Opens a downloaded blob: its bytes must hash to the address the message named, decrypt under the message's key,
 * and the plaintext must hash to the message's plaintext hash. With `size` (the message's), the plaintext is the
 * first `size` bytes; the rest must be the zeros of the padding, up to `paddedLength(size)` (or none: blobs sealed
 * before padding). Without `size`, all of it. Any mismatch is CryptoError('decrypt-failed').
 */
export function openBlob(sealed: Uint8Array, expected: { id: Uint8Array; key: Uint8Array; plainHash: Uint8Array; size?: number }): Uint8Array {
  if (expected.key.length !== BLOB_KEY_BYTES) throw new CryptoError('bad-key', `a blob key has ${BLOB_KEY_BYTES} bytes`);
  if (sealed.length < BLOB_OVERHEAD_BYTES) throw new CryptoError('decrypt-failed', 'blob too short');
  if (!constantTimeEqual(sha256(sealed), expected.id)) throw new CryptoError('decrypt-failed', 'blob does not match its address');
  let plaintext: Uint8Array;
  try {
    plaintext = xchacha20poly1305(expected.key, sealed.subarray(0, BLOB_NONCE_BYTES), BLOB_AAD).decrypt(sealed.subarray(BLOB_NONCE_BYTES));
  } catch {
    throw new CryptoError('decrypt-failed', 'cannot decrypt blob');
  }
  const size = expected.size ?? plaintext.length;
  if (size !== plaintext.length) {
    if (!Number.isSafeInteger(size) || size < 0 || plaintext.length !== paddedLength(size)) throw new CryptoError('decrypt-failed', 'blob is not padded as its size says');
    for (let i = size; i < plaintext.length; i++) if (plaintext[i] !== 0) throw new CryptoError('decrypt-failed', 'blob padding is not zeros');
    plaintext = plaintext.subarray(0, size);
  }
  if (!constantTimeEqual(sha256(plaintext), expected.plainHash)) throw new CryptoError('decrypt-failed', 'blob plaintext does not match its hash');
  return plaintext;
}
