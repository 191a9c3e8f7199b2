import {
  Dhkem,
  HkdfSha256Native,
  KemId,
  type MontgomeryECDH,
  XCurveDhkemPrimitives,
} from '@hpke/common';
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { x25519 } from '@noble/curves/ed25519.js';
import { fromBase64Url } from '@schoolmesh/wire';
import { type Backend, subtle, x25519Backend, x25519Pkcs8 } from './backend.ts';
import { buf } from './bytes.ts';
import { CryptoError } from './errors.ts';
import { randomBytes } from './hash.ts';

export const AGREEMENT_KEY_BYTES = 32;
/** HPKE `enc` (the ephemeral X25519 public key) that starts every sealed box. */
export const SEALED_ENC_BYTES = 32;
/** HPKE's AEAD is AES-256-GCM: 16-byte tag. */
export const SEALED_OVERHEAD_BYTES = SEALED_ENC_BYTES + 16;
/** The HPKE suite of `sealToPublicKey`, by its RFC 9180 names. */
export const HPKE_SUITE = 'DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM (base mode)';

/** An X25519 key pair for HPKE: the secret is the raw 32-byte scalar (RFC 7748), clamped on use. */
export interface AgreementKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export async function generateAgreementKeyPair(): Promise<AgreementKeyPair> {
  return agreementKeyPairFromSecret(randomBytes(AGREEMENT_KEY_BYTES));
}

export async function agreementKeyPairFromSecret(secret: Uint8Array): Promise<AgreementKeyPair> {
  if (!(secret instanceof Uint8Array) || secret.length !== AGREEMENT_KEY_BYTES)
    throw new CryptoError('bad-key', `an X25519 secret key has ${AGREEMENT_KEY_BYTES} bytes`);
  const secretKey = Uint8Array.from(secret);
  if ((await x25519Backend()) === 'noble') return { publicKey: x25519.getPublicKey(secretKey), secretKey };
  const s = subtle()!;
  const key = await s.importKey('pkcs8', x25519Pkcs8(secretKey), { name: 'X25519' }, true, ['deriveBits']);
  const jwk = await s.exportKey('jwk', key);
  return { publicKey: fromBase64Url(jwk.x!), secretKey };
}

/**
 * @hpke/common's X25519 DHKEM over noble's X25519, the construction @hpke/dhkem-x25519 ships. The sizes must
 * be set as in @hpke/core's DhkemX25519HkdfSha256: the base class defaults them to 0, and a 0-byte KEM
 * secret would make every box openable by anyone (the wrong-recipient tests guard this).
 */
class NobleDhkemX25519 extends Dhkem {
  override id = KemId.DhkemX25519HkdfSha256;
  override secretSize = 32;
  override encSize = 32;
  override publicKeySize = 32;
  override privateKeySize = 32;

  constructor() {
    const curve = {
      ...x25519,
      utils: { randomSecretKey: async () => x25519.utils.randomSecretKey() },
    } as unknown as MontgomeryECDH;
    const kdf = new HkdfSha256Native();
    super(KemId.DhkemX25519HkdfSha256, new XCurveDhkemPrimitives('X25519', 32, curve, kdf), kdf);
  }
}

const suites = new Map<Backend, CipherSuite>();

async function suite(): Promise<CipherSuite> {
  const backend = await x25519Backend();
  let s = suites.get(backend);
  if (!s) {
    const kem = backend === 'webcrypto' ? new DhkemX25519HkdfSha256() : new NobleDhkemX25519();
    s = new CipherSuite({ kem, kdf: new HkdfSha256(), aead: new Aes256Gcm() });
    suites.set(backend, s);
  }
  return s;
}

/**
 * Encrypts `plaintext` to the holder of `recipientPublicKey` with HPKE (RFC 9180, base mode). The result is
 * self-describing: the 32-byte `enc` then the AEAD ciphertext. `info` binds the purpose (domain separation),
 * `aad` binds context that travels beside the box.
 */
export async function sealToPublicKey(
  recipientPublicKey: Uint8Array,
  plaintext: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array = new Uint8Array(0),
): Promise<Uint8Array> {
  if (!(recipientPublicKey instanceof Uint8Array) || recipientPublicKey.length !== AGREEMENT_KEY_BYTES)
    throw new CryptoError('bad-key', `an X25519 public key has ${AGREEMENT_KEY_BYTES} bytes`);
  const hpke = await suite();
  let recipient: CryptoKey;
  try {
    recipient = await hpke.kem.deserializePublicKey(buf(recipientPublicKey));
  } catch {
    throw new CryptoError('bad-key', 'unusable X25519 public key');
  }
  let sealed: { ct: ArrayBuffer; enc: ArrayBuffer };
  try {
    sealed = await hpke.seal({ recipientPublicKey: recipient, info: buf(info) }, buf(plaintext), buf(aad));
  } catch {
    // The only input-dependent failure left is a low-order public key (all-zero shared secret).
    throw new CryptoError('bad-key', 'cannot seal to this X25519 public key');
  }
  const out = new Uint8Array(sealed.enc.byteLength + sealed.ct.byteLength);
  out.set(new Uint8Array(sealed.enc), 0);
  out.set(new Uint8Array(sealed.ct), sealed.enc.byteLength);
  return out;
}

/** Imported recipient keys, per key pair object and backend: a device opens many boxes with one key. */
const recipientKeys = new WeakMap<AgreementKeyPair, Map<Backend, Promise<CryptoKeyPair>>>();

async function recipientKey(hpke: CipherSuite, pair: AgreementKeyPair): Promise<CryptoKeyPair> {
  const backend = await x25519Backend();
  let perBackend = recipientKeys.get(pair);
  if (!perBackend) {
    perBackend = new Map();
    recipientKeys.set(pair, perBackend);
  }
  let keys = perBackend.get(backend);
  if (!keys) {
    keys = (async () => ({
      privateKey: await hpke.kem.deserializePrivateKey(buf(pair.secretKey)),
      publicKey: await hpke.kem.deserializePublicKey(buf(pair.publicKey)),
    }))();
    perBackend.set(backend, keys);
    keys.catch(() => perBackend.delete(backend));
  }
  return keys;
}

/** Opens what `sealToPublicKey` made. Any failure (wrong key, tampering, garbage) is CryptoError('decrypt-failed'). */
export async function openSealed(
  recipient: AgreementKeyPair,
  sealed: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array = new Uint8Array(0),
): Promise<Uint8Array> {
  try {
    if (!(sealed instanceof Uint8Array) || sealed.length < SEALED_OVERHEAD_BYTES) throw new Error('too short');
    const hpke = await suite();
    const keys = await recipientKey(hpke, recipient);
    const plaintext = await hpke.open(
      { recipientKey: keys, enc: buf(sealed.slice(0, SEALED_ENC_BYTES)), info: buf(info) },
      buf(sealed.subarray(SEALED_ENC_BYTES)),
      buf(aad),
    );
    return new Uint8Array(plaintext);
  } catch {
    throw new CryptoError('decrypt-failed', 'cannot open sealed box');
  }
}
