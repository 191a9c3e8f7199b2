import { equalBytes } from '@noble/ciphers/utils.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { CryptoError } from './errors.ts';

type NodeHash = { update(d: Uint8Array): NodeHash; digest(): Uint8Array };
type NodeCrypto = { createHash(alg: 'sha256'): NodeHash };

/**
 * Node's own OpenSSL SHA-256 where the runtime offers it synchronously (`process.getBuiltinModule`, Node
 * 20.16+): several times faster than pure JavaScript, and hash chains hash every entry. Browsers use noble.
 */
const nodeCrypto: NodeCrypto | undefined = (() => {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
  } catch {
    return undefined;
  }
})();

/** SHA-256, synchronous: hash chains and content ids need it in tight loops. */
export function sha256(data: Uint8Array): Uint8Array {
  if (nodeCrypto) {
    const digest = nodeCrypto.createHash('sha256').update(data).digest();
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
  }
  return nobleSha256(data);
}

/**
 * SHA-256 of the concatenation of `parts`, without building it: hash chains hash every entry's ciphertext, which
 * need not be copied into one buffer first.
 */
export function sha256Parts(parts: readonly Uint8Array[]): Uint8Array {
  if (nodeCrypto) {
    const hash = nodeCrypto.createHash('sha256');
    for (const part of parts) hash.update(part);
    const digest = hash.digest();
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
  }
  const hash = nobleSha256.create();
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** The pure-JavaScript SHA-256, exported so tests can check both paths agree. */
export const sha256Portable = nobleSha256;

/** HKDF-SHA256 (RFC 5869). `length` at most 255 * 32 bytes. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * 32)
    throw new CryptoError('bad-input', `HKDF-SHA256 output length ${length} out of range 0..8160`);
  return hkdf(nobleSha256, ikm, salt, info, length);
}

const MAX_RANDOM_CHUNK = 65536;

/** Cryptographically secure random bytes from `crypto.getRandomValues`. */
export function randomBytes(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0) throw new CryptoError('bad-input', `bad random length ${length}`);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += MAX_RANDOM_CHUNK) globalThis.crypto.getRandomValues(out.subarray(i, i + MAX_RANDOM_CHUNK));
  return out;
}

/** Compares secrets (MACs, key confirmations) in time that depends only on the length. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return equalBytes(a, b);
}
