export type { LoadRangeOptions, StorageAdapter, StorageKey, StorageOp, StorageRecord } from './types.ts';
export { StorageError, ioError, type StorageErrorCode } from './errors.ts';
export {
  MAX_KEY_ELEMENTS,
  compareKeys,
  comparePrefixRange,
  copyBytes,
  hasPrefix,
  normalizeOps,
  planRange,
  validateData,
  validateKey,
  validatePrefix,
  type RangePlan,
} from './keys.ts';
export { MemoryStorage } from './memory.ts';
