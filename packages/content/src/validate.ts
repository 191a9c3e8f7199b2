import * as Y from 'yjs';
import { authorPrefix, isClientId } from './ids.ts';
import { LIMITS, checkValue, parseKey } from './schema.ts';

/** The name of the one root type of every bucket document. */
export const ROOT = 'm';

export type Validation = { ok: true } | { ok: false; reason: string };

export interface ValidateOptions {
  /** Upper bound on the update's size in bytes; default `LIMITS.maxUpdateBytes`. Raise it for compacted buckets. */
  maxBytes?: number;
}

const fail = (reason: string): Validation => ({ ok: false, reason });

/**
 * Decides whether `update` (a Yjs v1 update) may be applied as authored by `authorClientId`: it may only create,
 * overwrite or delete that author's own keys of the root map, with plain JSON values that fit the schema.
 *
 * Rules, per struct of the update:
 * - every struct (Item, GC, Skip) belongs to the author, has a positive length, and the clocks are contiguous
 *   (one run of the author's clock, as Yjs writes it);
 * - an Item's content is ContentAny (JSON values) or ContentDeleted; nested types, text, binary, embeds, formats,
 *   subdocuments and the legacy ContentJSON are never needed by this schema and are refused;
 * - an Item never has a right origin (map entries are only ever appended, so Yjs never writes one);
 * - an Item without origin names its parent explicitly: it must be the root key 'm' (a string, not the ID of a
 *   nested type) with a key (parentSub) that starts with the author's prefix and parses as a known key kind;
 * - an Item with an origin carries no parent info: Yjs copies parent and key from the origin item. The origin must
 *   be the author's own, strictly earlier, item; by induction over validated updates that item sits under one of
 *   the author's keys, so the new item does too. (Requiring an earlier clock also keeps Yjs from looking up an
 *   item it does not have yet, which would throw halfway through applying.)
 * - values are checked against the schema of the key kind; when the key cannot be resolved (origin neither in this
 *   update nor in `doc`), the value must fit one of the kinds;
 * - the delete set only names the author's client, with non-empty ranges.
 *
 * Total: never throws; malformed bytes give `{ok: false}`.
 */
export function validateUpdate(
  update: Uint8Array,
  authorClientId: number,
  doc?: Y.Doc,
  options?: ValidateOptions,
): Validation {
  try {
    return check(update, authorClientId, doc, options?.maxBytes ?? LIMITS.maxUpdateBytes);
  } catch (e) {
    return fail(`malformed update: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function check(update: Uint8Array, author: number, doc: Y.Doc | undefined, maxBytes: number): Validation {
  if (!(update instanceof Uint8Array)) return fail('update is not a Uint8Array');
  if (!isClientId(author)) return fail('author client id is invalid');
  if (update.length > maxBytes) return fail(`update is ${update.length} bytes, more than ${maxBytes}`);
  const { structs, ds } = Y.decodeUpdate(update);
  const prefix = `${authorPrefix(author)}/`;
  /** The key each struct writes to: a string if known, null if it has none (GC, Skip), undefined if unknown. */
  const keys: (string | null | undefined)[] = [];
  let nextClock: number | undefined;
  for (let i = 0; i < structs.length; i++) {
    const s = structs[i]!;
    if (s.id.client !== author) return fail(`struct of client ${s.id.client}, not of the author ${author}`);
    if (!Number.isSafeInteger(s.length) || s.length < 1) return fail('struct with an empty length');
    if (nextClock !== undefined && s.id.clock !== nextClock) return fail('structs are not one contiguous run');
    nextClock = s.id.clock + s.length;
    if (!Number.isSafeInteger(nextClock)) return fail('clock out of range');
    if (!(s instanceof Y.Item)) {
      if (!(s instanceof Y.GC) && !(s instanceof Y.Skip)) return fail('unknown struct');
      keys.push(null);
      continue;
    }
    const content = s.content;
    if (!(content instanceof Y.ContentAny) && !(content instanceof Y.ContentDeleted))
      return fail(`content ${content.constructor.name} is not allowed`);
    if (s.rightOrigin !== null) return fail('item with a right origin');
    let key: string | undefined;
    let kind: ReturnType<typeof parseKey> = null;
    if (s.origin !== null) {
      if (s.origin.client !== author) return fail("item's origin belongs to another client");
      if (s.origin.clock >= s.id.clock) return fail("item's origin is not an earlier item");
      const found = keyAt(structs, keys, i, s.origin.clock, doc, author);
      if (found === false) return fail("item's origin lies outside the root map");
      key = found ?? undefined;
    } else {
      const parent: unknown = s.parent;
      if (typeof parent !== 'string') return fail('item inside a nested type');
      if (parent !== ROOT) return fail(`item in root type ${JSON.stringify(parent)}, not ${ROOT}`);
      const sub: unknown = s.parentSub;
      if (typeof sub !== 'string') return fail('item without a key in the root map');
      if (!sub.startsWith(prefix)) return fail(`key ${JSON.stringify(sub)} is not the author's`);
      key = sub;
    }
    if (key !== undefined) {
      kind = parseKey(key);
      if (kind === null || kind.author !== author) return fail(`key ${JSON.stringify(key)} is of no known kind`);
    }
    if (content instanceof Y.ContentAny) {
      if (content.arr.length < 1) return fail('empty content');
      for (const value of content.arr) {
        const problem = checkValue(kind?.kind, value);
        if (problem) return fail(key === undefined ? problem : `${key}: ${problem}`);
      }
    }
    keys.push(key);
  }
  for (const [client, ranges] of ds.clients) {
    if (client !== author) return fail(`deletes items of client ${client}`);
    for (const { clock, len } of ranges) {
      // Yjs throws on an empty range while re-encoding a pending delete set, halfway through applying.
      if (!Number.isSafeInteger(clock) || !Number.isSafeInteger(len) || len < 1 || !Number.isSafeInteger(clock + len))
        return fail('empty or out-of-range deletion');
    }
  }
  return { ok: true };
}

/**
 * The key of the author's item that contains `clock`: looked up among the structs before `before` in this update,
 * then in `doc`. Returns undefined if unknown, null if the item is gone (garbage collected: the new item will be
 * collected too), false if it is not an entry of the root map.
 */
function keyAt(
  structs: readonly (Y.Item | Y.GC | Y.Skip)[],
  keys: readonly (string | null | undefined)[],
  before: number,
  clock: number,
  doc: Y.Doc | undefined,
  author: number,
): string | null | undefined | false {
  let lo = 0;
  let hi = before - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = structs[mid]!;
    if (clock < s.id.clock) hi = mid - 1;
    else if (clock >= s.id.clock + s.length) lo = mid + 1;
    else if (s instanceof Y.Skip) break;
    else return keys[mid];
  }
  if (doc === undefined || Y.getState(doc.store, author) <= clock) return undefined;
  const item = Y.getItem(doc.store, Y.createID(author, clock));
  if (!(item instanceof Y.Item)) return null;
  if (item.parent !== doc.share.get(ROOT) || typeof item.parentSub !== 'string') return false;
  return item.parentSub;
}
