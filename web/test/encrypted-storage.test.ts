/**
 * A profile's store encrypted under its PIN: it passes the storage acceptance suite that every adapter runs, the
 * stored bytes hold no plaintext, a wrong PIN opens nothing, and a value moved to another key is refused.
 */
import { MemoryStorage, StorageError } from '@schoolmesh/storage';
import { storageAcceptanceSuite } from '@schoolmesh/storage/acceptance';
import { describe, expect, it } from 'vitest';
import { EncryptedStorage, WrongPinError, deriveProfileKey } from '../src/worker/encrypted-storage.ts';

const salt = new Uint8Array(16).fill(7);
const ITERATIONS = 1_000; // the app uses 600,000; the format does not depend on it
const utf8 = (s: string) => new TextEncoder().encode(s);

storageAcceptanceSuite('EncryptedStorage over MemoryStorage', async () => new EncryptedStorage(new MemoryStorage(), await deriveProfileKey('1234', salt, ITERATIONS)));

describe('EncryptedStorage', () => {
  it('keeps no plaintext, verifies the PIN, and binds each value to its key', async () => {
    const inner = new MemoryStorage();
    const store = new EncryptedStorage(inner, await deriveProfileKey('2468', salt, ITERATIONS));
    await store.writeCheck();
    await store.save(['app', 'identity'], utf8('geheimer Schlüssel von Ben'));
    await store.batch([{ type: 'put', key: ['en', 'g', '1'], data: utf8('Hallo Mia!') }]);

    const raw = await inner.loadRange([]);
    expect(raw.length).toBe(3);
    for (const r of raw) {
      const text = new TextDecoder('utf-8', { fatal: false }).decode(r.data);
      expect(text).not.toMatch(/Ben|Mia|schoolmesh/);
    }
    expect(new TextDecoder().decode(await store.load(['app', 'identity']))).toBe('geheimer Schlüssel von Ben');
    await store.verify();

    const wrong = new EncryptedStorage(inner, await deriveProfileKey('1357', salt, ITERATIONS));
    await expect(wrong.verify()).rejects.toBeInstanceOf(WrongPinError);
    await expect(wrong.load(['app', 'identity'])).rejects.toBeInstanceOf(StorageError);

    // A value copied under another key does not decrypt there.
    await inner.save(['app', 'moved'], (await inner.load(['app', 'identity']))!);
    await expect(store.load(['app', 'moved'])).rejects.toThrow(/cannot be decrypted/);
  });
});
