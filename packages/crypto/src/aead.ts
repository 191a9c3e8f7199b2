import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { CryptoError } from './errors.ts';
import { randomBytes } from './hash.ts';
import { nativeXChaCha } from './xchacha-native.ts';

/**
 * Chat entries use XChaCha20-Poly1305 (@noble/ciphers, audited; in Node, HChaCha20 from noble and OpenSSL's
 * ChaCha20-Poly1305, xchacha-native.ts) with a random 192-bit nonce per message.
 * Chosen over AES-256-GCM in WebCrypto on measurements (README): for ~150-byte messages the per-call cost of
 * WebCrypto's asynchronous dispatch dominates, and noble is 5-10x faster; a 192-bit random nonce also makes
 * nonce reuse a non-issue at any message count, where GCM's 96-bit random nonce caps a key at 2^32 messages.
 */
export const AEAD_NAME = 'XChaCha20-Poly1305';
export const AEAD_KEY_BYTES = 32 as const;
export const AEAD_NONCE_BYTES: number = 24;
export const AEAD_TAG_BYTES = 16 as const;

/**
 * Off by default: decrypting in a loop, OpenSSL is faster (−31 % for 150-byte entries, 5-6× for packed days), but
 * in the catch-up benchmark the engine was slower with it in 3 of 4 interleaved comparisons (quietest run: 2,282 ms
 * against 1,742 ms with noble; docs/benchmarks.md). Until that is understood, noble stays the default everywhere.
 */
let nativeAllowed = false;

/** Turns Node's OpenSSL construction on (true) or off (false, the default: noble's XChaCha20-Poly1305). */
export function useNativeAead(enabled: boolean): void {
  nativeAllowed = enabled;
}

/** Which XChaCha20-Poly1305 runs entries here: OpenSSL through `node:crypto` (Node, when turned on), or noble. */
export function aeadBackend(): 'node' | 'noble' {
  return nativeAllowed && nativeXChaCha() ? 'node' : 'noble';
}

export interface AeadKey {
  encrypt(plaintext: Uint8Array, aad: Uint8Array): Promise<{ nonce: Uint8Array; ciphertext: Uint8Array }>;
  decrypt(nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
}

/** A symmetric key for AEAD. `decrypt` fails with CryptoError('decrypt-failed') on any tampering or wrong key. */
export async function aeadKey(raw: Uint8Array): Promise<AeadKey> {
  if (!(raw instanceof Uint8Array) || raw.length !== AEAD_KEY_BYTES)
    throw new CryptoError('bad-key', `an AEAD key has ${AEAD_KEY_BYTES} bytes`);
  const key = Uint8Array.from(raw);
  return {
    async encrypt(plaintext, aad) {
      if (!(plaintext instanceof Uint8Array) || !(aad instanceof Uint8Array))
        throw new CryptoError('bad-input', 'plaintext and aad must be bytes');
      const nonce = randomBytes(AEAD_NONCE_BYTES);
      const native = nativeAllowed ? nativeXChaCha() : undefined;
      return { nonce, ciphertext: native ? native.encrypt(key, nonce, plaintext, aad) : xchacha20poly1305(key, nonce, aad).encrypt(plaintext) };
    },
    async decrypt(nonce, ciphertext, aad) {
      try {
        if (nonce.length !== AEAD_NONCE_BYTES || ciphertext.length < AEAD_TAG_BYTES) throw new Error('malformed');
        const native = nativeAllowed ? nativeXChaCha() : undefined;
        return native ? native.decrypt(key, nonce, ciphertext, aad) : xchacha20poly1305(key, nonce, aad).decrypt(ciphertext);
      } catch {
        throw new CryptoError('decrypt-failed', 'cannot decrypt');
      }
    },
  };
}
