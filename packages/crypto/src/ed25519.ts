import { ed25519 } from '@noble/curves/ed25519.js';
import { fromBase64Url } from '@schoolmesh/wire';
import { ed25519Backend, ed25519Pkcs8, subtle } from './backend.ts';
import { buf, keyOf } from './bytes.ts';
import { CryptoError } from './errors.ts';
import { randomBytes, sha256 } from './hash.ts';
import { verifyOnPool } from './verify-pool.ts';

export const SIGNATURE_BYTES = 64;
export const SIGNING_PUBLIC_KEY_BYTES = 32;
export const SIGNING_SEED_BYTES = 32;

const ED25519 = { name: 'Ed25519' } as const;
/** noble in strict RFC 8032 mode, the rules WebCrypto (BoringSSL/OpenSSL) applies too. */
const NOBLE_VERIFY = { zip215: false } as const;

/** An Ed25519 key pair. `seed` is the 32-byte secret to store; `sign` never exposes more than signatures. */
export interface SigningKeyPair {
  readonly publicKey: Uint8Array;
  readonly seed: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

export async function generateSigningKeyPair(): Promise<SigningKeyPair> {
  return signingKeyPairFromSeed(randomBytes(SIGNING_SEED_BYTES));
}

export async function signingKeyPairFromSeed(seed: Uint8Array): Promise<SigningKeyPair> {
  if (!(seed instanceof Uint8Array) || seed.length !== SIGNING_SEED_BYTES)
    throw new CryptoError('bad-key', `an Ed25519 seed has ${SIGNING_SEED_BYTES} bytes`);
  const secret = Uint8Array.from(seed);
  let privateKey: Promise<CryptoKey> | undefined;
  let publicKey: Uint8Array;
  if ((await ed25519Backend()) === 'webcrypto') {
    const s = subtle()!;
    const key = await s.importKey('pkcs8', ed25519Pkcs8(secret), ED25519, true, ['sign']);
    const jwk = await s.exportKey('jwk', key);
    publicKey = fromBase64Url(jwk.x!);
    privateKey = Promise.resolve(key);
  } else {
    publicKey = ed25519.getPublicKey(secret);
  }
  return {
    publicKey,
    seed: secret,
    async sign(message: Uint8Array): Promise<Uint8Array> {
      // The backend is asked on every call so that a forced fallback (tests) applies to existing pairs too.
      if ((await ed25519Backend()) === 'noble') return ed25519.sign(message, secret);
      privateKey ??= subtle()!.importKey('pkcs8', ed25519Pkcs8(secret), ED25519, false, ['sign']);
      return new Uint8Array(await subtle()!.sign(ED25519, await privateKey, buf(message)));
    },
  };
}

/**
 * Imported verification keys, least recently used first. Importing costs about as much as verifying, and the
 * same few hundred device keys sign everything a replica sees.
 */
export const VERIFY_KEY_CACHE_SIZE = 4096;
const verifyKeys = new Map<string, Promise<CryptoKey>>();

function verifyKey(publicKey: Uint8Array): Promise<CryptoKey> {
  const id = keyOf(publicKey);
  const hit = verifyKeys.get(id);
  if (hit) {
    verifyKeys.delete(id);
    verifyKeys.set(id, hit);
    return hit;
  }
  const imported = subtle()!.importKey('raw', Uint8Array.from(publicKey), ED25519, false, ['verify']);
  verifyKeys.set(id, imported);
  imported.catch(() => {
    if (verifyKeys.get(id) === imported) verifyKeys.delete(id);
  });
  if (verifyKeys.size > VERIFY_KEY_CACHE_SIZE) verifyKeys.delete(verifyKeys.keys().next().value!);
  return imported;
}

/** How many successful verifications are remembered (by a SHA-256 of key, signature and message). */
export const VERIFIED_CACHE_SIZE = 16_384;
const verified = new Map<string, true>();

/**
 * Remembers that (key, message, signature) verified, so the same triple checked again (an op pre-verified in
 * parallel, then verified by the log that keeps it) costs a hash instead of a signature check. Only successes are
 * kept; a collision would need a SHA-256 collision.
 */
function verifiedId(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): string {
  const all = new Uint8Array(publicKey.length + signature.length + message.length);
  all.set(publicKey, 0);
  all.set(signature, publicKey.length);
  all.set(message, publicKey.length + signature.length);
  return keyOf(sha256(all));
}

/**
 * Forgets every remembered verification and imported key, as in a freshly started process. For benchmarks, which
 * must not count a signature as checked because an earlier phase of the same process checked it.
 */
export function clearVerificationCaches(): void {
  verified.clear();
  verifyKeys.clear();
  verificationCount = 0;
}

let verificationCount = 0;

/** How many signature checks ran (memo hits not counted) since the last clearVerificationCaches(); for benchmarks. */
export function signatureVerifications(): number {
  return verificationCount;
}

/**
 * Checks of the same triple that are running now: a batch that names one certificate many times (a teacher's, in
 * every op it signed) checks it once, not once per op started before the first finished.
 */
const inFlight = new Map<string, Promise<boolean>>();

/** Verifies an Ed25519 signature. Never rejects: malformed keys or signatures give false. */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (!(publicKey instanceof Uint8Array) || !(signature instanceof Uint8Array) || !(message instanceof Uint8Array))
    return Promise.resolve(false);
  if (publicKey.length !== SIGNING_PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return Promise.resolve(false);
  const id = verifiedId(publicKey, message, signature);
  if (verified.has(id)) return Promise.resolve(true);
  const running = inFlight.get(id);
  if (running) return running;
  const check = verifyUncached(publicKey, message, signature).then((ok) => {
    inFlight.delete(id);
    if (ok) {
      if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
      verified.set(id, true);
    }
    return ok;
  });
  inFlight.set(id, check);
  return check;
}

async function verifyUncached(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  verificationCount++;
  try {
    if ((await ed25519Backend()) === 'noble') return ed25519.verify(signature, message, publicKey, NOBLE_VERIFY);
    // Node: batched on worker threads (verify-pool.ts); undefined where there is no pool.
    const pooled = await verifyOnPool(publicKey, message, signature);
    if (pooled !== undefined) return pooled;
    return await subtle()!.verify(ED25519, await verifyKey(publicKey), buf(signature), buf(message));
  } catch {
    return false;
  }
}

/**
 * Verifies many signatures at once. WebCrypto runs each operation off the calling thread (Node: libuv pool),
 * so keeping several in flight is about 3x faster than awaiting them one by one (see README).
 */
export function verifySignatures(
  items: readonly { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array }[],
): Promise<boolean[]> {
  return Promise.all(items.map((i) => verifySignature(i.publicKey, i.message, i.signature)));
}
