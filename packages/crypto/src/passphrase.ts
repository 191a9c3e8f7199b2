import { pbkdf2Async } from '@noble/hashes/pbkdf2.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { subtle } from './backend.ts';
import { CryptoError } from './errors.ts';

/**
 * Key from a PIN or passphrase, for a browser profile's data at rest: PBKDF2-HMAC-SHA256, 600,000 iterations
 * (OWASP 2023 for PBKDF2-SHA256), 32-byte output, passphrase normalised to Unicode NFC and UTF-8 encoded.
 * WebCrypto runs it natively; without `crypto.subtle` the same function comes from @noble/hashes (slower).
 * The parameters are part of the stored format: changing them needs a version bump of what stores the salt.
 */
export const PASSPHRASE_KDF = 'PBKDF2-HMAC-SHA256';
export const PASSPHRASE_ITERATIONS = 600_000;
export const PASSPHRASE_MIN_SALT_BYTES = 16;

export async function deriveKeyFromPassphrase(
  passphrase: string,
  salt: Uint8Array,
  iterations: number = PASSPHRASE_ITERATIONS,
): Promise<Uint8Array> {
  if (typeof passphrase !== 'string') throw new CryptoError('bad-input', 'passphrase must be a string');
  if (!(salt instanceof Uint8Array) || salt.length < PASSPHRASE_MIN_SALT_BYTES)
    throw new CryptoError('bad-input', `salt must have at least ${PASSPHRASE_MIN_SALT_BYTES} bytes`);
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new CryptoError('bad-input', 'bad iteration count');
  const password = new TextEncoder().encode(passphrase.normalize('NFC'));
  const s = subtle();
  if (!s) return pbkdf2Async(sha256, password, salt, { c: iterations, dkLen: 32 });
  const base = await s.importKey('raw', password, 'PBKDF2', false, ['deriveBits']);
  const bits = await s.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt: Uint8Array.from(salt), iterations },
    base,
    256,
  );
  return new Uint8Array(bits);
}
