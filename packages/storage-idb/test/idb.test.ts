// Installs fake-indexeddb's classes as globals (IDBKeyRange, IDBDatabase, … as a browser has them;
// idb's wrappers look them up globally). Each test still gets its own IDBFactory below.
import 'fake-indexeddb/auto';
import { storageAcceptanceSuite } from '@schoolmesh/storage/acceptance';
import { type StorageAdapter, StorageError } from '@schoolmesh/storage';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { deleteIdbStorage, openIdbStorage } from '../src/index.ts';

const where = new WeakMap<StorageAdapter, { factory: IDBFactory; name: string }>();
let counter = 0;

async function openFresh(): Promise<StorageAdapter> {
  const factory = new IDBFactory();
  const name = `schoolmesh-test-${++counter}`;
  const s = await openIdbStorage(name, { indexedDB: factory });
  where.set(s, { factory, name });
  return s;
}

async function reopen(closed: StorageAdapter): Promise<StorageAdapter> {
  const at = where.get(closed)!;
  const s = await openIdbStorage(at.name, { indexedDB: at.factory });
  where.set(s, at);
  return s;
}

storageAcceptanceSuite('IndexedDB (fake-indexeddb)', openFresh, reopen);

describe('IndexedDB specifics', () => {
  it('IDBKeyRange.bound(prefix, [...prefix, []]) is exactly the prefix subtree', () => {
    const range = IDBKeyRange.bound(['a'], ['a', []], false, true);
    expect(range.includes(['a'])).toBe(true);
    expect(range.includes(['a', 'b'])).toBe(true);
    expect(range.includes(['a', '\uFFFF', '\uFFFF'])).toBe(true);
    expect(range.includes(['a\u0001'])).toBe(false);
    expect(range.includes(['ab'])).toBe(false);
    expect(range.includes(['B'])).toBe(false);
    const all = IDBKeyRange.bound([], [[]], false, true);
    expect(all.includes(['\uFFFF', '\uFFFF'])).toBe(true);
  });

  it('databases with different names are independent; delete removes the data', async () => {
    const factory = new IDBFactory();
    const a = await openIdbStorage('a', { indexedDB: factory });
    const b = await openIdbStorage('b', { indexedDB: factory });
    await a.save(['k'], Uint8Array.of(1));
    expect(await b.load(['k'])).toBeUndefined();
    await b.close();
    await a.close();
    await deleteIdbStorage('a', { indexedDB: factory });
    const again = await openIdbStorage('a', { indexedDB: factory });
    expect(await again.keys([])).toEqual([]);
    await again.close();
  });

  it('an open adapter steps aside when its database is deleted', async () => {
    const factory = new IDBFactory();
    const s = await openIdbStorage('x', { indexedDB: factory });
    await s.save(['k'], Uint8Array.of(1));
    await deleteIdbStorage('x', { indexedDB: factory }); // would block forever if s kept the connection
    await expect(s.load(['k'])).rejects.toMatchObject({ code: 'closed' });
  });

  it('a failing transaction surfaces as StorageError("io") and writes nothing', async () => {
    const factory = new IDBFactory();
    const s = await openIdbStorage('fail', { indexedDB: factory });
    await s.save(['keep'], Uint8Array.of(1));
    // Make the structured clone of the 2nd put throw mid-batch, after the 1st put was issued.
    const poisoned = Uint8Array.of(2);
    const original = IDBObjectStore.prototype.put;
    let calls = 0;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      if (++calls === 2) throw new DOMException('simulated', 'DataCloneError');
      return original.apply(this, args);
    };
    try {
      const err = await s.batch([
        { type: 'put', key: ['x', '1'], data: Uint8Array.of(1) },
        { type: 'put', key: ['x', '2'], data: poisoned },
        { type: 'del', key: ['keep'] },
      ]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).code).toBe('io');
    } finally {
      IDBObjectStore.prototype.put = original;
    }
    expect(await s.keys([])).toEqual([['keep']]);
    await s.close();
  });

  it('rejects with StorageError("io") when IndexedDB is missing', async () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'indexedDB');
    Reflect.deleteProperty(globalThis, 'indexedDB');
    try {
      await expect(openIdbStorage('nope')).rejects.toMatchObject({ code: 'io' });
    } finally {
      if (saved) Object.defineProperty(globalThis, 'indexedDB', saved);
    }
  });
});
