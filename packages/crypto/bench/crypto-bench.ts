/**
 * Throughput of the choices README.md records: `npx tsx packages/crypto/bench/crypto-bench.ts`.
 * Every figure is operations per second with the `await` included, for ~150-byte chat messages.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import {
  aeadKey,
  cryptoBackends,
  generateSigningKeyPair,
  randomBytes,
  useNobleFallback,
  verifySignature,
  verifySignatures,
} from '../src/index.ts';

const MESSAGE_BYTES = 150;
const subtle = globalThis.crypto.subtle;

async function rate(name: string, ops: number, run: () => Promise<unknown>): Promise<number> {
  await run(); // warm-up
  const started = performance.now();
  await run();
  const perSecond = Math.round((ops / (performance.now() - started)) * 1000);
  console.log(`${name.padEnd(58)} ${String(perSecond).padStart(8)} ops/s`);
  return perSecond;
}

async function sequential(n: number, op: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < n; i++) await op();
}

async function inFlight(n: number, width: number, op: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < n; i += width) await Promise.all(Array.from({ length: width }, op));
}

const N = 20_000;
const plaintext = randomBytes(MESSAGE_BYTES);
const aad = randomBytes(48);
const raw = randomBytes(32) as Uint8Array<ArrayBuffer>;

console.log(`Node ${process.version}, ${MESSAGE_BYTES}-byte messages, backends ${JSON.stringify(await cryptoBackends())}`);

// --- AEAD ---
const ours = await aeadKey(raw);
const sealed = await ours.encrypt(plaintext, aad);
await rate('XChaCha20-Poly1305 (noble, aeadKey) decrypt', N, () =>
  sequential(N, () => ours.decrypt(sealed.nonce, sealed.ciphertext, aad)),
);
await rate('XChaCha20-Poly1305 (noble, aeadKey) encrypt', N, () => sequential(N, () => ours.encrypt(plaintext, aad)));
await rate('XChaCha20-Poly1305 (noble) decrypt, no await', N, async () => {
  for (let i = 0; i < N; i++) xchacha20poly1305(raw, sealed.nonce, aad).decrypt(sealed.ciphertext);
});
const gcmKey = await subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
const iv = randomBytes(12) as Uint8Array<ArrayBuffer>;
const gcmCt = await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad as Uint8Array<ArrayBuffer> }, gcmKey, plaintext as Uint8Array<ArrayBuffer>);
const gcmDecrypt = () => subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad as Uint8Array<ArrayBuffer> }, gcmKey, gcmCt);
await rate('AES-256-GCM (WebCrypto) decrypt, one at a time', N, () => sequential(N, gcmDecrypt));
await rate('AES-256-GCM (WebCrypto) decrypt, 64 in flight', N, () => inFlight(N, 64, gcmDecrypt));
await rate('AES-256-GCM (noble) decrypt, no await', N, async () => {
  const ct = gcm(raw, iv, aad).encrypt(plaintext);
  for (let i = 0; i < N; i++) gcm(raw, iv, aad).decrypt(ct);
});

// --- Ed25519 ---
const V = 10_000;
const pair = await generateSigningKeyPair();
const signature = await pair.sign(plaintext);
const verify = () => verifySignature(pair.publicKey, plaintext, signature);
const webSeq = await rate('Ed25519 verify (WebCrypto), one at a time', V, () => sequential(V, verify));
const batch = Array.from({ length: 64 }, () => ({ publicKey: pair.publicKey, message: plaintext, signature }));
const webBatch = await rate('Ed25519 verify (WebCrypto), verifySignatures of 64', V, () =>
  sequential(V / 64, () => verifySignatures(batch)),
);
const pairs = await Promise.all(Array.from({ length: 500 }, () => generateSigningKeyPair()));
const many = await Promise.all(pairs.map(async (p) => ({ publicKey: p.publicKey, message: plaintext, signature: await p.sign(plaintext) })));
await rate('Ed25519 verify (WebCrypto), 500 distinct keys, batches of 50', 500, async () => {
  for (let i = 0; i < 500; i += 50) await verifySignatures(many.slice(i, i + 50));
});
await rate('Ed25519 sign (WebCrypto)', 5000, () => sequential(5000, () => pair.sign(plaintext)));
useNobleFallback(true);
await rate('Ed25519 verify (noble fallback), one at a time', 1000, () => sequential(1000, verify));
useNobleFallback(false);

// --- What the chat engine needs: verify + decrypt per entry ---
await rate('verify + decrypt per entry, one at a time', V, () =>
  sequential(V, async () => {
    await verify();
    await ours.decrypt(sealed.nonce, sealed.ciphertext, aad);
  }),
);
await rate('verify + decrypt per entry, 64 in flight', V, () =>
  inFlight(V, 64, async () => {
    await verify();
    await ours.decrypt(sealed.nonce, sealed.ciphertext, aad);
  }),
);
console.log(`(verify batching gain ${(webBatch / webSeq).toFixed(1)}x)`);
