import { StorageError } from './errors.ts';
import type { LoadRangeOptions, StorageKey, StorageOp } from './types.ts';

export const MAX_KEY_ELEMENTS = 8;

function checkElements(key: unknown, min: number, what: string): asserts key is StorageKey {
  if (!Array.isArray(key)) throw new StorageError('bad-key', `${what} must be an array of strings`);
  if (key.length < min || key.length > MAX_KEY_ELEMENTS) {
    throw new StorageError('bad-key', `${what} must have ${min} to ${MAX_KEY_ELEMENTS} elements, got ${key.length}`);
  }
  for (let i = 0; i < key.length; i++) {
    const element: unknown = key[i];
    if (typeof element !== 'string') throw new StorageError('bad-key', `${what} element ${i} is not a string`);
    if (element.length === 0) throw new StorageError('bad-key', `${what} element ${i} is empty`);
    if (element.includes('\u0000')) throw new StorageError('bad-key', `${what} element ${i} contains U+0000`);
  }
}

/** Throws StorageError('bad-key') unless `key` is 1..8 non-empty strings without U+0000. */
export function validateKey(key: unknown): asserts key is StorageKey {
  checkElements(key, 1, 'key');
}

/** Like validateKey, but a prefix may be empty (selecting the whole store). */
export function validatePrefix(prefix: unknown): asserts prefix is StorageKey {
  checkElements(prefix, 0, 'prefix');
}

/** Element-wise order; elements by UTF-16 code units; a proper prefix sorts first. */
export function compareKeys(a: StorageKey, b: StorageKey): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** True when `key` starts with every element of `prefix` (or equals it). */
export function hasPrefix(key: StorageKey, prefix: StorageKey): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/**
 * Where `key` lies relative to the contiguous run of keys selected by `prefix`:
 * -1 before it, 0 inside it, 1 after it.
 */
export function comparePrefixRange(key: StorageKey, prefix: StorageKey): -1 | 0 | 1 {
  for (let i = 0; i < prefix.length; i++) {
    if (i >= key.length) return -1;
    const x = key[i]!;
    const y = prefix[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** A plain, tightly sized copy (never a view on the caller's buffer, never a Node Buffer). */
export function copyBytes(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.byteLength);
  out.set(data);
  return out;
}

export function validateData(data: unknown): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array');
}

/** Validates every op before any is applied, copying keys and data so later caller mutation cannot leak in. */
export function normalizeOps(ops: readonly StorageOp[]): StorageOp[] {
  if (!Array.isArray(ops)) throw new TypeError('batch expects an array of ops');
  const out: StorageOp[] = [];
  for (const op of ops as readonly unknown[]) {
    const o = op as { type?: unknown; key?: unknown; data?: unknown; prefix?: unknown } | null;
    switch (o?.type) {
      case 'put':
        validateKey(o.key);
        validateData(o.data);
        out.push({ type: 'put', key: [...o.key], data: copyBytes(o.data) });
        break;
      case 'del':
        validateKey(o.key);
        out.push({ type: 'del', key: [...o.key] });
        break;
      case 'del-range':
        validatePrefix(o.prefix);
        out.push({ type: 'del-range', prefix: [...o.prefix] });
        break;
      default:
        throw new TypeError(`unknown batch op type: ${String(o?.type)}`);
    }
  }
  return out;
}

export interface RangePlan {
  /** Nothing can match. */
  empty: boolean;
  /** The exclusive cursor still constrains the prefix range (otherwise the whole prefix range applies). */
  after: StorageKey | undefined;
  limit: number | undefined;
  reverse: boolean;
}

/**
 * Validates loadRange arguments and reduces `after` against the prefix range, so adapters only
 * need "the whole prefix range" or "the prefix range cut at `after`".
 */
export function planRange(prefix: StorageKey, options: LoadRangeOptions | undefined): RangePlan {
  validatePrefix(prefix);
  const { limit, after, reverse = false } = options ?? {};
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new RangeError('limit must be a non-negative integer');
  }
  if (typeof reverse !== 'boolean') throw new TypeError('reverse must be a boolean');
  const plan: RangePlan = { empty: limit === 0, after: undefined, limit, reverse };
  if (after === undefined) return plan;
  validateKey(after);
  const position = comparePrefixRange(after, prefix);
  if (!reverse) {
    // Forward: a cursor before the range cuts nothing, a cursor after it leaves nothing.
    if (position > 0) plan.empty = true;
    else if (position === 0) plan.after = [...after];
  } else {
    if (position < 0) plan.empty = true;
    else if (position === 0) {
      // Nothing in the range sorts before the prefix key itself.
      if (after.length === prefix.length) plan.empty = true;
      else plan.after = [...after];
    }
  }
  return plan;
}
