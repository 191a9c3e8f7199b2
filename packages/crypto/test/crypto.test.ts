import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fromHex, toHex } from '@schoolmesh/wire';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  aeadBackend,
  hchacha20,
  nativeXChaCha,
  useNativeAead,
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  CryptoError,
  type CryptoErrorCode,
  aeadKey,
  agreementKeyPairFromSecret,
  constantTimeEqual,
  cryptoBackends,
  deriveKeyFromPassphrase,
  generateAgreementKeyPair,
  generateSigningKeyPair,
  hkdfSha256,
  openSealed,
  randomBytes,
  sealToPublicKey,
  sha256,
  signingKeyPairFromSeed,
  useNobleFallback,
  clearVerificationCaches,
  signatureVerifications,
  useVerifyPool,
  verifySignature,
  verifySignatures,
} from '../src/index.ts';

const text = (s: string) => new TextEncoder().encode(s);

function flip(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<CryptoErrorCode | 'resolved' | 'other'> {
  try {
    await promise;
    return 'resolved';
  } catch (e) {
    return e instanceof CryptoError ? e.code : 'other';
  }
}

afterEach(() => {
  useNobleFallback(false);
  useNativeAead(false);
});

// RFC 8032, section 7.1, tests 1-3 and "SHA(abc)".
const rfc8032 = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    seed: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    pub: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    msg: 'af82',
    sig: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

describe('backends', () => {
  it('uses WebCrypto for Ed25519 and X25519 on Node 20, noble when forced', async () => {
    expect(await cryptoBackends()).toMatchObject({ ed25519: 'webcrypto', x25519: 'webcrypto' });
    useNobleFallback(true);
    expect(await cryptoBackends()).toMatchObject({ ed25519: 'noble', x25519: 'noble' });
  });
});

describe.each(['webcrypto', 'noble'] as const)('Ed25519 (%s)', (backend) => {
  const setBackend = () => useNobleFallback(backend === 'noble');

  it('matches the RFC 8032 test vectors', async () => {
    setBackend();
    for (const v of rfc8032) {
      const pair = await signingKeyPairFromSeed(fromHex(v.seed));
      expect(toHex(pair.publicKey)).toBe(v.pub);
      expect(toHex(await pair.sign(fromHex(v.msg)))).toBe(v.sig);
      expect(await verifySignature(fromHex(v.pub), fromHex(v.msg), fromHex(v.sig))).toBe(true);
    }
  });

  it('signs and verifies; rejects flipped bits, other messages and other keys', async () => {
    setBackend();
    const pair = await generateSigningKeyPair();
    const other = await generateSigningKeyPair();
    const message = text('Hausaufgaben bis Freitag');
    const sig = await pair.sign(message);
    expect(sig.length).toBe(64);
    expect(await verifySignature(pair.publicKey, message, sig)).toBe(true);
    for (const bit of [0, 7, 100, 255, 256, 511]) expect(await verifySignature(pair.publicKey, message, flip(sig, bit))).toBe(false);
    expect(await verifySignature(pair.publicKey, flip(message, 3), sig)).toBe(false);
    expect(await verifySignature(other.publicKey, message, sig)).toBe(false);
    expect(await verifySignature(flip(pair.publicKey, 9), message, sig)).toBe(false);
  });

  it('never throws on malformed keys or signatures', async () => {
    setBackend();
    const pair = await generateSigningKeyPair();
    const sig = await pair.sign(text('x'));
    const junk = [new Uint8Array(0), new Uint8Array(31), new Uint8Array(33), new Uint8Array(64), new Uint8Array(32).fill(0xff)];
    for (const key of [...junk, pair.publicKey]) {
      for (const s of [...junk, new Uint8Array(64).fill(0xff), sig.subarray(1)]) {
        await expect(verifySignature(key, text('x'), s)).resolves.toBe(false);
      }
    }
    await expect(verifySignature(null as unknown as Uint8Array, text('x'), sig)).resolves.toBe(false);
  });

  it('rejects seeds of the wrong size', async () => {
    setBackend();
    expect(await rejection(signingKeyPairFromSeed(new Uint8Array(31)))).toBe('bad-key');
  });
});

describe('Ed25519 backends agree', () => {
  it('noble and WebCrypto produce and accept the same signatures', async () => {
    const seeds = Array.from({ length: 20 }, () => randomBytes(32));
    const messages = Array.from({ length: 20 }, (_, i) => randomBytes(i * 13));
    const results: Record<string, { pub: string; sig: string; ok: boolean[] }[]> = {};
    for (const backend of ['webcrypto', 'noble'] as const) {
      useNobleFallback(backend === 'noble');
      results[backend] = [];
      for (let i = 0; i < seeds.length; i++) {
        const pair = await signingKeyPairFromSeed(seeds[i]!);
        const sig = await pair.sign(messages[i]!);
        results[backend]!.push({
          pub: toHex(pair.publicKey),
          sig: toHex(sig),
          ok: [
            await verifySignature(pair.publicKey, messages[i]!, sig),
            await verifySignature(pair.publicKey, messages[i]!, flip(sig, i)),
          ],
        });
      }
    }
    expect(results['noble']).toEqual(results['webcrypto']);
    expect(results['noble']!.every((r) => r.ok[0] && !r.ok[1])).toBe(true);
  });

  it('a key pair made on one backend signs on the other', async () => {
    const pair = await generateSigningKeyPair();
    useNobleFallback(true);
    const sig = await pair.sign(text('m'));
    useNobleFallback(false);
    expect(await verifySignature(pair.publicKey, text('m'), sig)).toBe(true);
  });

  it('verifies batches, and keeps working past the key cache size', async () => {
    const pairs = await Promise.all(Array.from({ length: 8 }, () => generateSigningKeyPair()));
    const items = await Promise.all(
      pairs.map(async (p, i) => ({ publicKey: p.publicKey, message: text(`m${i}`), signature: await p.sign(text(`m${i}`)) })),
    );
    items[3] = { ...items[3]!, message: text('other') };
    expect(await verifySignatures(items)).toEqual([true, true, true, false, true, true, true, true]);
  });
});

describe('Ed25519 on the verification worker pool (Node)', () => {
  afterEach(() => useVerifyPool(true));

  it('gives the same verdicts as WebCrypto in the caller, for good, tampered and malformed input', async () => {
    const pairs = await Promise.all(Array.from({ length: 6 }, () => generateSigningKeyPair()));
    const cases: { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array }[] = [];
    for (const [i, pair] of pairs.entries()) {
      const message = randomBytes(i * 40);
      const signature = await pair.sign(message);
      cases.push({ publicKey: pair.publicKey, message, signature });
      cases.push({ publicKey: pair.publicKey, message, signature: flip(signature, i * 7) });
      cases.push({ publicKey: pair.publicKey, message: flip(text(`x${i}`), 1), signature });
      // S + L: the same signature in non-canonical form, which strict RFC 8032 refuses.
      const nonCanonical = Uint8Array.from(signature);
      nonCanonical[63]! |= 0xf0;
      cases.push({ publicKey: pair.publicKey, message, signature: nonCanonical });
    }
    const badKeys = [new Uint8Array(32), new Uint8Array(32).fill(0xff), fromHex('0100000000000000000000000000000000000000000000000000000000000000')];
    for (const publicKey of badKeys) cases.push({ publicKey, message: text('m'), signature: cases[0]!.signature });
    const verdicts: Record<string, boolean[]> = {};
    for (const pool of [true, false]) {
      useVerifyPool(pool);
      clearVerificationCaches();
      verdicts[String(pool)] = await verifySignatures(cases);
      expect(signatureVerifications()).toBe(cases.length);
    }
    expect(verdicts['true']).toEqual(verdicts['false']);
    expect(verdicts['true']!.filter(Boolean).length).toBe(pairs.length);
  });

  it('keeps a process alive while checks run, and lets it exit once they are done', () => {
    const script = fileURLToPath(new URL('./fixtures/pool-exit.ts', import.meta.url));
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 30_000 });
    expect(run.signal).toBeNull();
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe('true false');
  });

  it('checks a signature once while the same check is running', async () => {
    const pair = await generateSigningKeyPair();
    const message = text('once');
    const signature = await pair.sign(message);
    clearVerificationCaches();
    const all = await Promise.all(Array.from({ length: 10 }, () => verifySignature(pair.publicKey, message, signature)));
    expect(all.every(Boolean)).toBe(true);
    expect(signatureVerifications()).toBe(1);
  });
});

describe.each(['webcrypto', 'noble'] as const)('X25519 and HPKE (%s)', (backend) => {
  const setBackend = () => useNobleFallback(backend === 'noble');
  const info = text('schoolmesh/test/v1');

  it('derives the RFC 7748 public key', async () => {
    setBackend();
    const alice = await agreementKeyPairFromSecret(fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    expect(toHex(alice.publicKey)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  });

  it('seals and opens; the wrong recipient, info, aad or any flipped bit fails', async () => {
    setBackend();
    const bob = await generateAgreementKeyPair();
    const eve = await generateAgreementKeyPair();
    const plaintext = randomBytes(77);
    const aad = text('group 7a, epoch 3');
    const sealed = await sealToPublicKey(bob.publicKey, plaintext, info, aad);
    expect(sealed.length).toBe(32 + 77 + 16);
    expect(await openSealed(bob, sealed, info, aad)).toEqual(plaintext);
    // A fresh ephemeral key each time.
    expect(toHex(await sealToPublicKey(bob.publicKey, plaintext, info, aad))).not.toBe(toHex(sealed));
    expect(await rejection(openSealed(eve, sealed, info, aad))).toBe('decrypt-failed');
    expect(await rejection(openSealed(bob, sealed, text('schoolmesh/other/v1'), aad))).toBe('decrypt-failed');
    expect(await rejection(openSealed(bob, sealed, info, flip(aad, 2)))).toBe('decrypt-failed');
    expect(await rejection(openSealed(bob, sealed, info))).toBe('decrypt-failed');
    for (const bit of [0, 100, 255, 256, 300, sealed.length * 8 - 1])
      expect(await rejection(openSealed(bob, flip(sealed, bit), info, aad))).toBe('decrypt-failed');
    expect(await rejection(openSealed(bob, sealed.subarray(0, 47), info, aad))).toBe('decrypt-failed');
    expect(await rejection(openSealed(bob, new Uint8Array(0), info, aad))).toBe('decrypt-failed');
  });

  it('works without aad, and refuses bad recipient keys with bad-key', async () => {
    setBackend();
    const bob = await generateAgreementKeyPair();
    expect(await openSealed(bob, await sealToPublicKey(bob.publicKey, text('hi'), info), info)).toEqual(text('hi'));
    expect(await rejection(sealToPublicKey(new Uint8Array(31), text('hi'), info))).toBe('bad-key');
    // A low-order point gives an all-zero shared secret, which HPKE must refuse.
    expect(await rejection(sealToPublicKey(new Uint8Array(32), text('hi'), info))).toBe('bad-key');
    expect(await rejection(agreementKeyPairFromSecret(new Uint8Array(16)))).toBe('bad-key');
  });
});

describe('HPKE backends agree', () => {
  it('what one backend seals the other opens, and key pairs match', async () => {
    const secret = randomBytes(32);
    const web = await agreementKeyPairFromSecret(secret);
    useNobleFallback(true);
    const noble = await agreementKeyPairFromSecret(secret);
    expect(toHex(noble.publicKey)).toBe(toHex(web.publicKey));
    const fromNoble = await sealToPublicKey(web.publicKey, text('von noble'), text('i'));
    useNobleFallback(false);
    const fromWeb = await sealToPublicKey(web.publicKey, text('von webcrypto'), text('i'));
    expect(await openSealed(web, fromNoble, text('i'))).toEqual(text('von noble'));
    useNobleFallback(true);
    expect(await openSealed(noble, fromWeb, text('i'))).toEqual(text('von webcrypto'));
  });
});

describe('AEAD', () => {
  it('round-trips with fresh nonces of the advertised size', async () => {
    const key = await aeadKey(randomBytes(AEAD_KEY_BYTES));
    const aad = text('entry header');
    for (const size of [0, 1, 150, 4096]) {
      const plaintext = randomBytes(size);
      const { nonce, ciphertext } = await key.encrypt(plaintext, aad);
      expect(nonce.length).toBe(AEAD_NONCE_BYTES);
      expect(ciphertext.length).toBe(size + AEAD_TAG_BYTES);
      expect(await key.decrypt(nonce, ciphertext, aad)).toEqual(plaintext);
    }
    const a = await key.encrypt(text('x'), aad);
    const b = await key.encrypt(text('x'), aad);
    expect(toHex(a.nonce)).not.toBe(toHex(b.nonce));
  });

  it('detects tampering with ciphertext, tag, nonce or aad, and the wrong key', async () => {
    const raw = randomBytes(32);
    const key = await aeadKey(raw);
    const aad = text('group|bucket|author|seq');
    const { nonce, ciphertext } = await key.encrypt(randomBytes(150), aad);
    for (const bit of [0, 8 * 75, 8 * 150 - 1, 8 * 150, ciphertext.length * 8 - 1])
      expect(await rejection(key.decrypt(nonce, flip(ciphertext, bit), aad))).toBe('decrypt-failed');
    for (const bit of [0, 95, 96, 191]) expect(await rejection(key.decrypt(flip(nonce, bit), ciphertext, aad))).toBe('decrypt-failed');
    expect(await rejection(key.decrypt(nonce, ciphertext, flip(aad, 5)))).toBe('decrypt-failed');
    expect(await rejection(key.decrypt(nonce, ciphertext, new Uint8Array(0)))).toBe('decrypt-failed');
    expect(await rejection((await aeadKey(flip(raw, 0))).decrypt(nonce, ciphertext, aad))).toBe('decrypt-failed');
    expect(await rejection(key.decrypt(nonce.subarray(1), ciphertext, aad))).toBe('decrypt-failed');
    expect(await rejection(key.decrypt(nonce, ciphertext.subarray(0, 15), aad))).toBe('decrypt-failed');
    expect(await rejection(aeadKey(new Uint8Array(16)))).toBe('bad-key');
  });

  it('is not affected when the caller reuses its key buffer', async () => {
    const raw = randomBytes(32);
    const key = await aeadKey(raw);
    const { nonce, ciphertext } = await key.encrypt(text('x'), new Uint8Array(0));
    raw.fill(0);
    expect(await key.decrypt(nonce, ciphertext, new Uint8Array(0))).toEqual(text('x'));
  });
});

describe('XChaCha20-Poly1305 on OpenSSL (Node) agrees with noble', () => {
  // draft-irtf-cfrg-xchacha-03, §2.2.1 (HChaCha20) and appendix A.3.1 (AEAD_XChaCha20_Poly1305).
  const key = fromHex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const nonce = fromHex('404142434445464748494a4b4c4d4e4f5051525354555657');
  const aad = fromHex('50515253c0c1c2c3c4c5c6c7');
  const plaintext = text("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
  const expected =
    'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e' +
    'c0875924c1c7987947deafd8780acf49';

  it('is available in Node when turned on (noble by default), and matches the draft test vectors', () => {
    expect(aeadBackend()).toBe('noble');
    useNativeAead(true);
    expect(aeadBackend()).toBe('node');
    const hKey = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    expect(toHex(hchacha20(hKey, fromHex('000000090000004a0000000031415927')))).toBe('82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc');
    const native = nativeXChaCha()!;
    expect(toHex(native.encrypt(key, nonce, plaintext, aad))).toBe(expected);
    expect(native.decrypt(key, nonce, fromHex(expected), aad)).toEqual(plaintext);
  });

  it('what one encrypts the other decrypts, byte for byte, on random keys, nonces, messages and aad; tampering fails on both', () => {
    const native = nativeXChaCha()!;
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        fc.uint8Array({ maxLength: 3000 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.nat(),
        (k, n, m, a, at) => {
          const sealed = native.encrypt(k, n, m, a);
          expect(toHex(sealed)).toBe(toHex(xchacha20poly1305(k, n, a).encrypt(m)));
          expect(native.decrypt(k, n, sealed, a)).toEqual(m);
          const bad = sealed.slice();
          bad[at % bad.length]! ^= 1;
          expect(() => native.decrypt(k, n, bad, a)).toThrow();
          expect(() => xchacha20poly1305(k, n, a).decrypt(bad)).toThrow();
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });

  it('entries sealed on one backend open on the other, and tampering gives decrypt-failed on both', async () => {
    const raw = randomBytes(32);
    const key = await aeadKey(raw);
    const header = text('group|bucket|author|seq');
    for (const sealNative of [true, false]) {
      useNativeAead(sealNative);
      const { nonce, ciphertext } = await key.encrypt(randomBytes(20_000), header);
      for (const openNative of [true, false]) {
        useNativeAead(openNative);
        expect((await key.decrypt(nonce, ciphertext, header)).length).toBe(20_000);
        expect(await rejection(key.decrypt(nonce, flip(ciphertext, 8 * 19_000), header))).toBe('decrypt-failed');
        expect(await rejection(key.decrypt(flip(nonce, 100), ciphertext, header))).toBe('decrypt-failed');
        expect(await rejection(key.decrypt(nonce, ciphertext, flip(header, 3)))).toBe('decrypt-failed');
      }
    }
    useNativeAead(false);
    expect(aeadBackend()).toBe('noble');
  });

  it('the AEAD tests above pass on OpenSSL too: round trips and tampering through aeadKey', async () => {
    useNativeAead(true);
    const key = await aeadKey(randomBytes(AEAD_KEY_BYTES));
    const aad = text('entry header');
    for (const size of [0, 1, 150, 4096]) {
      const plaintext = randomBytes(size);
      const { nonce, ciphertext } = await key.encrypt(plaintext, aad);
      expect(ciphertext.length).toBe(size + AEAD_TAG_BYTES);
      expect(await key.decrypt(nonce, ciphertext, aad)).toEqual(plaintext);
      expect(await rejection(key.decrypt(nonce, flip(ciphertext, 0), aad))).toBe('decrypt-failed');
      expect(await rejection(key.decrypt(nonce, ciphertext.subarray(0, 15), aad))).toBe('decrypt-failed');
    }
  });
});

describe('hashing, randomness, comparison', () => {
  it('SHA-256 matches FIPS 180-2 "abc"', () => {
    expect(toHex(sha256(text('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('HKDF-SHA256 matches RFC 5869 test case 1', () => {
    const okm = hkdfSha256(
      fromHex('0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b'),
      fromHex('000102030405060708090a0b0c'),
      fromHex('f0f1f2f3f4f5f6f7f8f9'),
      42,
    );
    expect(toHex(okm)).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
    expect(() => hkdfSha256(new Uint8Array(32), new Uint8Array(0), new Uint8Array(0), 255 * 32 + 1)).toThrow(CryptoError);
  });

  it('randomBytes fills any length, including more than one getRandomValues call', () => {
    expect(randomBytes(0).length).toBe(0);
    const big = randomBytes(200_000);
    expect(big.length).toBe(200_000);
    expect(big.subarray(150_000).some((b) => b !== 0)).toBe(true);
    expect(() => randomBytes(-1)).toThrow(CryptoError);
  });

  it('constantTimeEqual compares contents and lengths', () => {
    expect(constantTimeEqual(text('abc'), text('abc'))).toBe(true);
    expect(constantTimeEqual(text('abc'), text('abd'))).toBe(false);
    expect(constantTimeEqual(text('abc'), text('ab'))).toBe(false);
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });
});

describe('passphrase keys', () => {
  it('is PBKDF2-HMAC-SHA256 (WebCrypto agrees with noble)', async () => {
    const key = await deriveKeyFromPassphrase('passwd', text('saltsaltsaltsalt'), 1);
    expect(key.length).toBe(32);
    // Same input through noble's PBKDF2 gives the same key.
    const { pbkdf2 } = await import('@noble/hashes/pbkdf2.js');
    const { sha256: nobleSha } = await import('@noble/hashes/sha2.js');
    expect(toHex(key)).toBe(toHex(pbkdf2(nobleSha, text('passwd'), text('saltsaltsaltsalt'), { c: 1, dkLen: 32 })));
  });

  it('uses the documented default cost, normalises to NFC and separates salts', async () => {
    const salt = randomBytes(16);
    const started = performance.now();
    const a = await deriveKeyFromPassphrase('Grüße 1234', salt);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThan(20); // 600,000 iterations cannot be instant
    const b = await deriveKeyFromPassphrase('Gru\u0308ße 1234', salt); // decomposed ü
    expect(toHex(b)).toBe(toHex(a));
    expect(toHex(await deriveKeyFromPassphrase('Grüße 1234', randomBytes(16)))).not.toBe(toHex(a));
    expect(await rejection(deriveKeyFromPassphrase('x', new Uint8Array(8)))).toBe('bad-input');
  });
});

describe('sha256 paths', () => {
  it('the native and the portable SHA-256 agree', async () => {
    const { sha256, sha256Portable } = await import('../src/index.ts');
    for (const n of [0, 1, 55, 56, 64, 1000, 100_000]) {
      const data = new Uint8Array(n).map((_, i) => (i * 31) & 255);
      expect([...sha256(data)]).toEqual([...sha256Portable(data)]);
    }
    expect(Buffer.from(sha256(new TextEncoder().encode('abc'))).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('hashing in parts equals hashing the concatenation', async () => {
    const { sha256, sha256Parts } = await import('../src/index.ts');
    const data = new Uint8Array(3000).map((_, i) => (i * 7) & 255);
    for (const cuts of [[], [0], [1, 64], [55, 56, 2999], [3000]]) {
      const parts: Uint8Array[] = [];
      let at = 0;
      for (const cut of [...cuts, data.length]) {
        parts.push(data.subarray(at, cut));
        at = cut;
      }
      expect([...sha256Parts(parts)]).toEqual([...sha256(data)]);
    }
  });
});
