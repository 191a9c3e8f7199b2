/**
 * Support for the web app's end-to-end tests: one vite build per test file into a temporary directory (so parallel
 * runs and a running `npm start` never see a half-written web/dist), Debian's Chromium through playwright-core,
 * and loopback-only flags.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { enroll, trustFor } from '@schoolmesh/client';
import { type Clock, Engine } from '@schoolmesh/engine';
import type { Role } from '@schoolmesh/model';
import { RelayLink, libp2pPrivateKey } from '@schoolmesh/net-libp2p';
import { createDeviceNode } from '@schoolmesh/net-libp2p/node';
import { MemoryStorage } from '@schoolmesh/storage';
import { multiaddr } from '@multiformats/multiaddr';
import AxeBuilder from '@axe-core/playwright';
import { type Browser, type BrowserContext, type CDPSession, type Locator, type Page, chromium } from 'playwright-core';
import { expect } from 'vitest';
import { type BundleReport, initialJs } from '../support/initial-js.ts';

export const root = resolve(import.meta.dirname, '../..');
export const artifacts = join(root, 'test', 'artifacts');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A fresh temporary directory for a build of the web app. */
export function webBuildDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'schoolmesh-web-'));
}

/** Builds the web app (vite) into `outDir` (a fresh temporary directory by default) and returns it; `extraArgs` go to `vite build`. */
export async function buildWeb(outDir?: string, extraArgs: readonly string[] = []): Promise<string> {
  outDir ??= await webBuildDir();
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const output: string[] = [];
  const code = await new Promise<number | null>((done) => {
    const child = spawn(process.execPath, [vite, 'build', '--config', join(root, 'web', 'vite.config.ts'), '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn', ...extraArgs], {
      cwd: join(root, 'web'),
      // vitest sets NODE_ENV=test, which would give a development build (lit's dev mode, no service worker).
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    child.once('exit', done);
  });
  if (code !== 0 || !existsSync(join(outDir, 'index.html'))) throw new Error(`vite build failed (${code}):\n${output.join('')}`);
  return outDir;
}

/** Chromium's flags for tests and benchmarks: headless, nothing that phones home, every host name but loopback unresolvable. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];

/**
 * Chromium with CHROMIUM_ARGS. WebRTC may use no UDP at all (the app's direct links try, and fall back to the relay),
 * unless `webrtc` is set: WebRTC tests run inside a loopback-only network namespace and allow loopback candidates
 * (test/e2e/webrtc.test.ts). `extraArgs`: more switches (a fake camera showing a video file, for example).
 */
export function launchChromium(options: { webrtc?: boolean; extraArgs?: string[] } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      ...CHROMIUM_ARGS,
      ...(options.webrtc ? ['--allow-loopback-in-peer-connection'] : ['--force-webrtc-ip-handling-policy=disable_non_proxied_udp']),
      ...(options.extraArgs ?? []),
    ],
  });
}

export interface Pupil {
  context: BrowserContext;
  page: Page;
  errors: string[];
}

/** A browser context (its own IndexedDB, its own SharedWorker) with one page, collecting page errors. */
export async function openPupil(browser: Browser, options: { viewport: { width: number; height: number }; locale?: string }): Promise<Pupil> {
  const context = await browser.newContext({ viewport: options.viewport, locale: options.locale ?? 'de-DE', timezoneId: 'Europe/Berlin', reducedMotion: 'reduce' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (m) => {
    // Refused connections while the relay is down are expected (HTTP, and the WebSocket of the page's direct-link
    // node); anything else logged as an error is a bug.
    const refused = m.text().startsWith('Failed to load resource') || /^WebSocket connection to '[^']*' failed: .*ERR_CONNECTION_REFUSED/.test(m.text());
    if (m.type() === 'error' && !refused) errors.push(`console: ${m.text()}`);
  });
  return { context, page, errors };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(artifacts, { recursive: true });
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, animations: 'disabled' });
  return path;
}

export type { BundleReport } from '../support/initial-js.ts';

/** What a first visit downloads in JavaScript (`initialJs`), also written to test/artifacts/bundle-size.json. */
export async function measureInitialJs(dist: string): Promise<BundleReport> {
  const report = await initialJs(dist);
  await mkdir(artifacts, { recursive: true });
  await writeFile(join(artifacts, 'bundle-size.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

/** A clock that tests can set back for single writes (a message "written" long ago); otherwise the real time. */
export class ShiftableClock implements Clock {
  shiftMs = 0;
  now(): number {
    return Date.now() - this.shiftMs;
  }
  /** Runs `fn` with the clock `ms` in the past. */
  async past<T>(ms: number, fn: () => Promise<T>): Promise<T> {
    this.shiftMs = ms;
    try {
      return await fn();
    } finally {
      this.shiftMs = 0;
    }
  }
}

export interface NodeDevice {
  engine: Engine;
  clock: ShiftableClock;
  link: RelayLink;
  close(): Promise<void>;
}

/** A Node device (a teacher's laptop in the test) enrolled with a one-time code, online with the relay over TCP. */
export async function nodeDevice(relay: { http: string; issueCode(account: string, role: Role, displayName?: string): Promise<string> }, account: string, role: Role, name: string): Promise<NodeDevice> {
  const { identity, info } = await enroll(relay.http, { code: await relay.issueCode(account, role, name) });
  const clock = new ShiftableClock();
  const engine = await Engine.open({ storage: new MemoryStorage(), identity, trust: trustFor(info), clock });
  // Over TCP, loopback only; redials within 2 s once the relay is back (tests stop and start it).
  const node = await createDeviceNode({ privateKey: await libp2pPrivateKey(identity.signing.seed), loopbackOnly: true });
  const link = new RelayLink({ node, endpoint: engine, addrs: info.relay.tcp.map((a) => multiaddr(a)), agent: 'e2e-teacher', minDelayMs: 250, maxDelayMs: 2_000 }).start();
  await link.caughtUp();
  return {
    engine,
    clock,
    link,
    close: async () => {
      link.stop();
      await node.stop();
      await engine.close();
    },
  };
}

/** A browser CDP session attached (not flattened) to the engine SharedWorker of `page`'s browser context. */
async function attachToEngineWorker(browser: Browser, page: Page): Promise<{ cdp: CDPSession; sessionId: string }> {
  const pageSession = await page.context().newCDPSession(page);
  const { targetInfo } = (await pageSession.send('Target.getTargetInfo')) as { targetInfo: { browserContextId?: string } };
  await pageSession.detach();
  const cdp = await browser.newBrowserCDPSession();
  const { targetInfos } = (await cdp.send('Target.getTargets')) as { targetInfos: { targetId: string; type: string; url: string; browserContextId?: string }[] };
  const worker = targetInfos.find((t) => t.type === 'shared_worker' && t.url.includes('engine-worker') && t.browserContextId === targetInfo.browserContextId);
  if (!worker) {
    await cdp.detach();
    throw new Error(`no engine worker in this context: ${JSON.stringify(targetInfos.map((t) => [t.type, t.url]))}`);
  }
  const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId: worker.targetId, flatten: false })) as { sessionId: string };
  return { cdp, sessionId };
}

/**
 * Evaluates an expression inside the engine SharedWorker of `page`'s browser context, over the Chrome DevTools
 * Protocol (the app has no test hooks). Tests use it to move the worker's clock.
 */
export async function evaluateInEngineWorker(browser: Browser, page: Page, expression: string): Promise<unknown> {
  const { cdp, sessionId } = await attachToEngineWorker(browser, page);
  try {
    const answer = new Promise<unknown>((resolve, reject) => {
      cdp.on('Target.receivedMessageFromTarget', (event: { sessionId: string; message: string }) => {
        if (event.sessionId !== sessionId) return;
        const message = JSON.parse(event.message) as { id?: number; result?: { result?: { value?: unknown }; exceptionDetails?: { text: string } }; error?: { message: string } };
        if (message.id !== 1) return;
        if (message.error) reject(new Error(message.error.message));
        else if (message.result?.exceptionDetails) reject(new Error(message.result.exceptionDetails.text));
        else resolve(message.result?.result?.value);
      });
    });
    await cdp.send('Target.sendMessageToTarget', {
      sessionId,
      message: JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression, returnByValue: true, awaitPromise: true } }),
    });
    const value = await answer;
    await cdp.send('Target.detachFromTarget', { sessionId });
    return value;
  } finally {
    await cdp.detach();
  }
}

/**
 * Collects what the engine SharedWorker of `page`'s context logs to its console (the engine's warnings: refused
 * entries, failed uploads), for a test to print when it fails. Starts when called; the worker must be running.
 */
export async function captureWorkerConsole(browser: Browser, page: Page): Promise<{ lines: string[]; stop: () => Promise<void> }> {
  const { cdp, sessionId } = await attachToEngineWorker(browser, page);
  const lines: string[] = [];
  cdp.on('Target.receivedMessageFromTarget', (event: { sessionId: string; message: string }) => {
    if (event.sessionId !== sessionId) return;
    const message = JSON.parse(event.message) as { method?: string; params?: { type: string; timestamp: number; args: { value?: unknown; description?: string }[] } };
    if (message.method !== 'Runtime.consoleAPICalled' || !message.params) return;
    const text = message.params.args.map((a) => (a.value !== undefined ? String(a.value) : (a.description ?? ''))).join(' ');
    lines.push(`${new Date(message.params.timestamp).toISOString()} ${message.params.type}: ${text}`);
  });
  await cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: 1, method: 'Runtime.enable' }) });
  return {
    lines,
    stop: async () => {
      await cdp.send('Target.detachFromTarget', { sessionId }).catch(() => {});
      await cdp.detach().catch(() => {});
    },
  };
}

/** Moves the engine worker's clock (Date.now) of `page`'s context by `offsetMs` from the real time (0 resets). */
export async function setEngineClock(browser: Browser, page: Page, offsetMs: number): Promise<void> {
  await evaluateInEngineWorker(
    browser,
    page,
    `(() => { const g = globalThis; g.__realNow ??= Date.now; const real = g.__realNow; Date.now = () => real() + ${offsetMs}; return Date.now() - real(); })()`,
  );
}

/** Axe (WCAG 2.1 AA and best practices) finds nothing on what the page shows now. */
export async function expectNoAxeViolations(page: Page, screen: string): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`);
  expect(found, `axe on the ${screen} screen`).toEqual([]);
}

/** Fills in the enrollment form (the code may already be there from the QR link) and submits it. */
export async function enrollWith(page: Page, code: string | undefined, pin: string): Promise<void> {
  if (code !== undefined) await page.getByLabel('Anmeldecode').fill(code);
  await page.getByLabel('Neue PIN für dieses Profil').fill(pin);
  await page.getByLabel('PIN wiederholen').fill(pin);
  await page.getByLabel('PIN wiederholen').press('Enter');
}

/** Types into the composer and sends with Enter. */
/**
 * Reloads the page. A reload that ends the last page of a profile ends the shared engine worker, and with it the
 * unlocked key: the profile then asks for its PIN again, which this gives; otherwise `ready` shows first.
 */
export async function reloadAndUnlock(page: Page, pin: string, ready: Locator, timeout = 20_000): Promise<void> {
  await page.reload();
  const pinBox = page.getByLabel('PIN oder Passwort');
  await pinBox.or(ready).first().waitFor({ timeout });
  if (await pinBox.isVisible()) {
    await pinBox.fill(pin);
    await pinBox.press('Enter');
  }
}

export async function sendMessage(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: /Nachricht an/ });
  await box.fill(text);
  await box.press('Enter');
}

/** A message bubble of the open chat containing `text`. */
export function bubble(page: Page, text: string) {
  return page.locator('sm-chat article').filter({ hasText: text });
}
