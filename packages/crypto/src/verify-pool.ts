/**
 * Ed25519 verification off the main thread, in batches (Node only). A WebCrypto `verify` call costs the calling
 * thread ~40-70 µs of promise and job bookkeeping besides the check itself (measured: docs/benchmarks.md), and a
 * catch-up checks thousands of signatures: that bookkeeping alone was ~0.4 s of the catch-up's main thread. Here
 * every check requested within one turn of the event loop goes to worker threads as one message; each worker runs
 * Node's own `crypto.verify` (the same OpenSSL Ed25519, strict RFC 8032, that backs Node's WebCrypto) and answers
 * with one byte per check. No cryptography is implemented here: this only moves the calls.
 *
 * Browsers (no `node:worker_threads`) and the forced noble fallback never come here; if a worker fails, pending and
 * later checks fall back to WebCrypto in the caller.
 */

interface Job {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
  resolve: (ok: boolean | undefined) => void;
}

interface NodeWorker {
  postMessage(value: unknown, transfer?: readonly ArrayBuffer[]): void;
  on(event: 'message', listener: (value: { id: number; results: Uint8Array }) => void): void;
  on(event: 'error' | 'exit', listener: (value: unknown) => void): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
}

type WorkerThreads = { Worker: new (code: string, options: { eval: true }) => NodeWorker };
type NodeOs = { availableParallelism?: () => number; cpus(): unknown[] };

/** The worker: CommonJS source run with `eval`, so it needs no file on disk and no TypeScript loader. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map();
function keyFor(raw) {
  const id = raw.toString('latin1');
  let key = keys.get(id);
  if (key === undefined) {
    try { key = crypto.createPublicKey({ key: Buffer.concat([SPKI, raw]), format: 'der', type: 'spki' }); }
    catch { key = null; }
    if (keys.size >= 4096) keys.delete(keys.keys().next().value);
    keys.set(id, key);
  }
  return key;
}
parentPort.on('message', ({ id, data, count }) => {
  const bytes = Buffer.from(data);
  const results = new Uint8Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const raw = bytes.subarray(at, at + 32);
    const signature = bytes.subarray(at + 32, at + 96);
    const length = bytes.readUInt32LE(at + 96);
    const message = bytes.subarray(at + 100, at + 100 + length);
    at += 100 + length;
    const key = keyFor(raw);
    let ok = false;
    if (key) { try { ok = crypto.verify(null, message, key, signature); } catch { ok = false; } }
    results[i] = ok ? 1 : 0;
  }
  parentPort.postMessage({ id, results }, [results.buffer]);
});
`;

const getBuiltin = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;

function load<T>(id: string): T | undefined {
  try {
    return getBuiltin?.(id) as T | undefined;
  } catch {
    return undefined;
  }
}

/** Most checks in one message to a worker (bounds the latency of the first answers of a large batch). */
const MAX_BATCH = 512;

class VerifyPool {
  private readonly workers: NodeWorker[] = [];
  /** Batches sent to each worker and not answered yet: a worker is ref'd exactly while it has some. */
  private readonly busy: number[] = [];
  private readonly waiting = new Map<number, { jobs: Job[]; worker: number }>();
  private queue: Job[] = [];
  private scheduled = false;
  private nextId = 1;
  private next = 0;
  failed = false;

  constructor(threads: WorkerThreads, size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new threads.Worker(WORKER_SOURCE, { eval: true });
      const index = i;
      worker.on('message', ({ id, results }) => {
        const batch = this.waiting.get(id);
        this.waiting.delete(id);
        if (!batch) return;
        if (--this.busy[index]! === 0) worker.unref();
        for (let j = 0; j < batch.jobs.length; j++) batch.jobs[j]!.resolve(results[j] === 1);
      });
      const fail = () => this.fail();
      worker.on('error', fail);
      worker.on('exit', fail);
      // After the listeners (adding a 'message' listener refs the worker again): an idle pool never keeps the
      // process alive, a pool with checks under way does.
      worker.unref();
      this.workers.push(worker);
      this.busy.push(0);
    }
  }

  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean | undefined> {
    if (this.failed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.queue.push({ publicKey, message, signature, resolve });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const jobs = this.queue;
    this.queue = [];
    if (this.failed) {
      for (const job of jobs) job.resolve(undefined);
      return;
    }
    // Spread a batch over the workers so that they check it in parallel.
    const per = Math.min(MAX_BATCH, Math.ceil(jobs.length / this.workers.length));
    for (let i = 0; i < jobs.length; i += per) this.send(jobs.slice(i, i + per));
  }

  private send(jobs: Job[]): void {
    let size = 0;
    for (const job of jobs) size += 100 + job.message.length;
    const data = new Uint8Array(size);
    const view = new DataView(data.buffer);
    let at = 0;
    for (const job of jobs) {
      data.set(job.publicKey, at);
      data.set(job.signature, at + 32);
      view.setUint32(at + 96, job.message.length, true);
      data.set(job.message, at + 100);
      at += 100 + job.message.length;
    }
    const id = this.nextId++;
    const index = this.next++ % this.workers.length;
    const worker = this.workers[index]!;
    this.waiting.set(id, { jobs, worker: index });
    if (this.busy[index]!++ === 0) worker.ref();
    worker.postMessage({ id, data: data.buffer, count: jobs.length }, [data.buffer]);
  }

  private fail(): void {
    if (this.failed) return;
    this.failed = true;
    for (const { jobs } of this.waiting.values()) for (const job of jobs) job.resolve(undefined);
    this.waiting.clear();
    for (const w of this.workers) void w.terminate().catch(() => {});
  }
}

let pool: VerifyPool | undefined;
let disabled = false;

/**
 * Checks a signature on a worker thread. Resolves with the verdict, or undefined when no pool is available here
 * (browser, pool failed or disabled): the caller then checks it itself.
 */
export function verifyOnPool(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean | undefined> {
  if (disabled) return Promise.resolve(undefined);
  if (!pool) {
    const threads = load<WorkerThreads>('node:worker_threads');
    if (!threads?.Worker) {
      disabled = true;
      return Promise.resolve(undefined);
    }
    const os = load<NodeOs>('node:os');
    const cores = os?.availableParallelism?.() ?? os?.cpus().length ?? 2;
    try {
      pool = new VerifyPool(threads, Math.max(1, Math.min(4, cores)));
    } catch {
      disabled = true;
      return Promise.resolve(undefined);
    }
  }
  return pool.verify(publicKey, message, signature);
}

/** Test hook: turn the worker pool off (false) or on again (true, the default where available). */
export function useVerifyPool(enabled: boolean): void {
  disabled = !enabled;
}
