/**
 * Load-generator processes for the relay benchmark: each simulates the devices of some classes (see
 * relay-loadgen-worker.ts). Several processes spread the client side's memory and CPU; the parent drives them in
 * lock step (init, seed, connect up to n, fan-out, close).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from './relay-harness.ts';

export type ToWorker =
  | {
      cmd: 'init';
      mode: 'relay' | 'yws';
      firstClass: number;
      classes: number;
      /** Relay mode: where to dial, whom to trust, and the authority that certifies the simulated devices. */
      relay?: {
        tcp: string[];
        root: string;
        name: string;
        authoritySeed: string;
        authorityCert: string;
        /** How often each device's libp2p connection monitor pings the relay. */
        pingIntervalMs: number;
      };
      /** Baseline mode: the y-websocket server's URL. */
      url?: string;
    }
  | { cmd: 'seed' }
  | { cmd: 'connect'; upTo: number; concurrency: number }
  | { cmd: 'fanout'; startAt: number; seconds: number; warmupSeconds: number; totalClasses: number; rankStart: number; rankStep: number }
  | { cmd: 'close' };

export interface FanoutResult {
  type: 'fanout';
  classes: number;
  posted: number;
  postErrors: number;
  expectedDeliveries: number;
  delivered: number;
  measuredPosts: number;
  /** Post-to-receipt latencies (ms) of the posts after the warm-up, one per receiving device. */
  latencies: number[];
  /** Post-to-acknowledgement latencies (ms; relay only: the relay stored it). */
  acks: number[];
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Device sessions that closed before the end, by reason. */
  dropped: Record<string, number>;
}

export type ToParent =
  | { type: 'ready'; devices: number }
  | { type: 'seeded' }
  | { type: 'connected'; devices: number; failures: number; dropped: Record<string, number>; ms: number; rssMb: number }
  | FanoutResult
  | { type: 'closed' }
  | { type: 'error'; message: string };

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'relay-loadgen-worker.ts');

export class LoadGen {
  private readonly waiting: ((m: ToParent) => void)[] = [];
  private readonly child: ChildProcess;
  pid: number;

  constructor(maxHeapMb = 4096) {
    this.child = track(
      spawn(process.execPath, [`--max-old-space-size=${maxHeapMb}`, '--import', 'tsx', WORKER], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    this.pid = this.child.pid!;
    this.child.on('message', (m: ToParent) => {
      const waiter = this.waiting.shift();
      if (waiter) waiter(m);
    });
    this.child.once('exit', (code, signal) => {
      for (const w of this.waiting.splice(0)) w({ type: 'error', message: `load generator exited (${code ?? signal})` });
    });
  }

  /** Sends a command and resolves with the worker's answer (one answer per command, in order). */
  async request<T extends ToParent['type']>(command: ToWorker, expect: T): Promise<Extract<ToParent, { type: T }>> {
    const answer = new Promise<ToParent>((resolve) => this.waiting.push(resolve));
    this.child.send(command);
    const m = await answer;
    if (m.type === 'error') throw new Error(`load generator ${this.pid}: ${m.message}`);
    if (m.type !== expect) throw new Error(`load generator ${this.pid}: expected ${expect}, got ${m.type}`);
    return m as Extract<ToParent, { type: T }>;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.disconnect();
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  }
}
