import { describe, expect, it } from 'vitest';
import { BLOB_OVERHEAD_BYTES, blobId, CryptoError, openBlob, randomBytes, sealBlob, sha256 } from '../src/index.ts';

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
    expect(a.sealed.length).toBe(plaintext.length + BLOB_OVERHEAD_BYTES);
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
});
