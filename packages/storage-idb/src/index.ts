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
import { type IDBPDatabase, unwrap, wrap } from 'idb';

const STORE = 'records';
const VERSION = 1;

export interface IdbStorageOptions {
  /** The IndexedDB factory; defaults to `globalThis.indexedDB` (window or worker). */
  indexedDB?: IDBFactory;
  /**
   * Durability hint for write transactions (IDBTransactionOptions.durability). 'relaxed' acknowledges
   * once the OS has the data (survives a tab or browser crash, not a power cut); 'strict' waits for
   * a flush. Default: the browser's default.
   */
  durability?: IDBTransactionDurability;
}

function factoryOf(options: IdbStorageOptions | undefined): IDBFactory {
  const factory = options?.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) throw new StorageError('io', 'IndexedDB is not available in this environment');
  return factory;
}

/**
 * Opens (creating if needed) the IndexedDB database `name` with one object store whose keys are
 * native array keys. IndexedDB compares array keys element-wise and strings by UTF-16 code units,
 * which is exactly the StorageKey order, so ranges map onto IDBKeyRange directly.
 */
export async function openIdbStorage(name: string, options?: IdbStorageOptions): Promise<StorageAdapter> {
  const factory = factoryOf(options);
  let db: IDBPDatabase;
  try {
    const request = factory.open(name, VERSION);
    request.addEventListener('upgradeneeded', () => {
      const raw = request.result;
      if (!raw.objectStoreNames.contains(STORE)) raw.createObjectStore(STORE);
    });
    const opened = await wrap(request);
    if (!opened) throw new Error('open returned no database');
    db = opened;
  } catch (e) {
    throw ioError(`opening IndexedDB "${name}"`, e);
  }
  return new IdbStorage(db, options?.durability);
}

/** Deletes the database. Open adapters on it close themselves (and then reject with 'closed'). */
export async function deleteIdbStorage(name: string, options?: { indexedDB?: IDBFactory }): Promise<void> {
  const factory = factoryOf(options);
  try {
    await wrap(factory.deleteDatabase(name));
  } catch (e) {
    throw ioError(`deleting IndexedDB "${name}"`, e);
  }
}

/** [prefix, prefix + [[]]): an array element sorts above every string, so this is exactly the subtree. */
function prefixRange(prefix: StorageKey): IDBKeyRange {
  return IDBKeyRange.bound([...prefix], [...prefix, []], false, true);
}

class IdbStorage implements StorageAdapter {
  readonly #db: IDBPDatabase;
  readonly #txOptions: IDBTransactionOptions;
  #closed = false;
  readonly #inflight = new Set<Promise<unknown>>();

  constructor(db: IDBPDatabase, durability: IDBTransactionDurability | undefined) {
    this.#db = db;
    this.#txOptions = durability ? { durability } : {};
    // Another connection wants to delete or upgrade the database: get out of its way.
    db.addEventListener('versionchange', () => void this.close());
    // The browser closed the connection abnormally (e.g. the database was cleared).
    db.addEventListener('close', () => {
      this.#closed = true;
    });
  }

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#run('load', () => validateKey(key), async () => {
      const value: unknown = await this.#db.get(STORE, [...key]);
      return value === undefined ? undefined : toBytes(value);
    });
  }

  save(key: StorageKey, data: Uint8Array): Promise<void> {
    let copy: Uint8Array;
    return this.#run(
      'save',
      () => {
        validateKey(key);
        validateData(data);
        copy = copyBytes(data);
      },
      async () => {
        const tx = this.#db.transaction(STORE, 'readwrite', this.#txOptions);
        unwrap(tx.store).put(copy, [...key]);
        await tx.done;
      },
    );
  }

  remove(key: StorageKey): Promise<void> {
    return this.#run('remove', () => validateKey(key), async () => {
      const tx = this.#db.transaction(STORE, 'readwrite', this.#txOptions);
      unwrap(tx.store).delete([...key]);
      await tx.done;
    });
  }

  loadRange(prefix: StorageKey, options?: LoadRangeOptions): Promise<StorageRecord[]> {
    let plan: ReturnType<typeof planRange>;
    return this.#run('loadRange', () => (plan = planRange(prefix, options)), async () => {
      if (plan.empty) return [];
      let range: IDBKeyRange;
      if (!plan.after) range = prefixRange(prefix);
      else if (plan.reverse) range = IDBKeyRange.bound([...prefix], [...plan.after], false, true);
      else range = IDBKeyRange.bound([...plan.after], [...prefix, []], true, true);
      const tx = this.#db.transaction(STORE, 'readonly');
      if (!plan.reverse) {
        // Two bulk reads in one transaction see the same snapshot, so keys and values line up.
        const [keys, values] = await Promise.all([tx.store.getAllKeys(range, plan.limit), tx.store.getAll(range, plan.limit), tx.done]);
        return keys.map((k, i) => ({ key: k as string[], data: toBytes(values[i]) }));
      }
      const out: StorageRecord[] = [];
      const limit = plan.limit ?? Number.POSITIVE_INFINITY;
      let cursor = await tx.store.openCursor(range, 'prev');
      while (cursor && out.length < limit) {
        out.push({ key: cursor.key as string[], data: toBytes(cursor.value) });
        cursor = await cursor.continue();
      }
      await tx.done;
      return out;
    });
  }

  keys(prefix: StorageKey): Promise<StorageKey[]> {
    return this.#run('keys', () => validatePrefix(prefix), async () => {
      const keys = await this.#db.getAllKeys(STORE, prefixRange(prefix));
      return keys as string[][];
    });
  }

  removeRange(prefix: StorageKey): Promise<void> {
    return this.#run('removeRange', () => validatePrefix(prefix), async () => {
      const tx = this.#db.transaction(STORE, 'readwrite', this.#txOptions);
      unwrap(tx.store).delete(prefixRange(prefix));
      await tx.done;
    });
  }

  batch(ops: readonly StorageOp[]): Promise<void> {
    let checked: StorageOp[];
    return this.#run('batch', () => (checked = normalizeOps(ops)), async () => {
      if (checked.length === 0) return;
      const tx = this.#db.transaction(STORE, 'readwrite', this.#txOptions);
      // Raw requests: no per-request promise, one completion for the whole transaction. Requests
      // in one transaction execute in order; any failing request aborts the whole transaction.
      const store = unwrap(tx.store);
      try {
        for (const op of checked) {
          if (op.type === 'put') store.put(op.data, op.key as string[]);
          else if (op.type === 'del') store.delete(op.key as string[]);
          else store.delete(prefixRange(op.prefix));
        }
      } catch (e) {
        tx.abort();
        await tx.done.catch(() => {});
        throw e;
      }
      await tx.done;
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inflight]);
    this.#db.close();
  }

  /** Checks state and arguments synchronously (so later caller mutation cannot leak in), then runs the I/O. */
  #run<T>(what: string, check: () => void, io: () => Promise<T>): Promise<T> {
    try {
      if (this.#closed) throw new StorageError('closed', 'storage is closed');
      check();
    } catch (e) {
      return Promise.reject(e);
    }
    let p: Promise<T>;
    try {
      p = io().catch((e: unknown) => {
        throw ioError(what, e);
      });
    } catch (e) {
      p = Promise.reject(ioError(what, e));
    }
    this.#inflight.add(p);
    const forget = () => this.#inflight.delete(p);
    p.then(forget, forget);
    return p;
  }
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value; // a structured clone: already our own copy
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new StorageError('io', 'stored value is not bytes');
}
