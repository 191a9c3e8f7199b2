import * as Y from 'yjs';

/**
 * Merges updates of one author into one update (Y.mergeUpdates), for per-author compaction of finished buckets.
 * The result contains only structs and deletions of that author, so it still passes `validateUpdate` for them
 * (pass a larger `maxBytes`: a day of one author's messages may exceed the per-update bound).
 */
export function mergeOwnUpdates(updates: readonly Uint8Array[]): Uint8Array {
  return Y.mergeUpdates([...updates]);
}
