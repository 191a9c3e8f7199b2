/**
 * The shared acceptance suite. Every StorageAdapter implementation runs it from its own tests:
 *
 *   storageAcceptanceSuite('level', () => openLevelStorage(freshDir()), (closed) => reopenSameDir(closed));
 *
 * `open` must return a new, empty store each call. `reopen`, when given, receives an adapter the
 * suite has already closed and must return a new adapter over the same data (durability tests).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageError } from './errors.ts';
import type { StorageAdapter, StorageKey, StorageOp, StorageRecord } from './types.ts';

const bytes = (...values: number[]) => Uint8Array.from(values);
const utf8 = (s: string) => new TextEncoder().encode(s);

/** Keys in their one correct order (UTF-16 code units, element-wise, shorter prefix first). */
export const ORDERED_KEYS: readonly StorageKey[] = [
  ['\u0001'],
  ['1', '2', '3', '4', '5', '6', '7', '8'], // the longest legal key
  ['B'], // 'B' (0x42) < 'a' (0x61)
  ['a'],
  ['a', 'b'],
  ['a', 'b', 'c'],
  ['a', 'c'],
  ['a', '\u{1F600}'], // surrogate pair D83D DE00 ...
  ['a', '\uFFFF'], // ... sorts before U+FFFF in UTF-16 (in UTF-8 it would sort after)
  ['a\u0001'], // ['a','b'] < ['a\u0001']: the element 'a' ends before 'a\u0001' does
  ['ab'],
  ['b'],
  ['\u00E9'],
  ['\u00FF'],
  ['\u0100'],
  ['\uD800'], // a lone high surrogate is a legal JS string element
  ['\u{1F600}'],
  ['\u{1F600}', 'x'],
  ['\u{1F601}'],
  ['\uE000'], // private use: above every surrogate in UTF-16, below U+10000+ in UTF-8
  ['\uFFFF'],
  ['\uFFFF', '\uFFFF'],
]; // literal; a test below checks it against an independent comparator

const BAD_KEYS: readonly unknown[] = [
  [],
  [''],
  ['a', ''],
  ['a\u0000'],
  ['\u0000'],
  ['1', '2', '3', '4', '5', '6', '7', '8', '9'],
  [1],
  ['a', null],
  'a',
  undefined,
  null,
];
const BAD_PREFIXES: readonly unknown[] = BAD_KEYS.filter((k) => !(Array.isArray(k) && k.length === 0));

/** Independent reference order: code unit by code unit, no use of the implementation under test. */
function referenceCompare(a: StorageKey, b: StorageKey): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    for (let j = 0; j < Math.min(x.length, y.length); j++) {
      const d = x.charCodeAt(j) - y.charCodeAt(j);
      if (d !== 0) return d;
    }
    if (x.length !== y.length) return x.length - y.length;
  }
  return a.length - b.length;
}

function startsWith(key: StorageKey, prefix: StorageKey): boolean {
  return key.length >= prefix.length && prefix.every((p, i) => key[i] === p);
}

async function expectStorageError(promise: Promise<unknown>, code: StorageError['code']): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected StorageError(${code})`).toBeInstanceOf(StorageError);
  expect((caught as StorageError).code).toBe(code);
}

const plain = (records: StorageRecord[]) => records.map((r) => ({ key: [...r.key], data: [...r.data] }));

/** A simple reference model: a Map, filtered and sorted on every query. */
class ModelStore {
  readonly map = new Map<string, { key: StorageKey; data: Uint8Array }>();
  save(key: StorageKey, data: Uint8Array) {
    this.map.set(JSON.stringify(key), { key, data });
  }
  remove(key: StorageKey) {
    this.map.delete(JSON.stringify(key));
  }
  removeRange(prefix: StorageKey) {
    for (const [id, r] of this.map) if (startsWith(r.key, prefix)) this.map.delete(id);
  }
  load(key: StorageKey) {
    return this.map.get(JSON.stringify(key))?.data;
  }
  range(prefix: StorageKey, options: { limit?: number; after?: StorageKey; reverse?: boolean } = {}) {
    let out = [...this.map.values()].filter((r) => startsWith(r.key, prefix));
    out.sort((a, b) => referenceCompare(a.key, b.key));
    if (options.reverse) out.reverse();
    const after = options.after;
    if (after) {
      out = out.filter((r) => (options.reverse ? referenceCompare(r.key, after) < 0 : referenceCompare(r.key, after) > 0));
    }
    if (options.limit !== undefined) out = out.slice(0, options.limit);
    return out;
  }
}

type ModelOp =
  | { t: 'save'; key: StorageKey; data: Uint8Array }
  | { t: 'remove'; key: StorageKey }
  | { t: 'removeRange'; prefix: StorageKey }
  | { t: 'batch'; ops: StorageOp[]; poisonAt: number | null }
  | { t: 'load'; key: StorageKey }
  | { t: 'loadRange'; prefix: StorageKey; limit: number | undefined; after: StorageKey | undefined; reverse: boolean }
  | { t: 'keys'; prefix: StorageKey }
  | { t: 'reopen' };

export function storageAcceptanceSuite(
  name: string,
  open: () => Promise<StorageAdapter>,
  reopen?: (closed: StorageAdapter) => Promise<StorageAdapter>,
): void {
  describe(`${name}: StorageAdapter acceptance`, () => {
    const live = new Set<StorageAdapter>();
    const fresh = async () => {
      const s = await open();
      live.add(s);
      return s;
    };
    const cycle = async (s: StorageAdapter) => {
      await s.close();
      live.delete(s);
      const next = await reopen!(s);
      live.add(next);
      return next;
    };
    afterEach(async () => {
      for (const s of live) await s.close();
      live.clear();
    });

    describe('save / load / remove', () => {
      it('round-trips, overwrites and removes', async () => {
        const s = await fresh();
        expect(await s.load(['doc', '1'])).toBeUndefined();
        await s.save(['doc', '1'], bytes(1, 2, 3));
        expect(await s.load(['doc', '1'])).toEqual(bytes(1, 2, 3));
        expect(await s.load(['doc'])).toBeUndefined();
        expect(await s.load(['doc', '1', 'x'])).toBeUndefined();
        await s.save(['doc', '1'], bytes(9));
        expect(await s.load(['doc', '1'])).toEqual(bytes(9));
        await s.remove(['doc', '1']);
        expect(await s.load(['doc', '1'])).toBeUndefined();
        await s.remove(['doc', '1']); // removing a missing key is not an error
        expect(await s.keys([])).toEqual([]);
      });

      it('stores empty and large values and returns plain Uint8Arrays', async () => {
        const s = await fresh();
        const big = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff);
        await s.save(['empty'], new Uint8Array(0));
        await s.save(['big'], big);
        const empty = await s.load(['empty']);
        expect(empty).toBeInstanceOf(Uint8Array);
        expect(empty!.byteLength).toBe(0);
        const back = await s.load(['big']);
        expect(back).toBeInstanceOf(Uint8Array);
        expect(back!.byteLength).toBe(big.byteLength);
        expect(Buffer.compare(back!, big)).toBe(0);
      });

      it('handles many concurrent writes', async () => {
        const s = await fresh();
        await Promise.all(Array.from({ length: 200 }, (_, i) => s.save(['c', String(i).padStart(3, '0')], bytes(i & 0xff))));
        const keys = await s.keys(['c']);
        expect(keys).toHaveLength(200);
        expect(keys[199]).toEqual(['c', '199']);
      });
    });

    describe('order', () => {
      it('the literal expected order agrees with the reference comparator', () => {
        for (let i = 1; i < ORDERED_KEYS.length; i++) {
          expect(referenceCompare(ORDERED_KEYS[i - 1]!, ORDERED_KEYS[i]!), JSON.stringify(ORDERED_KEYS[i])).toBeLessThan(0);
        }
      });

      it('returns keys element-wise by UTF-16 code units, shorter prefix first', async () => {
        const s = await fresh();
        const shuffled = [...ORDERED_KEYS].reverse();
        [shuffled[3], shuffled[10]] = [shuffled[10]!, shuffled[3]!];
        for (const [i, key] of shuffled.entries()) await s.save(key, bytes(i));
        expect(await s.keys([])).toEqual(ORDERED_KEYS.map((k) => [...k]));
        const records = await s.loadRange([]);
        expect(records.map((r) => [...r.key])).toEqual(ORDERED_KEYS.map((k) => [...k]));
        const reversed = await s.loadRange([], { reverse: true });
        expect(reversed.map((r) => [...r.key])).toEqual(ORDERED_KEYS.map((k) => [...k]).reverse());
        for (const key of ORDERED_KEYS) expect(await s.load(key)).toEqual(bytes(shuffled.indexOf(key)));
      });

      it('prefix ranges are element-wise: [a] selects [a] and [a,…] but not [ab] or [a\\u0001]', async () => {
        const s = await fresh();
        for (const key of ORDERED_KEYS) await s.save(key, utf8(JSON.stringify(key)));
        expect(await s.keys(['a'])).toEqual([['a'], ['a', 'b'], ['a', 'b', 'c'], ['a', 'c'], ['a', '\u{1F600}'], ['a', '\uFFFF']]);
        expect(await s.keys(['a', 'b'])).toEqual([['a', 'b'], ['a', 'b', 'c']]);
        expect(await s.keys(['\u{1F600}'])).toEqual([['\u{1F600}'], ['\u{1F600}', 'x']]);
        expect(await s.keys(['\uD800'])).toEqual([['\uD800']]);
        expect(await s.keys(['\uFFFF'])).toEqual([['\uFFFF'], ['\uFFFF', '\uFFFF']]);
        expect(await s.keys(['zzz'])).toEqual([]);
        expect(await s.keys(['1', '2', '3', '4', '5', '6', '7', '8'])).toEqual([['1', '2', '3', '4', '5', '6', '7', '8']]);
        const records = await s.loadRange(['a', 'b']);
        expect(records.map((r) => new TextDecoder().decode(r.data))).toEqual(['["a","b"]', '["a","b","c"]']);
      });
    });

    describe('loadRange', () => {
      const keys: StorageKey[] = [['p'], ['p', '1'], ['p', '2'], ['p', '2', 'x'], ['p', '3'], ['p', '4']];
      const seed = async () => {
        const s = await fresh();
        await s.save(['o'], bytes(0));
        await s.save(['p\u0001'], bytes(0));
        await s.save(['q'], bytes(0));
        for (const [i, k] of keys.entries()) await s.save(k, bytes(i));
        return s;
      };
      const ks = (records: StorageRecord[]) => records.map((r) => [...r.key]);

      it('limit', async () => {
        const s = await seed();
        expect(ks(await s.loadRange(['p']))).toEqual(keys);
        expect(ks(await s.loadRange(['p'], { limit: 2 }))).toEqual(keys.slice(0, 2));
        expect(ks(await s.loadRange(['p'], { limit: 0 }))).toEqual([]);
        expect(ks(await s.loadRange(['p'], { limit: 100 }))).toEqual(keys);
        expect(ks(await s.loadRange(['p'], { limit: 2, reverse: true }))).toEqual([['p', '4'], ['p', '3']]);
        expect((await s.loadRange(['p'], { limit: 1 }))[0]!.data).toEqual(bytes(0));
      });

      it('after is an exclusive cursor in iteration direction', async () => {
        const s = await seed();
        expect(ks(await s.loadRange(['p'], { after: ['p', '2'] }))).toEqual([['p', '2', 'x'], ['p', '3'], ['p', '4']]);
        expect(ks(await s.loadRange(['p'], { after: ['p', '2'], reverse: true }))).toEqual([['p', '1'], ['p']]);
        expect(ks(await s.loadRange(['p'], { after: ['p', '2', 'x'], limit: 1 }))).toEqual([['p', '3']]);
        // a cursor key that is not stored still cuts at its position
        expect(ks(await s.loadRange(['p'], { after: ['p', '25'] }))).toEqual([['p', '3'], ['p', '4']]);
        expect(ks(await s.loadRange(['p'], { after: ['p', '25'], reverse: true }))).toEqual([['p', '2', 'x'], ['p', '2'], ['p', '1'], ['p']]);
        // the prefix key itself
        expect(ks(await s.loadRange(['p'], { after: ['p'] }))).toEqual(keys.slice(1));
        expect(ks(await s.loadRange(['p'], { after: ['p'], reverse: true }))).toEqual([]);
        // cursors outside the prefix range
        expect(ks(await s.loadRange(['p'], { after: ['o'] }))).toEqual(keys);
        expect(ks(await s.loadRange(['p'], { after: ['o'], reverse: true }))).toEqual([]);
        expect(ks(await s.loadRange(['p'], { after: ['p\u0001'] }))).toEqual([]);
        expect(ks(await s.loadRange(['p'], { after: ['p\u0001'], reverse: true }))).toEqual([...keys].reverse());
        expect(ks(await s.loadRange([], { after: ['p', '4'] }))).toEqual([['p\u0001'], ['q']]);
        expect(ks(await s.loadRange([], { after: ['p'], reverse: true }))).toEqual([['o']]);
      });

      it('pages through a range with limit + after, both directions', async () => {
        const s = await seed();
        for (const reverse of [false, true]) {
          const seen: StorageKey[] = [];
          let after: StorageKey | undefined;
          for (;;) {
            const page = await s.loadRange(['p'], { limit: 2, reverse, ...(after ? { after } : {}) });
            if (page.length === 0) break;
            seen.push(...page.map((r) => [...r.key]));
            after = page[page.length - 1]!.key;
          }
          expect(seen).toEqual(reverse ? [...keys].reverse() : keys);
        }
      });

      it('rejects bad options', async () => {
        const s = await seed();
        await expect(s.loadRange(['p'], { limit: -1 })).rejects.toThrow(RangeError);
        await expect(s.loadRange(['p'], { limit: 1.5 })).rejects.toThrow(RangeError);
        await expectStorageError(s.loadRange(['p'], { after: ['p', ''] }), 'bad-key');
        await expectStorageError(s.loadRange(['p'], { after: [] }), 'bad-key');
      });
    });

    describe('keys and removeRange', () => {
      it('keys lists a prefix subtree in order without data', async () => {
        const s = await fresh();
        await s.save(['x', 'b'], bytes(1));
        await s.save(['x', 'a'], bytes(2));
        await s.save(['x'], bytes(3));
        await s.save(['xa'], bytes(4));
        expect(await s.keys(['x'])).toEqual([['x'], ['x', 'a'], ['x', 'b']]);
        expect(await s.keys([])).toEqual([['x'], ['x', 'a'], ['x', 'b'], ['xa']]);
      });

      it('removes exactly the prefix subtree', async () => {
        const s = await fresh();
        for (const key of ORDERED_KEYS) await s.save(key, bytes(1));
        await s.removeRange(['a']);
        const remaining = ORDERED_KEYS.filter((k) => k[0] !== 'a').map((k) => [...k]);
        expect(await s.keys([])).toEqual(remaining);
        expect(await s.load(['ab'])).toEqual(bytes(1));
        expect(await s.load(['a\u0001'])).toEqual(bytes(1));
        await s.removeRange(['\u{1F600}', 'x']);
        expect(await s.keys(['\u{1F600}'])).toEqual([['\u{1F600}']]);
        await s.removeRange(['nothing', 'here']);
        expect(await s.keys([])).toHaveLength(remaining.length - 1);
        await s.removeRange([]);
        expect(await s.keys([])).toEqual([]);
      });
    });

    describe('batch', () => {
      it('applies ops in order', async () => {
        const s = await fresh();
        await s.save(['a', 'old'], bytes(0));
        await s.save(['b'], bytes(0));
        await s.batch([
          { type: 'put', key: ['a', 'x'], data: bytes(1) },
          { type: 'del-range', prefix: ['a'] }, // removes the stored and the just-written key
          { type: 'put', key: ['a', 'y'], data: bytes(2) },
          { type: 'put', key: ['k'], data: bytes(1) },
          { type: 'put', key: ['k'], data: bytes(2) },
          { type: 'put', key: ['gone'], data: bytes(1) },
          { type: 'del', key: ['gone'] },
          { type: 'del', key: ['b'] },
          { type: 'del', key: ['never'] },
        ]);
        expect(plain(await s.loadRange([]))).toEqual([
          { key: ['a', 'y'], data: [2] },
          { key: ['k'], data: [2] },
        ]);
        await s.batch([]);
        expect(await s.keys([])).toHaveLength(2);
      });

      it('writes a large batch', async () => {
        const s = await fresh();
        const ops: StorageOp[] = Array.from({ length: 2000 }, (_, i) => ({ type: 'put', key: ['big', String(i).padStart(5, '0')], data: new Uint8Array(100).fill(i & 0xff) }));
        await s.batch(ops);
        expect(await s.keys(['big'])).toHaveLength(2000);
        expect(await s.load(['big', '01999'])).toEqual(new Uint8Array(100).fill(1999 & 0xff));
      });

      it('is all or nothing: an invalid op anywhere rejects the whole batch', async () => {
        const s = await fresh();
        await s.save(['keep'], bytes(7));
        const good: StorageOp[] = [
          { type: 'put', key: ['new', '1'], data: bytes(1) },
          { type: 'del', key: ['keep'] },
          { type: 'del-range', prefix: [] },
        ];
        for (const bad of BAD_KEYS) {
          await expectStorageError(s.batch([...good, { type: 'put', key: bad as StorageKey, data: bytes(1) }]), 'bad-key');
          await expectStorageError(s.batch([...good, { type: 'del', key: bad as StorageKey }]), 'bad-key');
        }
        for (const bad of BAD_PREFIXES) {
          await expectStorageError(s.batch([...good, { type: 'del-range', prefix: bad as StorageKey }]), 'bad-key');
        }
        await expect(s.batch([...good, { type: 'put', key: ['x'], data: 'text' as unknown as Uint8Array }])).rejects.toThrow(TypeError);
        await expect(s.batch([...good, { type: 'nope', key: ['x'] } as unknown as StorageOp])).rejects.toThrow(TypeError);
        await expect(s.batch([...good, null as unknown as StorageOp])).rejects.toThrow(TypeError);
        expect(plain(await s.loadRange([]))).toEqual([{ key: ['keep'], data: [7] }]);
      });
    });

    describe('data isolation', () => {
      it('copies on the way in and on the way out', async () => {
        const s = await fresh();
        const input = bytes(1, 2, 3);
        const pending = s.save(['k'], input);
        input[0] = 99; // mutate before the write has even resolved
        await pending;
        input[1] = 99;
        expect(await s.load(['k'])).toEqual(bytes(1, 2, 3));

        const out = (await s.load(['k']))!;
        out[0] = 42;
        expect(await s.load(['k'])).toEqual(bytes(1, 2, 3));

        const [record] = await s.loadRange(['k']);
        record!.data[0] = 42;
        (record!.key as string[])[0] = 'mutated';
        expect(await s.load(['k'])).toEqual(bytes(1, 2, 3));
        const [listed] = await s.keys(['k']);
        (listed as string[])[0] = 'mutated';
        expect(await s.keys([])).toEqual([['k']]);

        const batchData = bytes(5, 5);
        const batchKey = ['b', 'k'];
        const batching = s.batch([{ type: 'put', key: batchKey, data: batchData }]);
        batchData[0] = 0;
        batchKey[1] = 'other';
        await batching;
        expect(await s.load(['b', 'k'])).toEqual(bytes(5, 5));

        const mutableKey = ['m'];
        const saving = s.save(mutableKey, bytes(1));
        mutableKey[0] = 'n';
        await saving;
        expect(await s.keys(['m'])).toEqual([['m']]);
      });

      it('stores only the viewed bytes of a subarray', async () => {
        const s = await fresh();
        const backing = bytes(0, 1, 2, 3, 4, 5, 6, 7);
        await s.save(['view'], backing.subarray(2, 5));
        const back = (await s.load(['view']))!;
        expect(back).toEqual(bytes(2, 3, 4));
        expect(back.byteLength).toBe(3);
      });
    });

    describe('bad keys', () => {
      it('rejects malformed keys with StorageError("bad-key") in every method', async () => {
        const s = await fresh();
        for (const bad of BAD_KEYS) {
          const k = bad as StorageKey;
          await expectStorageError(s.save(k, bytes(1)), 'bad-key');
          await expectStorageError(s.load(k), 'bad-key');
          await expectStorageError(s.remove(k), 'bad-key');
        }
        for (const bad of BAD_PREFIXES) {
          const p = bad as StorageKey;
          await expectStorageError(s.loadRange(p), 'bad-key');
          await expectStorageError(s.keys(p), 'bad-key');
          await expectStorageError(s.removeRange(p), 'bad-key');
        }
        await expect(s.save(['k'], [1, 2] as unknown as Uint8Array)).rejects.toThrow(TypeError);
        expect(await s.keys([])).toEqual([]);
      });
    });

    describe('close', () => {
      it('rejects every operation after close with StorageError("closed"); close is idempotent', async () => {
        const s = await fresh();
        await s.save(['k'], bytes(1));
        await s.close();
        await s.close();
        await expectStorageError(s.load(['k']), 'closed');
        await expectStorageError(s.save(['k'], bytes(2)), 'closed');
        await expectStorageError(s.remove(['k']), 'closed');
        await expectStorageError(s.loadRange(['k']), 'closed');
        await expectStorageError(s.keys(['k']), 'closed');
        await expectStorageError(s.removeRange(['k']), 'closed');
        await expectStorageError(s.batch([{ type: 'put', key: ['k'], data: bytes(3) }]), 'closed');
      });
    });

    if (reopen) {
      describe('durability across reopen', () => {
        it('keeps every acknowledged write', async () => {
          let s = await fresh();
          await s.save(['a', '1'], bytes(1));
          await s.save(['a', '2'], bytes(2));
          await s.save(['b'], bytes(3));
          await s.save(['gone'], bytes(4));
          await s.remove(['gone']);
          await s.batch([
            { type: 'put', key: ['c', '1'], data: bytes(5) },
            { type: 'put', key: ['d'], data: bytes(6) },
            { type: 'del', key: ['a', '1'] },
          ]);
          await s.removeRange(['d']);
          s = await cycle(s);
          expect(plain(await s.loadRange([]))).toEqual([
            { key: ['a', '2'], data: [2] },
            { key: ['b'], data: [3] },
            { key: ['c', '1'], data: [5] },
          ]);
          await s.save(['e'], bytes(7));
          s = await cycle(s);
          expect(await s.load(['e'])).toEqual(bytes(7));
          expect(await s.keys([])).toHaveLength(4);
        });

        it('close waits for writes already in flight', async () => {
          let s = await fresh();
          const writes = [
            s.save(['w', '1'], bytes(1)),
            s.batch([{ type: 'put', key: ['w', '2'], data: bytes(2) }]),
            s.save(['w', '3'], bytes(3)),
          ];
          await s.close();
          await Promise.all(writes);
          live.delete(s);
          s = await reopen(s);
          live.add(s);
          expect(await s.keys(['w'])).toEqual([['w', '1'], ['w', '2'], ['w', '3']]);
        });
      });
    }

    describe('model-based (fast-check)', () => {
      const element = fc.constantFrom('a', 'b', 'a\u0001', 'ab', '\uE000', '\u{1F600}', '\uFFFF');
      const keyArb = fc.array(element, { minLength: 1, maxLength: 3 });
      const prefixArb = fc.array(element, { minLength: 0, maxLength: 2 });
      const dataArb = fc.uint8Array({ maxLength: 6 });
      const storageOpArb: fc.Arbitrary<StorageOp> = fc.oneof(
        { weight: 4, arbitrary: fc.record({ type: fc.constant('put' as const), key: keyArb, data: dataArb }) },
        { weight: 2, arbitrary: fc.record({ type: fc.constant('del' as const), key: keyArb }) },
        { weight: 1, arbitrary: fc.record({ type: fc.constant('del-range' as const), prefix: prefixArb }) },
      );
      const opArbs: fc.Arbitrary<ModelOp>[] = [
        fc.record({ t: fc.constant('save' as const), key: keyArb, data: dataArb }),
        fc.record({ t: fc.constant('save' as const), key: keyArb, data: dataArb }),
        fc.record({ t: fc.constant('remove' as const), key: keyArb }),
        fc.record({ t: fc.constant('removeRange' as const), prefix: prefixArb }),
        fc.record({
          t: fc.constant('batch' as const),
          ops: fc.array(storageOpArb, { maxLength: 6 }),
          poisonAt: fc.option(fc.nat({ max: 6 }), { freq: 4, nil: null }),
        }),
        fc.record({ t: fc.constant('load' as const), key: keyArb }),
        fc.record({
          t: fc.constant('loadRange' as const),
          prefix: prefixArb,
          limit: fc.option(fc.nat({ max: 4 }), { nil: undefined }),
          after: fc.option(keyArb, { nil: undefined }),
          reverse: fc.boolean(),
        }),
        fc.record({ t: fc.constant('keys' as const), prefix: prefixArb }),
      ];
      if (reopen) opArbs.push(fc.constant({ t: 'reopen' as const }));

      it('matches a reference model over random op sequences (seeded, 200 runs)', async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(fc.oneof(...opArbs), { minLength: 1, maxLength: 30 }), async (ops) => {
            const model = new ModelStore();
            let s = await open();
            try {
              for (const op of ops) {
                switch (op.t) {
                  case 'save':
                    await s.save(op.key, op.data);
                    model.save(op.key, op.data);
                    break;
                  case 'remove':
                    await s.remove(op.key);
                    model.remove(op.key);
                    break;
                  case 'removeRange':
                    await s.removeRange(op.prefix);
                    model.removeRange(op.prefix);
                    break;
                  case 'batch': {
                    if (op.poisonAt !== null) {
                      const poisoned = [...op.ops];
                      poisoned.splice(Math.min(op.poisonAt, poisoned.length), 0, { type: 'put', key: ['ok', ''], data: new Uint8Array(1) });
                      await expectStorageError(s.batch(poisoned), 'bad-key');
                      break;
                    }
                    await s.batch(op.ops);
                    for (const o of op.ops) {
                      if (o.type === 'put') model.save(o.key, o.data);
                      else if (o.type === 'del') model.remove(o.key);
                      else model.removeRange(o.prefix);
                    }
                    break;
                  }
                  case 'load':
                    expect(await s.load(op.key)).toEqual(model.load(op.key));
                    break;
                  case 'loadRange': {
                    const options = { limit: op.limit, after: op.after, reverse: op.reverse };
                    expect(plain(await s.loadRange(op.prefix, options))).toEqual(plain(model.range(op.prefix, options)));
                    break;
                  }
                  case 'keys':
                    expect((await s.keys(op.prefix)).map((k) => [...k])).toEqual(model.range(op.prefix).map((r) => [...r.key]));
                    break;
                  case 'reopen':
                    await s.close();
                    s = await reopen!(s);
                    break;
                }
              }
              expect(plain(await s.loadRange([]))).toEqual(plain(model.range([])));
            } finally {
              await s.close();
            }
          }),
          { seed: 20261123, numRuns: 200 },
        );
      });
    });
  });
}
