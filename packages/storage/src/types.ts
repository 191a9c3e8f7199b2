/**
 * A storage key: 1 to 8 non-empty string elements, none containing U+0000.
 * A prefix (for ranges) is the same but may have 0 elements (the whole store).
 */
export type StorageKey = readonly string[];

export interface StorageRecord {
  key: StorageKey;
  data: Uint8Array;
}

export type StorageOp =
  | { type: 'put'; key: StorageKey; data: Uint8Array }
  | { type: 'del'; key: StorageKey }
  | { type: 'del-range'; prefix: StorageKey };

export interface LoadRangeOptions {
  /** Return at most this many records (a non-negative integer). */
  limit?: number;
  /** Exclusive cursor in iteration direction: only records strictly after it (strictly before it when `reverse`). */
  after?: StorageKey;
  /** Iterate from the greatest key down. */
  reverse?: boolean;
}

/**
 * The seam every store implements (modelled on automerge-repo's StorageAdapterInterface).
 *
 * Order: keys compare element-wise; elements compare by UTF-16 code units (JS `<`, IndexedDB
 * array keys); a key that is a proper prefix of another sorts first.
 * Ranges: a prefix selects every key that starts with all of its elements, including the key
 * equal to the prefix; ['a'] does not select ['ab'].
 * Consistency: a read observes every write whose promise has resolved.
 */
export interface StorageAdapter {
  load(key: StorageKey): Promise<Uint8Array | undefined>;
  save(key: StorageKey, data: Uint8Array): Promise<void>;
  remove(key: StorageKey): Promise<void>;
  loadRange(prefix: StorageKey, options?: LoadRangeOptions): Promise<StorageRecord[]>;
  keys(prefix: StorageKey): Promise<StorageKey[]>;
  removeRange(prefix: StorageKey): Promise<void>;
  /** Atomic: all ops or none, applied in order, in one transaction. */
  batch(ops: readonly StorageOp[]): Promise<void>;
  /** Waits for operations in flight, then releases the store. Idempotent. */
  close(): Promise<void>;
}
