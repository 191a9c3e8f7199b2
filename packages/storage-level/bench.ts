// Write throughput of the storage adapters: 10,000 records of 200 bytes, written either as
// batches of 500 (one transaction each) or as one save() per record, awaited one after another.
// Run: npx tsx packages/storage-level/bench.ts
import 'fake-indexeddb/auto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage, type StorageAdapter, type StorageOp } from '@schoolmesh/storage';
import { IDBFactory } from 'fake-indexeddb';
import { openIdbStorage } from '../storage-idb/src/index.ts';
import { openLevelStorage } from './src/index.ts';

const RECORDS = 10_000;
const BATCH = 500;
const RUNS = 3;
const data = new Uint8Array(200).map((_, i) => i);
const key = (run: number, i: number) => ['doc', `run${run}`, 'change', String(i).padStart(8, '0')];

async function batched(s: StorageAdapter, run: number) {
  for (let start = 0; start < RECORDS; start += BATCH) {
    const ops: StorageOp[] = [];
    for (let i = start; i < start + BATCH; i++) ops.push({ type: 'put', key: key(run, i), data });
    await s.batch(ops);
  }
}

async function single(s: StorageAdapter, run: number) {
  for (let i = 0; i < RECORDS; i++) await s.save(key(run, i), data);
}

const root = mkdtempSync(join(tmpdir(), 'schoolmesh-bench-'));
let n = 0;
const adapters: [string, () => Promise<StorageAdapter>][] = [
  ['level', () => openLevelStorage(join(root, `db-${++n}`))],
  ['level sync:true', () => openLevelStorage(join(root, `db-${++n}`), { sync: true })],
  ['idb (fake-indexeddb)', () => openIdbStorage(`bench-${++n}`, { indexedDB: new IDBFactory() })],
  ['memory', async () => new MemoryStorage()],
];
const only = process.argv[2]; // optional: run just the adapters whose name contains this

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${RECORDS} records x 200 B; batched = ${RECORDS / BATCH} batches of ${BATCH}; single = ${RECORDS} awaited save() calls`);
console.log(`median of ${RUNS} runs (fresh store each), after one warm-up run; node ${process.version}, ${process.platform}/${process.arch}`);
try {
  for (const [name, open] of adapters) {
    if (only && !name.includes(only)) continue;
    const row: string[] = [];
    for (const [mode, write] of [['batched', batched], ['single', single]] as const) {
      const rates: number[] = [];
      for (let run = 0; run <= RUNS; run++) {
        const s = await open();
        const t = performance.now();
        await write(s, run);
        const ms = performance.now() - t;
        await s.close();
        if (run > 0) rates.push(RECORDS / (ms / 1000));
      }
      row.push(`${mode}: ${Math.round(median(rates)).toLocaleString('en-US')} records/s`);
    }
    console.log(`${name.padEnd(22)} ${row.join('   ')}`);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
