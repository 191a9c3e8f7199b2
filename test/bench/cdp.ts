/**
 * A Chromium for the web benchmark that playwright-core drives and that the benchmark can also speak the DevTools
 * protocol to directly. Playwright's own sessions cannot reach a SharedWorker from its start: browser-level
 * auto-attach (the only way to catch a shared worker before its first line runs) needs flat sessions, which
 * playwright's CDPSession does not expose. So this starts Debian's Chromium with a DevTools port on 127.0.0.1,
 * connects playwright over CDP, and keeps a second, raw connection (`Cdp`) for the worker.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { WebSocket } from 'ws';
import { CHROMIUM, CHROMIUM_ARGS } from '../e2e/support.ts';

type Handler = (params: Record<string, unknown>, sessionId: string | undefined) => void;

/** A raw DevTools protocol connection to the browser target, with flat sessions for attached targets. */
export class Cdp {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; method: string }>();
  private readonly handlers = new Map<string, Set<Handler>>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: Record<string, unknown>; sessionId?: string };
      if (message.id !== undefined) {
        const w = this.waiting.get(message.id);
        if (!w) return;
        this.waiting.delete(message.id);
        if (message.error) w.reject(new Error(`${w.method}: ${message.error.message}`));
        else w.resolve(message.result);
        return;
      }
      if (message.method) for (const h of this.handlers.get(message.method) ?? []) h(message.params ?? {}, message.sessionId);
    });
    ws.on('close', () => {
      for (const w of this.waiting.values()) w.reject(new Error(`${w.method}: DevTools connection closed`));
      this.waiting.clear();
    });
  }

  static async connect(url: string): Promise<Cdp> {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 512 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Cdp(ws);
  }

  send<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, method });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  on(method: string, handler: Handler): () => void {
    const set = this.handlers.get(method) ?? new Set<Handler>();
    this.handlers.set(method, set);
    set.add(handler);
    return () => set.delete(handler);
  }

  close(): void {
    this.ws.close();
  }
}

export interface BenchBrowser {
  browser: Browser;
  /** The browser process: its process tree holds the renderers. */
  pid: number;
  cdp: Cdp;
  close(): Promise<void>;
}

/**
 * Debian's Chromium with the tests' flags (loopback only), a DevTools port on 127.0.0.1 chosen by Chromium, and
 * the flags playwright's own launch adds so that a benchmark is not slowed by background-tab throttling.
 */
export async function launchBenchChromium(): Promise<BenchBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'schoolmesh-bench-chromium-'));
  const child: ChildProcess = spawn(
    CHROMIUM,
    [
      ...CHROMIUM_ARGS,
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      '--disable-background-timer-throttling',
      '--disable-backgrounding-occluded-windows',
      '--disable-renderer-backgrounding',
      '--disable-ipc-flooding-protection',
      '--no-default-browser-check',
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await rm(profile, { recursive: true, force: true });
  };
  process.once('exit', () => {
    child.kill('SIGKILL');
    rmSync(profile, { recursive: true, force: true });
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`Chromium did not open its DevTools port:\n${text}`)), 30_000);
      child.stderr!.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      void exited.then(() => reject(new Error(`Chromium exited:\n${text}`)));
    });
    const browser = await chromium.connectOverCDP(url);
    const cdp = await Cdp.connect(url);
    return {
      browser,
      pid: child.pid!,
      cdp,
      close: async () => {
        cdp.close();
        await browser.close().catch(() => {});
        await kill();
      },
    };
  } catch (error) {
    await kill();
    throw error;
  }
}
