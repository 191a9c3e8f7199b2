import { bytesEqual } from '@schoolmesh/wire';
import { aeadBackend } from './aead.ts';
import { buf, fromHexConst } from './bytes.ts';

/**
 * Which implementation runs an algorithm. WebCrypto first: it is native code, constant-time, and keeps key
 * material out of the JS heap where it can. `@noble/*` (audited, pure JS) steps in when this runtime's
 * WebCrypto lacks the algorithm (Chromium before 133/137, older Firefox and Safari, insecure origins without
 * `crypto.subtle`). Detection runs once per algorithm, against a known-answer test, and is cached.
 */
export type Backend = 'webcrypto' | 'noble';

let forceNoble = false;
let ed25519Probe: Promise<Backend> | undefined;
let x25519Probe: Promise<Backend> | undefined;

/**
 * Test hook: force the `@noble` fallback for Ed25519 and X25519 (true) or go back to detection (false), so
 * tests can show both paths agree. Not for production code.
 */
export function useNobleFallback(force: boolean): void {
  forceNoble = force;
}

export function subtle(): SubtleCrypto | undefined {
  return globalThis.crypto?.subtle;
}

export function ed25519Backend(): Promise<Backend> {
  if (forceNoble) return Promise.resolve('noble');
  ed25519Probe ??= probeEd25519();
  return ed25519Probe;
}

export function x25519Backend(): Promise<Backend> {
  if (forceNoble) return Promise.resolve('noble');
  x25519Probe ??= probeX25519();
  return x25519Probe;
}

/** What this runtime uses, for logs and benchmarks. */
export async function cryptoBackends(): Promise<{ ed25519: Backend; x25519: Backend; aead: 'node' | 'noble'; passphrase: Backend }> {
  return {
    ed25519: await ed25519Backend(),
    x25519: await x25519Backend(),
    aead: aeadBackend(),
    passphrase: subtle() ? 'webcrypto' : 'noble',
  };
}

// RFC 8032, section 7.1, test 1 (empty message).
const ED_PUBLIC = fromHexConst('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
const ED_SIGNATURE = fromHexConst(
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
);

async function probeEd25519(): Promise<Backend> {
  const s = subtle();
  if (!s) return 'noble';
  try {
    const key = await s.importKey('raw', ED_PUBLIC, { name: 'Ed25519' }, false, ['verify']);
    const ok = await s.verify({ name: 'Ed25519' }, key, ED_SIGNATURE, new Uint8Array(0));
    // Private-key import is what signing needs; some engines verify but cannot import PKCS#8.
    await s.importKey('pkcs8', ed25519Pkcs8(new Uint8Array(32)), { name: 'Ed25519' }, false, ['sign']);
    return ok ? 'webcrypto' : 'noble';
  } catch {
    return 'noble';
  }
}

// RFC 7748, section 6.1.
const X_ALICE_SECRET = fromHexConst('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
const X_BOB_PUBLIC = fromHexConst('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
const X_SHARED = fromHexConst('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');

async function probeX25519(): Promise<Backend> {
  const s = subtle();
  if (!s) return 'noble';
  try {
    const secret = await s.importKey('pkcs8', x25519Pkcs8(X_ALICE_SECRET), { name: 'X25519' }, false, [
      'deriveBits',
    ]);
    const pub = await s.importKey('raw', X_BOB_PUBLIC, { name: 'X25519' }, false, []);
    const shared = new Uint8Array(await s.deriveBits({ name: 'X25519', public: pub }, secret, 256));
    return bytesEqual(shared, X_SHARED) ? 'webcrypto' : 'noble';
  } catch {
    return 'noble';
  }
}

const ED25519_PKCS8 = fromHexConst('302e020100300506032b657004220420');
const X25519_PKCS8 = fromHexConst('302e020100300506032b656e04220420');

function withPrefix(prefix: Uint8Array, raw: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(prefix.length + raw.length);
  out.set(prefix);
  out.set(raw, prefix.length);
  return out;
}

/** PKCS#8 wrapping of a raw 32-byte Ed25519 seed, the only private format WebCrypto imports for it. */
export function ed25519Pkcs8(seed: Uint8Array): Uint8Array<ArrayBuffer> {
  return withPrefix(ED25519_PKCS8, buf(seed));
}

export function x25519Pkcs8(secret: Uint8Array): Uint8Array<ArrayBuffer> {
  return withPrefix(X25519_PKCS8, buf(secret));
}
