import { hchacha } from '@noble/ciphers/chacha.js';

/**
 * XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) on Node's OpenSSL: HChaCha20 from @noble/ciphers derives the
 * subkey from the key and the first 16 nonce bytes, then OpenSSL's ChaCha20-Poly1305 (RFC 8439) runs with that subkey
 * and the nonce `0x00000000 ‖ last 8 nonce bytes`. The same construction as noble's `xchacha20poly1305`, byte for
 * byte (crypto.test.ts compares both on random inputs and on the draft's test vector); in a decrypt loop OpenSSL is
 * 5-6× faster on a packed day of a group. Off by default (aead.ts says why). Browsers have no ChaCha20 in WebCrypto.
 */
export interface NativeXChaCha {
  encrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** Throws on any authentication failure. */
  decrypt(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array;
}

interface AeadCipher {
  setAAD(aad: Uint8Array, options: { plaintextLength: number }): void;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
}
interface NodeCrypto {
  getCiphers(): string[];
  createCipheriv(alg: string, key: Uint8Array, iv: Uint8Array, options: { authTagLength: number }): AeadCipher & { getAuthTag(): Uint8Array };
  createDecipheriv(alg: string, key: Uint8Array, iv: Uint8Array, options: { authTagLength: number }): AeadCipher & { setAuthTag(tag: Uint8Array): void };
}

const TAG = 16;
// "expand 32-byte k" as little-endian words.
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

function words(bytes: Uint8Array, offset: number, count: number): Uint32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 4);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}

/** HChaCha20(key, nonce[0..16]) → the 32-byte subkey (draft-irtf-cfrg-xchacha-03 §2.2). */
export function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const out = new Uint32Array(8);
  hchacha(SIGMA, words(key, 0, 8), words(nonce16, 0, 4), out);
  const bytes = new Uint8Array(32);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 8; i++) view.setUint32(i * 4, out[i]!, true);
  return bytes;
}

function ietfNonce(nonce: Uint8Array): Uint8Array {
  const n = new Uint8Array(12);
  n.set(nonce.subarray(16, 24), 4);
  return n;
}

let probed: NativeXChaCha | null | undefined;

/** The native construction where this runtime has `node:crypto` with ChaCha20-Poly1305; undefined elsewhere. */
export function nativeXChaCha(): NativeXChaCha | undefined {
  if (probed !== undefined) return probed ?? undefined;
  probed = null;
  let crypto: NodeCrypto | undefined;
  try {
    crypto = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
  } catch {
    crypto = undefined;
  }
  if (!crypto?.getCiphers().includes('chacha20-poly1305')) return undefined;
  const c = crypto;
  probed = {
    encrypt(key, nonce, plaintext, aad) {
      const cipher = c.createCipheriv('chacha20-poly1305', hchacha20(key, nonce.subarray(0, 16)), ietfNonce(nonce), { authTagLength: TAG });
      cipher.setAAD(aad, { plaintextLength: plaintext.length });
      const body = cipher.update(plaintext);
      const rest = cipher.final();
      const tag = cipher.getAuthTag();
      const out = new Uint8Array(body.length + rest.length + TAG);
      out.set(body, 0);
      out.set(rest, body.length);
      out.set(tag, body.length + rest.length);
      return out;
    },
    decrypt(key, nonce, ciphertext, aad) {
      if (ciphertext.length < TAG) throw new Error('ciphertext shorter than its tag');
      const length = ciphertext.length - TAG;
      const decipher = c.createDecipheriv('chacha20-poly1305', hchacha20(key, nonce.subarray(0, 16)), ietfNonce(nonce), { authTagLength: TAG });
      decipher.setAAD(aad, { plaintextLength: length });
      decipher.setAuthTag(ciphertext.subarray(length));
      const body = decipher.update(ciphertext.subarray(0, length));
      const rest = decipher.final();
      const out = new Uint8Array(body.length + rest.length);
      out.set(body, 0);
      out.set(rest, body.length);
      return out;
    },
  };
  return probed;
}
