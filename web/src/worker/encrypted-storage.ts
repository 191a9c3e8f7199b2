import { type AeadKey, aeadKey, deriveKeyFromPassphrase, hkdfSha256 } from '@schoolmesh/crypto';
import {
  type LoadRangeOptions,
  type StorageAdapter,
  StorageError,
  type StorageKey,
  type StorageOp,
  type StorageRecord,
  copyBytes,
  normalizeOps,
  validateData,
  validateKey,
  validatePrefix,
} from '@schoolmesh/storage';

/**
 * A profile's data at rest: every value is sealed with XChaCha20-Poly1305 under a key derived from the profile's
 * PIN or passphrase (PBKDF2-HMAC-SHA256, 600,000 iterations, per-profile salt; then HKDF for this purpose). The
 * storage key itself is the associated data, so a value cannot be moved to another key unnoticed.
 *
 * What stays readable: the storage keys (group ids, bucket numbers, author device ids, sequence numbers) and the
 * sizes of values. Those are the same metadata the school's relay already sees; message text, names, keys and the
 * device identity are not readable without the PIN.
 */
const VERSION = 1;
const NONCE = 24;
const enc = new TextEncoder();
const HKDF_INFO = enc.encode('schoolmesh/profile-storage/v1');
const CHECK_KEY = ['app', 'check'];
const CHECK_VALUE = enc.encode('schoolmesh/profile-check/v1');

/** The storage key as associated data: its elements joined by U+0000 (which no element may contain). */
function aadOf(key: StorageKey): Uint8Array {
  return enc.encode(key.join('\u0000'));
}

export interface ProfileLock {
  /** Base64url salt, 16 bytes. */
  salt: string;
  iterations: number;
}

/** Derives the storage key of a profile from its PIN or passphrase (slow on purpose: ~0.3-1 s). */
export async function deriveProfileKey(pin: string, salt: Uint8Array, iterations: number): Promise<AeadKey> {
  const master = await deriveKeyFromPassphrase(pin, salt, iterations);
  const raw = hkdfSha256(master, salt, HKDF_INFO, 32);
  master.fill(0);
  const key = await aeadKey(raw);
  raw.fill(0);
  return key;
}

export class WrongPinError extends Error {
  override readonly name = 'WrongPinError';
}

export class EncryptedStorage implements StorageAdapter {
  #closed = false;

  constructor(
    private readonly inner: StorageAdapter,
    private readonly key: AeadKey,
  ) {}

  /** Writes the record that later proves a PIN right or wrong (a new profile). */
  async writeCheck(): Promise<void> {
    await this.save(CHECK_KEY, CHECK_VALUE);
  }

  /** Throws WrongPinError unless this key opens the profile's check record. */
  async verify(): Promise<void> {
    let value: Uint8Array | undefined;
    try {
      value = await this.load(CHECK_KEY);
    } catch {
      throw new WrongPinError('wrong PIN');
    }
    if (!value || value.length !== CHECK_VALUE.length || !value.every((b, i) => b === CHECK_VALUE[i])) throw new WrongPinError('wrong PIN');
  }

  private async seal(key: StorageKey, data: Uint8Array): Promise<Uint8Array> {
    const { nonce, ciphertext } = await this.key.encrypt(data, aadOf(key));
    const out = new Uint8Array(1 + NONCE + ciphertext.length);
    out[0] = VERSION;
    out.set(nonce, 1);
    out.set(ciphertext, 1 + NONCE);
    return out;
  }

  private async open(key: StorageKey, stored: Uint8Array): Promise<Uint8Array> {
    if (stored.length < 1 + NONCE || stored[0] !== VERSION) throw new StorageError('io', `record ${key.join('/')} is not encrypted with this format`);
    try {
      return await this.key.decrypt(stored.subarray(1, 1 + NONCE), stored.subarray(1 + NONCE), aadOf(key));
    } catch (error) {
      throw new StorageError('io', `record ${key.join('/')} cannot be decrypted`, { cause: error });
    }
  }

  private check(): void {
    if (this.#closed) throw new StorageError('closed', 'storage is closed');
  }

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    this.check();
    validateKey(key);
    const stored = await this.inner.load(key);
    return stored === undefined ? undefined : this.open(key, stored);
  }

  save(key: StorageKey, data: Uint8Array): Promise<void> {
    try {
      this.check();
      validateKey(key);
      validateData(data);
    } catch (error) {
      return Promise.reject(error);
    }
    const k = [...key];
    const copy = copyBytes(data);
    return this.seal(k, copy).then((sealed) => this.inner.save(k, sealed));
  }

  remove(key: StorageKey): Promise<void> {
    try {
      this.check();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.inner.remove(key);
  }

  async loadRange(prefix: StorageKey, options?: LoadRangeOptions): Promise<StorageRecord[]> {
    this.check();
    validatePrefix(prefix);
    const records = await this.inner.loadRange(prefix, options);
    return Promise.all(records.map(async (r) => ({ key: r.key, data: await this.open(r.key, r.data) })));
  }

  keys(prefix: StorageKey): Promise<StorageKey[]> {
    try {
      this.check();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.inner.keys(prefix);
  }

  removeRange(prefix: StorageKey): Promise<void> {
    try {
      this.check();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.inner.removeRange(prefix);
  }

  batch(ops: readonly StorageOp[]): Promise<void> {
    let checked: StorageOp[];
    try {
      this.check();
      checked = normalizeOps(ops);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.all(checked.map(async (op) => (op.type === 'put' ? { ...op, data: await this.seal(op.key, op.data) } : op))).then((sealed) =>
      this.inner.batch(sealed),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.inner.close();
  }
}
