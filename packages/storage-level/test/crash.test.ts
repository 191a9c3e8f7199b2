import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openLevelStorage } from '../src/index.ts';
import { BATCH, GROUP_BATCH, WRITERS, groupPayload, pad, payload } from './fixtures/crash-shared.ts';

const root = mkdtempSync(join(tmpdir(), 'schoolmesh-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const writer = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
const groupWriter = fileURLToPath(new URL('./fixtures/crash-group-writer.ts', import.meta.url));

/** Runs the writer until it has acked `killAfter` batches, SIGKILLs it, returns every acked batch index. */
function runAndKill(directory: string, round: number, killAfter: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, directory, String(round)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked: number[] = [];
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const m = /^acked (\d+)$/.exec(line);
        if (!m) continue;
        acked.push(Number(m[1]));
        if (acked.length === killAfter) child.kill('SIGKILL'); // right after an ack, mid-stream
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      // Lines already in the pipe when the kill landed are acks too; they are counted above.
      if (signal !== 'SIGKILL') reject(new Error(`writer exited with ${code}/${signal}: ${stderr}`));
      else resolve(acked);
    });
  });
}

describe('LevelDB crash durability', () => {
  it('every batch acked before SIGKILL is there after reopen, and no batch is torn', async () => {
    const directory = join(root, 'db');
    for (const [round, killAfter] of [[1, 1], [2, 25], [3, 80]] as const) {
      const acked = await runAndKill(directory, round, killAfter);
      expect(acked.length).toBeGreaterThanOrEqual(killAfter);
      const storage = await openLevelStorage(directory);
      try {
        for (const i of acked) {
          const records = await storage.loadRange(['crash', String(round), pad(i)]);
          expect(records.length, `acked batch ${i} of round ${round}`).toBe(BATCH);
          for (const [j, r] of records.entries()) expect(r.data).toEqual(payload(round, i, j));
        }
        // Batches in flight when the process died: all or nothing.
        const all = await storage.keys(['crash', String(round)]);
        const perBatch = new Map<string, number>();
        for (const k of all) perBatch.set(k[2]!, (perBatch.get(k[2]!) ?? 0) + 1);
        for (const [batch, count] of perBatch) expect(count, `batch ${batch}`).toBe(BATCH);
        expect(perBatch.size).toBeGreaterThanOrEqual(acked.length);
      } finally {
        await storage.close();
      }
    }
  });
});

interface GroupAck {
  writer: number;
  batch: number;
  /** The store's commit count when the ack was printed. */
  commits: number;
}

/** Runs the concurrent writer until `killAfter` acks, SIGKILLs it, returns every ack it printed. */
function runGroupAndKill(directory: string, round: number, killAfter: number): Promise<GroupAck[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', groupWriter, directory, String(round)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: GroupAck[] = [];
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const m = /^acked (\d+) (\d+) (\d+)$/.exec(line);
        if (!m) continue;
        acked.push({ writer: Number(m[1]), batch: Number(m[2]), commits: Number(m[3]) });
        if (acked.length === killAfter) child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`group writer exited with ${code}/${signal}: ${stderr}`));
      else resolve(acked);
    });
  });
}

describe('LevelDB group commit under SIGKILL', () => {
  it('concurrent writers sharing fsyncs: each acked batch is on disk after a kill, none torn', async () => {
    const directory = join(root, 'group');
    let grouped = false;
    for (const [round, killAfter] of [[1, 3], [2, 60], [3, 200]] as const) {
      const acked = await runGroupAndKill(directory, round, killAfter);
      expect(acked.length).toBeGreaterThanOrEqual(killAfter);
      // Fewer commits than acknowledged writes: batches of different writers went to disk together.
      const last = acked[acked.length - 1]!;
      if (last.commits < acked.length) grouped = true;
      const storage = await openLevelStorage(directory);
      try {
        for (const { writer: w, batch: i } of acked) {
          const records = await storage.loadRange(['group', String(round), pad(w), pad(i)]);
          expect(records.length, `acked batch ${i} of writer ${w}, round ${round}`).toBe(GROUP_BATCH);
          for (const [j, r] of records.entries()) expect(r.data).toEqual(groupPayload(round, w, i, j));
        }
        const perBatch = new Map<string, number>();
        for (const k of await storage.keys(['group', String(round)])) {
          const id = `${k[2]}/${k[3]}`;
          perBatch.set(id, (perBatch.get(id) ?? 0) + 1);
        }
        for (const [batch, count] of perBatch) expect(count, `batch ${batch}`).toBe(GROUP_BATCH);
        expect(perBatch.size).toBeGreaterThanOrEqual(acked.length);
        expect(new Set(acked.map((a) => a.writer)).size).toBeGreaterThan(1);
      } finally {
        await storage.close();
      }
    }
    expect(grouped, `${WRITERS} concurrent writers never shared a commit`).toBe(true);
  });
});
