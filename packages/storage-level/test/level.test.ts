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
});
