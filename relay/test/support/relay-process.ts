/**
 * Real relay processes for integration tests: each runs `schoolmesh-relay start` in its own Node process on
 * loopback with ports chosen by the OS, and is killed (SIGTERM, or SIGKILL where the test says so) at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { SchoolInfo } from '@schoolmesh/client';
import { type RelayKeys, initSchool } from '@schoolmesh/relay';
import type { Role } from '@schoolmesh/model';

const BIN = resolve(import.meta.dirname, '../../bin/schoolmesh-relay.mjs');

export interface RelaySetup {
  dir: string;
  keys: RelayKeys;
  configPath: string;
  config: Record<string, unknown>;
}

/** Creates a school and its config (loopback only, OS-chosen ports) in a fresh temporary directory. */
export async function setupRelay(name: string, config: Record<string, unknown> = {}): Promise<RelaySetup> {
  const dir = await mkdtemp(join(tmpdir(), 'schoolmesh-relay-'));
  const keys = await initSchool(dir, name);
  const full = { dataDir: '.', host: '127.0.0.1', httpPort: 0, tcpPort: 0, wsPort: 0, loopbackOnly: true, recheckSeconds: 1, log: { level: 'info' }, ...config };
  const configPath = join(dir, 'relay.json');
  await writeFile(configPath, JSON.stringify(full, null, 2));
  return { dir, keys, configPath, config: full };
}

export async function rewriteConfig(setup: RelaySetup, patch: Record<string, unknown>): Promise<void> {
  setup.config = { ...setup.config, ...patch };
  await writeFile(setup.configPath, JSON.stringify(setup.config, null, 2));
}

export interface RelayProcess {
  setup: RelaySetup;
  child: ChildProcess;
  http: string;
  info: SchoolInfo;
  logs: string[];
  /** Resolves with the exit code/signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  issueCode(account: string, role: Role, displayName?: string): Promise<string>;
  revoke(devices: string[]): Promise<void>;
  metrics(): Promise<string>;
  /** Sends SIGHUP (re-read the config file) and waits for the relay's "config reloaded" or refusal log line. */
  reload(): Promise<string>;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

/** Starts the relay process and waits for its "relay started" log line. */
export async function startRelay(setup: RelaySetup, env: Record<string, string> = {}): Promise<RelayProcess> {
  const child = spawn(process.execPath, [BIN, 'start', '--config', setup.configPath], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const started = new Promise<{ http: string }>((resolveStart, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`relay did not start:\n${logs.join('\n')}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        logs.push(line);
        if (logs.length > 5_000) logs.shift();
        try {
          const entry = JSON.parse(line) as { msg?: string; http?: string };
          if (entry.msg === 'relay started' && entry.http) {
            clearTimeout(timer);
            resolveStart({ http: entry.http });
          }
        } catch {
          // not JSON
        }
        nl = buffer.indexOf('\n');
      }
    });
    child.stderr!.on('data', (d: Buffer) => logs.push(`stderr: ${d.toString()}`));
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`relay exited (${code ?? signal}) before starting:\n${logs.join('\n')}`));
    });
  });
  const { http } = await started;
  const info = (await (await fetch(`${http}/api/school`)).json()) as SchoolInfo;
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${http}${path}`, {
      method,
      headers: { authorization: `Bearer ${setup.keys.adminToken}`, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`admin ${path}: ${String(json.message)}`);
    return json;
  };
  return {
    setup,
    child,
    http,
    info,
    logs,
    exited,
    issueCode: async (account, role, displayName) => String((await admin('POST', '/api/admin/codes', { account, role, displayName: displayName ?? account })).code),
    revoke: async (devices) => void (await admin('POST', '/api/admin/revoke', { devices })),
    metrics: async () => (await fetch(`${http}/metrics`)).text(),
    reload: async () => {
      const seen = logs.length;
      child.kill('SIGHUP');
      const deadline = Date.now() + 30_000;
      for (;;) {
        const line = logs.slice(seen).find((l) => /"msg":"config reload(ed| refused)/.test(l));
        if (line) return line;
        if (Date.now() > deadline) throw new Error(`no reload log line:\n${logs.slice(seen).join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    kill9: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function removeSetup(setup: RelaySetup): Promise<void> {
  await rm(setup.dir, { recursive: true, force: true });
}

export async function readAdminToken(setup: RelaySetup): Promise<string> {
  return (await readFile(join(setup.dir, 'keys', 'admin-token'), 'utf8')).trim();
}
