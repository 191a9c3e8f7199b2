import { StorageError } from './errors.ts';
import {
  compareKeys,
  comparePrefixRange,
  copyBytes,
  normalizeOps,
  planRange,
  validateData,
  validateKey,
  validatePrefix,
} from './keys.ts';
import type { LoadRangeOptions, StorageAdapter, StorageKey, StorageOp, StorageRecord } from './types.ts';

/**
 * In-memory adapter: two parallel arrays kept sorted by compareKeys. Lookups and range starts are
 * binary searches (O(log n)); a range read costs O(log n + records returned); inserting a new key
 * or deleting shifts the array (O(n) memmove), which is fine for tests, demos and caches.
 * Every operation takes effect synchronously when called, so call order is apply order.
 */
export class MemoryStorage implements StorageAdapter {
  #keys: StorageKey[] = [];
  #values: Uint8Array[] = [];
  #closed = false;

  /** Number of records stored. */
  get size(): number {
    return this.#keys.length;
  }

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    this.#open();
    validateKey(key);
    const i = this.#lowerBound(key);
    return i < this.#keys.length && compareKeys(this.#keys[i]!, key) === 0 ? copyBytes(this.#values[i]!) : undefined;
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    this.#open();
    validateKey(key);
    validateData(data);
    this.#put(key, copyBytes(data));
  }

  async remove(key: StorageKey): Promise<void> {
    this.#open();
    validateKey(key);
    this.#del(key);
  }

  async loadRange(prefix: StorageKey, options?: LoadRangeOptions): Promise<StorageRecord[]> {
    this.#open();
    const [from, to] = this.#window(prefix, options);
    const out: StorageRecord[] = [];
    if (options?.reverse) {
      for (let i = to - 1; i >= from; i--) out.push({ key: [...this.#keys[i]!], data: copyBytes(this.#values[i]!) });
    } else {
      for (let i = from; i < to; i++) out.push({ key: [...this.#keys[i]!], data: copyBytes(this.#values[i]!) });
    }
    return out;
  }

  async keys(prefix: StorageKey): Promise<StorageKey[]> {
    this.#open();
    validatePrefix(prefix);
    const [from, to] = this.#prefixBounds(prefix);
    return this.#keys.slice(from, to).map((k) => [...k]);
  }

  async removeRange(prefix: StorageKey): Promise<void> {
    this.#open();
    validatePrefix(prefix);
    this.#delRange(prefix);
  }

  async batch(ops: readonly StorageOp[]): Promise<void> {
    this.#open();
    const checked = normalizeOps(ops); // throws before anything is applied
    for (const op of checked) {
      if (op.type === 'put') this.#put(op.key, op.data);
      else if (op.type === 'del') this.#del(op.key);
      else this.#delRange(op.prefix);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new StorageError('closed', 'storage is closed');
  }

  #put(key: StorageKey, data: Uint8Array): void {
    const i = this.#lowerBound(key);
    if (i < this.#keys.length && compareKeys(this.#keys[i]!, key) === 0) {
      this.#values[i] = data;
    } else {
      this.#keys.splice(i, 0, Object.freeze([...key]));
      this.#values.splice(i, 0, data);
    }
  }

  #del(key: StorageKey): void {
    const i = this.#lowerBound(key);
    if (i < this.#keys.length && compareKeys(this.#keys[i]!, key) === 0) {
      this.#keys.splice(i, 1);
      this.#values.splice(i, 1);
    }
  }

  #delRange(prefix: StorageKey): void {
    const [from, to] = this.#prefixBounds(prefix);
    this.#keys.splice(from, to - from);
    this.#values.splice(from, to - from);
  }

  /** Index range [from, to) of the records a loadRange call returns, before reversing. */
  #window(prefix: StorageKey, options: LoadRangeOptions | undefined): [number, number] {
    const plan = planRange(prefix, options);
    if (plan.empty) return [0, 0];
    let [from, to] = this.#prefixBounds(prefix);
    if (plan.after) {
      const after = plan.after;
      if (plan.reverse) to = Math.min(to, this.#lowerBound(after));
      else from = Math.max(from, this.#search((k) => compareKeys(k, after) > 0));
    }
    if (plan.limit !== undefined && to - from > plan.limit) {
      if (plan.reverse) from = to - plan.limit;
      else to = from + plan.limit;
    }
    return [from, Math.max(from, to)];
  }

  #prefixBounds(prefix: StorageKey): [number, number] {
    if (prefix.length === 0) return [0, this.#keys.length];
    return [this.#search((k) => comparePrefixRange(k, prefix) >= 0), this.#search((k) => comparePrefixRange(k, prefix) > 0)];
  }

  #lowerBound(key: StorageKey): number {
    return this.#search((k) => compareKeys(k, key) >= 0);
  }

  /** First index whose key satisfies a predicate that is monotone over the sorted keys. */
  #search(pred: (key: StorageKey) => boolean): number {
    let lo = 0;
    let hi = this.#keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pred(this.#keys[mid]!)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
