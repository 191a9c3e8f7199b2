/**
 * Processes for the relay benchmark: a real relay (`schoolmesh-relay start`) and the plain baseline
 * (`@y/websocket-server`'s own bin/server.js), each its own Node process on 127.0.0.1 with OS-chosen ports, and
 * their resident memory read from /proc/<pid>/status.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SchoolInfo } from '@schoolmesh/client';
import { signingKeyPairFromSeed } from '@schoolmesh/crypto';
import type { SchoolAuthority } from '@schoolmesh/identity';
import { initSchool } from '@schoolmesh/relay';
import { fromBase64Url } from '@schoolmesh/wire';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const RELAY_BIN = join(root, 'relay/bin/schoolmesh-relay.mjs');
const YWS_BIN = join(root, 'node_modules/@y/websocket-server/src/server.js');
const PROBE = join(here, 'relay-probe.mjs');

export interface Probe {
  /** Wall-clock time (ms since the epoch) of the second this sample covers the end of. */
  t: number;
  p50: number;
  p99: number;
  max: number;
  heapMb: number;
}

/** Parses a probe line; undefined for other lines. */
function probeOf(line: string): Probe | undefined {
  if (!line.startsWith('{"msg":"bench-probe"')) return undefined;
  try {
    return JSON.parse(line) as Probe;
  } catch {
    return undefined;
  }
}

/** The worst event-loop delay (ms) a server showed between two moments, from its per-second probes. */
export function loopDelay(probes: Probe[], from: number, to: number): { p99: number; max: number } {
  const inside = probes.filter((p) => p.t > from && p.t <= to + 1000);
  return { p99: Math.max(0, ...inside.map((p) => p.p99)), max: Math.max(0, ...inside.map((p) => p.max)) };
}
const DAY = 24 * 60 * 60 * 1000;

export interface Memory {
  rssMb: number;
  /** Peak resident memory of the process so far. */
  hwmMb: number;
}

/** VmRSS and VmHWM of a process, in MB (MiB), from /proc. */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

/** CPU seconds (user + system) a process used so far, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] and [12] are utime and stime (fields 14 and 15 of the full line), in clock ticks (100 Hz here).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Every child process and temporary directory of this run: killed and removed even when the benchmark fails. */
const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.once('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

/** A fresh temporary directory, removed at exit at the latest. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Tracks a child process so that it dies with this one. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Busy and total CPU time of the whole machine (all cores) so far, in clock ticks, from /proc/stat. */
export function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  // idle and iowait
  return { busy: total - fields[3]! - fields[4]!, total };
}

interface Spawned {
  child: ChildProcess;
  logs: string[];
  exited: Promise<void>;
  stop(): Promise<void>;
}

/** Spawns a process and resolves once a stdout line satisfies `ready`. Keeps the last log lines for errors. */
async function spawnUntil(
  args: string[],
  env: Record<string, string>,
  ready: (line: string) => boolean,
  what: string,
  onLine: (line: string) => void = () => {},
): Promise<Spawned> {
  const child = track(spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const logs: string[] = [];
  const keep = (line: string) => {
    logs.push(line);
    if (logs.length > 200) logs.shift();
  };
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolveReady, reject) => {
    let buffer = '';
    let done = false;
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${logs.join('\n')}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.startsWith('{"msg":"bench-probe"')) keep(line);
        onLine(line);
        if (!done && ready(line)) {
          done = true;
          clearTimeout(timer);
          resolveReady();
        }
        nl = buffer.indexOf('\n');
      }
    });
    child.stderr!.on('data', (d: Buffer) => keep(`stderr: ${d.toString().trimEnd()}`));
    void exited.then(() => {
      clearTimeout(timer);
      if (!done) reject(new Error(`${what} exited before it started:\n${logs.join('\n')}`));
    });
  });
  return {
    child,
    logs,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

export interface RelayLimits {
  maxConnections?: number;
  inboundConnectionsPerHostPerSecond?: number;
  maxPendingConnections?: number;
  entriesPerMinutePerDevice?: number;
  bytesPerMinutePerDevice?: number;
  sessionsPerDevice?: number;
}

export interface BenchRelay {
  dir: string;
  pid: number;
  http: string;
  info: SchoolInfo;
  /** The school as its relay holds it (authority key and certificate), for issuing real device certificates. */
  school: SchoolAuthority;
  logs: string[];
  /** Event-loop delay samples of the relay process, one per second. */
  probes: Probe[];
  /** Sessions the relay closed after they were open, by reason (from its log). */
  closed: Map<string, number>;
  memory(): Memory;
  cpuSeconds(): number;
  metric(name: string): Promise<number>;
  health(): Promise<{ sessions: { devices: number; relays: number }; groups: number }>;
  /** A one-time enrollment code from the relay's admin API (for a browser that enrolls as a real device does). */
  issueCode(account: string, role: string, displayName?: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Creates a school in a fresh directory (its authority certified from `validFrom`, so that week-old traffic falls
 * inside the certificates) and starts its relay process, loopback only, with the given limits.
 */
export async function startBenchRelay(
  name: string,
  limits: RelayLimits = {},
  options: { validFrom?: number; nodeArgs?: string[]; config?: Record<string, unknown> } = {},
): Promise<BenchRelay> {
  const validFrom = options.validFrom ?? Date.now() - 30 * DAY;
  const dir = await tempDir('schoolmesh-bench-relay-');
  const keys = await initSchool(dir, name, validFrom);
  const rootKey = await signingKeyPairFromSeed(fromBase64Url((await readFile(join(dir, 'keys', 'school-root.key'), 'utf8')).trim()));
  const school: SchoolAuthority = { id: keys.schoolId, name: keys.schoolName, root: rootKey, authority: keys.authority, authorityCert: keys.authorityCert };
  const config = {
    dataDir: '.',
    host: '127.0.0.1',
    httpPort: 0,
    tcpPort: 0,
    wsPort: 0,
    loopbackOnly: true,
    limits,
    log: { level: 'info' },
    ...options.config,
  };
  const configPath = join(dir, 'relay.json');
  await writeFile(configPath, JSON.stringify(config, null, 2));
  let http = '';
  const closed = new Map<string, number>();
  const probes: Probe[] = [];
  const proc = await spawnUntil(
    ['--import', PROBE, ...(options.nodeArgs ?? []), RELAY_BIN, 'start', '--config', configPath],
    {},
    (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; http?: string };
        if (entry.msg === 'relay started' && entry.http) {
          http = entry.http;
          return true;
        }
      } catch {
        // not JSON
      }
      return false;
    },
    'relay',
    (line) => {
      const probe = probeOf(line);
      if (probe) {
        probes.push(probe);
        return;
      }
      if (!line.includes('"session closed"')) return;
      try {
        const reason = String((JSON.parse(line) as { reason?: string }).reason ?? 'unknown').slice(0, 80);
        closed.set(reason, (closed.get(reason) ?? 0) + 1);
      } catch {
        // not JSON
      }
    },
  );
  const info = (await (await fetch(`${http}/api/school`)).json()) as SchoolInfo;
  const pid = proc.child.pid!;
  return {
    dir,
    pid,
    http,
    info,
    school,
    logs: proc.logs,
    probes,
    closed,
    memory: () => memoryOf(pid),
    cpuSeconds: () => cpuSecondsOf(pid),
    metric: async (metric) => {
      const text = await (await fetch(`${http}/metrics`)).text();
      const match = new RegExp(`^${metric}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
      return match ? Number(match[1]) : 0;
    },
    health: async () => (await (await fetch(`${http}/healthz`)).json()) as { sessions: { devices: number; relays: number }; groups: number },
    issueCode: async (account, role, displayName) => {
      const res = await fetch(`${http}/api/admin/codes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ account, role, displayName: displayName ?? account }),
      });
      const json = (await res.json()) as { code?: string; message?: string };
      if (!res.ok || !json.code) throw new Error(`issuing a code: ${json.message ?? res.status}`);
      return json.code;
    },
    stop: async () => {
      await proc.stop();
      await removeDir(dir);
    },
  };
}

export interface BaselineServer {
  pid: number;
  url: string;
  probes: Probe[];
  memory(): Memory;
  cpuSeconds(): number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * Starts `@y/websocket-server` exactly as its users run it (its bin/server.js), on 127.0.0.1; with `leveldb`, its
 * own y-leveldb persistence (YPERSISTENCE) in a fresh directory.
 */
export async function startYWebsocketServer(options: { leveldb?: boolean } = {}): Promise<BaselineServer> {
  const port = await freePort();
  const dir = options.leveldb ? await tempDir('schoolmesh-bench-yws-') : undefined;
  const env: Record<string, string> = { HOST: '127.0.0.1', PORT: String(port), ...(dir ? { YPERSISTENCE: dir } : {}) };
  const probes: Probe[] = [];
  const proc = await spawnUntil(['--import', PROBE, YWS_BIN], env, (line) => line.includes('running at'), '@y/websocket-server', (line) => {
    const probe = probeOf(line);
    if (probe) probes.push(probe);
  });
  const pid = proc.child.pid!;
  return {
    pid,
    url: `ws://127.0.0.1:${port}`,
    probes,
    memory: () => memoryOf(pid),
    cpuSeconds: () => cpuSecondsOf(pid),
    stop: async () => {
      await proc.stop();
      if (dir) await removeDir(dir);
    },
  };
}
