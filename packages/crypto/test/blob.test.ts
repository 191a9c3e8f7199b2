import { describe, expect, it } from 'vitest';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { BLOB_NONCE_BYTES, BLOB_OVERHEAD_BYTES, blobId, CryptoError, openBlob, paddedLength, randomBytes, sealBlob, sha256 } from '../src/index.ts';

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (error) {
    return error instanceof CryptoError ? error.code : 'other';
  }
  return undefined;
}

describe('blob sealing', () => {
  const plaintext = randomBytes(100_000);

  it('round-trips, addresses the sealed bytes, and uses a fresh key and nonce per blob', () => {
    const a = sealBlob(plaintext);
    const b = sealBlob(plaintext);
    expect(a.sealed.length).toBe(paddedLength(plaintext.length) + BLOB_OVERHEAD_BYTES);
    expect(a.size).toBe(plaintext.length);
    expect(a.id).toEqual(sha256(a.sealed));
    expect(blobId(a.sealed)).toEqual(a.id);
    expect(a.plainHash).toEqual(sha256(plaintext));
    expect(a.key).not.toEqual(b.key);
    expect(a.id).not.toEqual(b.id);
    expect(openBlob(a.sealed, a)).toEqual(plaintext);
    // The sealed bytes do not contain the plaintext.
    expect(Buffer.from(a.sealed).indexOf(Buffer.from(plaintext.subarray(0, 64)))).toBe(-1);
  });

  it('refuses a blob whose bytes do not match its address, a wrong key, or a wrong plaintext hash', () => {
    const a = sealBlob(plaintext);
    const flipped = Uint8Array.from(a.sealed);
    flipped[100]! ^= 1;
    expect(code(() => openBlob(flipped, a))).toBe('decrypt-failed');
    // Tampered bytes with a matching address (a relay that rewrote both) still fail the AEAD tag.
    expect(code(() => openBlob(flipped, { ...a, id: sha256(flipped) }))).toBe('decrypt-failed');
    expect(code(() => openBlob(a.sealed, { ...a, key: randomBytes(32) }))).toBe('decrypt-failed');
    expect(code(() => openBlob(a.sealed, { ...a, plainHash: sha256(new Uint8Array(1)) }))).toBe('decrypt-failed');
    expect(code(() => openBlob(a.sealed.subarray(0, 10), a))).toBe('decrypt-failed');
    expect(code(() => openBlob(a.sealed, { ...a, key: new Uint8Array(5) }))).toBe('bad-key');
  });

  it('seals the empty blob', () => {
    const a = sealBlob(new Uint8Array(0));
    expect(openBlob(a.sealed, a)).toEqual(new Uint8Array(0));
  });

  it('pads before sealing (Padmé): sizes in one class seal to one length, at most 12 % more, never less', () => {
    expect(paddedLength(0)).toBe(256);
    expect(paddedLength(256)).toBe(256);
    let previous = 0;
    for (const n of [1, 255, 257, 1000, 4095, 4096, 4097, 65_537, 100_000, 1_000_001, 3_333_333, 10 * 1024 * 1024 - 1]) {
      const p = paddedLength(n);
      expect(p).toBeGreaterThanOrEqual(n);
      expect(p).toBeGreaterThanOrEqual(previous);
      if (n > 256) expect(p / n).toBeLessThanOrEqual(1.12);
      previous = p;
    }
    // The attachment limit of 10 MiB stays 10 MiB padded (the relays' default limit is 10 MiB + 40 bytes).
    expect(paddedLength(10 * 1024 * 1024)).toBe(10 * 1024 * 1024);
    // Photos of 100,000 and 100,300 bytes look the same to a relay; one of 90,000 bytes does not.
    expect(sealBlob(randomBytes(100_000)).sealed.length).toBe(sealBlob(randomBytes(100_300)).sealed.length);
    expect(sealBlob(randomBytes(90_000)).sealed.length).not.toBe(sealBlob(randomBytes(100_000)).sealed.length);
    // Over a range of sizes, far fewer distinct sealed lengths than sizes.
    const lengths = new Set<number>();
    for (let n = 50_000; n < 150_000; n += 97) lengths.add(paddedLength(n));
    expect(lengths.size).toBeLessThan(60);
  });

  it('opens only its own size: the padding must be zeros of the right length; blobs sealed before padding still open', () => {
    const a = sealBlob(plaintext);
    expect(openBlob(a.sealed, a)).toEqual(plaintext);
    expect(code(() => openBlob(a.sealed, { ...a, size: plaintext.length - 1 }))).toBe('decrypt-failed');
    expect(code(() => openBlob(a.sealed, { ...a, size: plaintext.length + 1 }))).toBe('decrypt-failed');
    const seal = (bytes: Uint8Array) => {
      const key = randomBytes(32);
      const nonce = randomBytes(BLOB_NONCE_BYTES);
      const body = xchacha20poly1305(key, nonce, new TextEncoder().encode('schoolmesh/blob/v1')).encrypt(bytes);
      const sealed = new Uint8Array([...nonce, ...body]);
      return { sealed, id: sha256(sealed), key };
    };
    // Padding that is not zeros (a sender hiding bytes after the file) is refused.
    const dirty = new Uint8Array(paddedLength(1000));
    dirty.set(randomBytes(1000));
    dirty[dirty.length - 1] = 7;
    const d = seal(dirty);
    expect(code(() => openBlob(d.sealed, { ...d, plainHash: sha256(dirty.subarray(0, 1000)), size: 1000 }))).toBe('decrypt-failed');
    // An unpadded blob (sealed by an older version) opens with its size.
    const old = randomBytes(1000);
    const o = seal(old);
    expect(openBlob(o.sealed, { ...o, plainHash: sha256(old), size: 1000 })).toEqual(old);
  });
});
