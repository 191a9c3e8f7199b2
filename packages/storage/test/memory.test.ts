import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { storageAcceptanceSuite } from '../src/acceptance.ts';
import { MemoryStorage, StorageError, compareKeys, comparePrefixRange, hasPrefix, planRange, validateKey, validatePrefix } from '../src/index.ts';

storageAcceptanceSuite('MemoryStorage', async () => new MemoryStorage());

describe('keys', () => {
  it('compareKeys is element-wise by UTF-16 code units with shorter prefix first', () => {
    expect(compareKeys(['a'], ['a', 'b'])).toBeLessThan(0);
    expect(compareKeys(['a', 'b'], ['a\u0001'])).toBeLessThan(0);
    expect(compareKeys(['a\u0001'], ['b'])).toBeLessThan(0);
    expect(compareKeys(['\u{1F600}'], ['\uE000'])).toBeLessThan(0);
    expect(compareKeys(['x', 'y'], ['x', 'y'])).toBe(0);
    expect(compareKeys([], ['a'])).toBeLessThan(0);
  });

  it('comparePrefixRange agrees with compareKeys + hasPrefix', () => {
    const el = fc.constantFrom('a', 'b', 'ab', 'a\u0001');
    fc.assert(
      fc.property(fc.array(el, { maxLength: 3 }), fc.array(el, { maxLength: 3 }), (key, prefix) => {
        const pos = comparePrefixRange(key, prefix);
        if (hasPrefix(key, prefix)) expect(pos).toBe(0);
        else expect(pos).toBe(compareKeys(key, prefix) < 0 ? -1 : 1);
      }),
      { seed: 7, numRuns: 500 },
    );
  });

  it('validateKey / validatePrefix', () => {
    expect(() => validateKey(['a'])).not.toThrow();
    expect(() => validateKey(['\uD800'])).not.toThrow();
    expect(() => validateKey([])).toThrow(StorageError);
    expect(() => validatePrefix([])).not.toThrow();
    expect(() => validateKey(['a', ''])).toThrow(/element 1 is empty/);
    expect(() => validateKey(['a\u0000'])).toThrow(/U\+0000/);
    expect(() => validateKey(Array(9).fill('x'))).toThrow(/1 to 8/);
    try {
      validateKey('a');
    } catch (e) {
      expect((e as StorageError).code).toBe('bad-key');
    }
  });

  it('planRange reduces the cursor against the prefix range', () => {
    expect(planRange(['p'], { after: ['o'] })).toMatchObject({ empty: false, after: undefined });
    expect(planRange(['p'], { after: ['q'] })).toMatchObject({ empty: true });
    expect(planRange(['p'], { after: ['p'], reverse: true })).toMatchObject({ empty: true });
    expect(planRange(['p'], { after: ['p', 'x'] })).toMatchObject({ empty: false, after: ['p', 'x'] });
    expect(planRange(['p'], { limit: 0 })).toMatchObject({ empty: true });
  });
});

describe('MemoryStorage scale', () => {
  it('range reads on a large store do not scan it', async () => {
    const s = new MemoryStorage();
    const ops = Array.from({ length: 50_000 }, (_, i) => ({ type: 'put' as const, key: ['doc', String(i % 500), String(i).padStart(6, '0')], data: new Uint8Array(4) }));
    ops.sort((a, b) => compareKeys(a.key, b.key)); // appends, so building stays linear
    await s.batch(ops);
    expect(s.size).toBe(50_000);
    const t = performance.now();
    for (let i = 0; i < 2000; i++) await s.loadRange(['doc', String(i % 500)], { limit: 5 });
    const perCall = (performance.now() - t) / 2000;
    expect(perCall).toBeLessThan(0.5); // a full scan of 50k keys would take several ms per call
  });
});
