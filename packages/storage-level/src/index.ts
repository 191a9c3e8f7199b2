import {
  type LoadRangeOptions,
  type StorageAdapter,
  type StorageKey,
  type StorageOp,
  type StorageRecord,
  StorageError,
  copyBytes,
  ioError,
  normalizeOps,
  planRange,
  validateData,
  validateKey,
  validatePrefix,
} from '@schoolmesh/storage';
import { ClassicLevel } from 'classic-level';
import { decodeKey, encodeKey, prefixBounds, startsWithBytes } from './keys.ts';

export { decodeKey, encodeKey, prefixBounds } from './keys.ts';

export interface LevelStorageOptions {
  /**
   * fsync the LevelDB log on every write before acknowledging it. Default false: a write is
   * acknowledged once LevelDB has appended it to its log with write(2), i.e. it is in the OS page
   * cache and survives a crash or kill of this process, but not a kernel panic or power loss.
   * `true` also survives power loss, at the cost of one fsync per write/batch (see README numbers).
   */
  sync?: boolean;
}

/** The LevelDB store: a StorageAdapter that can also compact itself. */
export interface LevelStorageAdapter extends StorageAdapter {
  /**
   * Compacts the whole store: LevelDB keeps deleted and overwritten values in its log and table files until a
   * compaction rewrites them, so call this after deleting what must not stay on disk (retention).
   */
  compact(): Promise<void>;
  /**
   * Write counters since open: `writes` acknowledged save/remove/removeRange/batch calls, `commits` LevelDB writes
   * they took (with `sync: true`, one fsync each). Writes that queue behind the one in flight share one commit.
   */
  writeStats(): { writes: number; commits: number };
}

/** At most this many ops go into one group commit (a single queued write larger than this still goes alone). */
const GROUP_MAX_OPS = 4_096;

interface QueuedWrite {
  ops: StorageOp[];
  done: () => void;
  fail: (e: unknown) => void;
}

type Db = ClassicLevel<Uint8Array, Uint8Array>;
type LevelOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

/** Opens (creating if needed) a LevelDB store in `directory`. Only one process may open it at a time. */
export async function openLevelStorage(directory: string, options?: LevelStorageOptions): Promise<LevelStorageAdapter> {
  const db: Db = new ClassicLevel<Uint8Array, Uint8Array>(directory, { keyEncoding: 'view', valueEncoding: 'view' });
  try {
    await db.open();
  } catch (e) {
    throw ioError(`opening LevelDB at ${directory}`, e);
  }
  return new LevelStorage(db, options?.sync ?? false);
}

class LevelStorage implements LevelStorageAdapter {
  readonly #db: Db;
  readonly #sync: boolean;
  #closed = false;
  readonly #inflight = new Set<Promise<unknown>>();
  /**
   * Writes run one at a time in call order, so a del-range can read its keys and delete them atomically. Writes
   * issued while one is in flight queue here and then go to LevelDB together as one batch (group commit): one
   * fsync for all of them with `sync: true`, each acknowledged only when that batch is written.
   */
  readonly #queue: QueuedWrite[] = [];
  #writing = false;
  #writes = 0;
  #commits = 0;

  constructor(db: Db, sync: boolean) {
    this.#db = db;
    this.#sync = sync;
  }

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#read('load', () => validateKey(key), async () => {
      const value = await this.#db.get(encodeKey(key));
      return value === undefined ? undefined : plain(value);
    });
  }

  save(key: StorageKey, data: Uint8Array): Promise<void> {
    return this.#write(
      'save',
      () => {
        validateKey(key);
        validateData(data);
        return [{ type: 'put', key: [...key], data: copyBytes(data) }];
      },
    );
  }

  remove(key: StorageKey): Promise<void> {
    return this.#write('remove', () => {
      validateKey(key);
      return [{ type: 'del', key: [...key] }];
    });
  }

  removeRange(prefix: StorageKey): Promise<void> {
    return this.#write('removeRange', () => {
      validatePrefix(prefix);
      return [{ type: 'del-range', prefix: [...prefix] }];
    });
  }

  batch(ops: readonly StorageOp[]): Promise<void> {
    return this.#write('batch', () => normalizeOps(ops));
  }

  loadRange(prefix: StorageKey, options?: LoadRangeOptions): Promise<StorageRecord[]> {
    let plan: ReturnType<typeof planRange>;
    return this.#read('loadRange', () => (plan = planRange(prefix, options)), async () => {
      if (plan.empty) return [];
      const bounds: { gt?: Uint8Array; gte?: Uint8Array; lt?: Uint8Array } = prefixBounds(prefix);
      if (plan.after) {
        if (plan.reverse) bounds.lt = encodeKey(plan.after);
        else {
          delete bounds.gte;
          bounds.gt = encodeKey(plan.after);
        }
      }
      const entries = await this.#db.iterator({ ...bounds, reverse: plan.reverse, limit: plan.limit ?? -1 }).all();
      return entries.map(([k, v]) => ({ key: decodeKey(k), data: plain(v) }));
    });
  }

  keys(prefix: StorageKey): Promise<StorageKey[]> {
    return this.#read('keys', () => validatePrefix(prefix), async () => {
      const keys = await this.#db.keys(prefixBounds(prefix)).all();
      return keys.map(decodeKey);
    });
  }

  compact(): Promise<void> {
    // Every encoded key starts with a byte below 0xFF (lead bytes are 0x00–0xC0), so [], [FF] covers them all.
    return this.#read('compact', () => {}, () => this.#db.compactRange(new Uint8Array(0), Uint8Array.of(0xff)));
  }

  async close(): Promise<void> {
    if (this.#closed) {
      await Promise.allSettled([...this.#inflight]);
      return;
    }
    this.#closed = true;
    const closing = (async () => {
      await Promise.allSettled([...this.#inflight]);
      await this.#db.close();
    })();
    this.#inflight.add(closing);
    await closing;
  }

  /** One LevelDB batch (atomic, and durable per `sync`) for the whole op list. */
  async #apply(ops: StorageOp[]): Promise<void> {
    if (ops.length === 0) return;
    const out: LevelOp[] = [];
    const putsSoFar: Uint8Array[] = [];
    for (const op of ops) {
      if (op.type === 'put') {
        const key = encodeKey(op.key);
        out.push({ type: 'put', key, value: op.data });
        putsSoFar.push(key);
      } else if (op.type === 'del') {
        out.push({ type: 'del', key: encodeKey(op.key) });
      } else {
        // LevelDB has no range delete: delete every stored key in the range, plus keys put earlier
        // in this batch. Writes are serialized, so no other write can slip in between.
        const bounds = prefixBounds(op.prefix);
        for (const key of await this.#db.keys(bounds).all()) out.push({ type: 'del', key });
        const encoded = bounds.gte ?? new Uint8Array(0);
        for (const key of putsSoFar) if (startsWithBytes(key, encoded)) out.push({ type: 'del', key });
      }
    }
    if (out.length === 1 && out[0]!.type === 'put') await this.#db.put(out[0]!.key, out[0]!.value, { sync: this.#sync });
    else if (out.length > 0) await this.#db.batch(out, { sync: this.#sync });
  }

  writeStats(): { writes: number; commits: number } {
    return { writes: this.#writes, commits: this.#commits };
  }

  #write(what: string, check: () => StorageOp[]): Promise<void> {
    let ops: StorageOp[];
    try {
      this.#ensureOpen();
      ops = check();
    } catch (e) {
      return Promise.reject(e);
    }
    const written = new Promise<void>((resolve, reject) => {
      this.#queue.push({ ops, done: resolve, fail: (e) => reject(ioError(what, e)) });
    });
    // Starts at once when nothing is in flight (call order = issue order); otherwise joins the next group.
    this.#pump();
    return this.#track(written);
  }

  /** Takes the queued writes (up to GROUP_MAX_OPS ops) and commits them as one LevelDB batch, then the next group. */
  #pump(): void {
    if (this.#writing || this.#queue.length === 0) return;
    this.#writing = true;
    let taken = 1;
    let size = this.#queue[0]!.ops.length;
    while (taken < this.#queue.length && size + this.#queue[taken]!.ops.length <= GROUP_MAX_OPS) size += this.#queue[taken++]!.ops.length;
    const group = this.#queue.splice(0, taken);
    void this.#commit(group).finally(() => {
      this.#writing = false;
      this.#pump();
    });
  }

  async #commit(group: QueuedWrite[]): Promise<void> {
    try {
      await this.#apply(group.length === 1 ? group[0]!.ops : group.flatMap((w) => w.ops));
      this.#commits++;
      this.#writes += group.length;
      for (const w of group) w.done();
      return;
    } catch (e) {
      if (group.length === 1) {
        group[0]!.fail(e);
        return;
      }
    }
    // The merged batch failed (nothing of it was written): each write on its own, so one cannot fail the others.
    for (const w of group) {
      try {
        await this.#apply(w.ops);
        this.#commits++;
        this.#writes++;
        w.done();
      } catch (e) {
        w.fail(e);
      }
    }
  }

  #read<T>(what: string, check: () => void, io: () => Promise<T>): Promise<T> {
    try {
      this.#ensureOpen();
      check();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#track(io().catch((e: unknown) => Promise.reject(ioError(what, e))));
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    const forget = () => this.#inflight.delete(p);
    p.then(forget, forget);
    return p;
  }

  #ensureOpen(): void {
    if (this.#closed) throw new StorageError('closed', 'storage is closed');
  }
}

/** classic-level hands back Buffers or views; callers get a plain, tightly sized Uint8Array. */
function plain(value: Uint8Array): Uint8Array {
  if (Object.getPrototypeOf(value) === Uint8Array.prototype && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) {
    return value;
  }
  return copyBytes(value);
}
