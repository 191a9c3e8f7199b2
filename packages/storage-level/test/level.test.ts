import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageAcceptanceSuite } from '@schoolmesh/storage/acceptance';
import type { StorageAdapter } from '@schoolmesh/storage';
import { afterAll, describe, expect, it } from 'vitest';
import { openLevelStorage } from '../src/index.ts';

const root = mkdtempSync(join(tmpdir(), 'schoolmesh-level-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const dirs = new WeakMap<StorageAdapter, string>();
let counter = 0;

async function openFresh(): Promise<StorageAdapter> {
  const dir = join(root, `db-${++counter}`);
  const s = await openLevelStorage(dir);
  dirs.set(s, dir);
  return s;
}

async function reopen(closed: StorageAdapter): Promise<StorageAdapter> {
  const dir = dirs.get(closed)!;
  const s = await openLevelStorage(dir);
  dirs.set(s, dir);
  return s;
}

storageAcceptanceSuite('LevelDB (classic-level)', openFresh, reopen);

storageAcceptanceSuite('LevelDB (classic-level, sync: true)', async () => {
  const dir = join(root, `sync-${++counter}`);
  const s = await openLevelStorage(dir, { sync: true });
  dirs.set(s, dir);
  return s;
});

describe('LevelDB specifics', () => {
  it('a second open of the same directory fails with StorageError("io")', async () => {
    const s = await openFresh();
    await expect(openLevelStorage(dirs.get(s)!)).rejects.toMatchObject({ code: 'io' });
    await s.close();
  });

  it('writes issued while one is in flight share one commit, in call order, each resolved only once written', async () => {
    const dir = join(root, `group-${++counter}`);
    const s = await openLevelStorage(dir, { sync: true });
    const order: number[] = [];
    const writes = Array.from({ length: 40 }, (_, i) =>
      (i % 10 === 9 ? s.removeRange(['k']) : s.save(['k', String(i).padStart(3, '0')], Uint8Array.of(i))).then(() => order.push(i)),
    );
    await Promise.all(writes);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    const { writes: done, commits } = s.writeStats();
    expect(done).toBe(40);
    expect(commits).toBeLessThan(40);
    expect(commits).toBeGreaterThanOrEqual(2);
    // Applied in call order: the last removeRange (i = 39) deleted everything before it.
    expect(await s.keys(['k'])).toEqual([]);
    await s.save(['k', 'x'], Uint8Array.of(1));
    await s.close();
    const again = await openLevelStorage(dir);
    expect((await again.loadRange(['k'])).map((r) => r.key)).toEqual([['k', 'x']]);
    await again.close();
  });
});
