/**
 * Smoke test of the web benchmark's helpers (the benchmark itself is `npm run bench -- web`, never part of
 * `npm test`): thread CPU from /proc, the CPU profile summaries, the throttled estimate, the page probe's source,
 * and the initial-JS measurement the benchmark, the e2e test and `npm run check:bundle` share.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { initialJs } from '../support/initial-js.ts';
import { type CpuProfile, busyMs, hotspots } from './cpu-profile.ts';
import { cpuByName, processTree, sumMatching, threadTimes } from './threads.ts';
import { pageProbe, throttledEstimate } from './web-probe.ts';

describe('web benchmark helpers', () => {
  it('reads per-thread CPU time of a process tree, and sees this thread work', () => {
    const pids = processTree(process.pid);
    expect(pids[0]).toBe(process.pid);
    const before = threadTimes(pids);
    expect(before.size).toBeGreaterThan(0);
    let x = 0;
    for (let i = 0; i < 2e7; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    const used = cpuByName(before, threadTimes(pids));
    const main = before.get(`${process.pid}/${process.pid}`)!.name;
    expect(used.get(main)).toBeGreaterThan(0);
  });

  it('adds the unthrottled threads, and only those, slowed by the rate', () => {
    const cpu = new Map([
      ['SharedWorker th', 100],
      ['WebCrypto', 20],
      ['ServiceWorker t', 5],
      ['ThreadPoolForeg', 400],
      ['chromium', 900],
    ]);
    expect(sumMatching(cpu, /^ThreadPool/)).toBe(400);
    expect(throttledEstimate(1000, cpu, 4)).toBe(1000 + 3 * 125);
    expect(throttledEstimate(1000, cpu, 1)).toBe(1000);
  });

  it('sums a CPU profile without its idle samples and ranks functions by self time', () => {
    const frame = (functionName: string) => ({ functionName, url: 'http://127.0.0.1/assets/engine-worker.js', lineNumber: 9 });
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(idle)') },
        { id: 2, callFrame: frame('openBucket') },
        { id: 3, callFrame: frame('chats') },
      ],
      startTime: 0,
      endTime: 10_000,
      samples: [1, 2, 2, 3, 1],
      timeDeltas: [1000, 2000, 3000, 500, 4000],
    };
    expect(busyMs(profile)).toBe(5.5);
    expect(hotspots(profile)).toEqual([
      { name: 'openBucket engine-worker.js:10', ms: 5 },
      { name: 'chats engine-worker.js:10', ms: 0.5 },
    ]);
  });

  it('gives the page a probe that is plain JavaScript', () => {
    const source = pageProbe({ groups: 30, marker: 'Zum Schluss: "bitte" pünktlich' });
    expect(() => new Function(source)).not.toThrow();
    expect(source).toContain(JSON.stringify('Zum Schluss: "bitte" pünktlich'));
  });

  it('counts the entry, its static imports and the engine worker as initial JS, not lazy chunks', async () => {
    const dist = await mkdtemp(join(tmpdir(), 'schoolmesh-initial-js-'));
    try {
      await mkdir(join(dist, 'assets'));
      await writeFile(join(dist, 'index.html'), '<script type="module" crossorigin src="/assets/index-a.js"></script>');
      await writeFile(join(dist, 'assets', 'index-a.js'), 'import{x}from"./shared-b.js";new SharedWorker(new URL("/assets/engine-worker-c.js",import.meta.url));import("./en-d.js");');
      await writeFile(join(dist, 'assets', 'shared-b.js'), `export const x = ${JSON.stringify('a'.repeat(5000))};`);
      await writeFile(join(dist, 'assets', 'engine-worker-c.js'), 'import"./shared-b.js";onconnect=()=>{};');
      await writeFile(join(dist, 'assets', 'en-d.js'), 'export const templates = {};');
      const report = await initialJs(dist);
      expect(report.files.map((f) => f.file).sort()).toEqual(['assets/engine-worker-c.js', 'assets/index-a.js', 'assets/shared-b.js']);
      const gzip = report.files.reduce((n, f) => n + f.gzip, 0);
      expect(report.files.find((f) => f.file === 'assets/shared-b.js')!.gzip).toBe(gzipSync(`export const x = ${JSON.stringify('a'.repeat(5000))};`, { level: 9 }).length);
      expect(report.initialJsGzipKb).toBe(Math.round((gzip / 1024) * 10) / 10);
    } finally {
      await rm(dist, { recursive: true, force: true });
    }
  });
});
