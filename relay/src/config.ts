import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { schoolPolicyPatchSchema } from './school-policy.ts';

/** A partner school the relay federates with: its root key and its relay's address (ending in /p2p/<id>). */
const partner = z.object({
  name: z.string().min(1).max(200),
  /** The partner school's root public key, base64url (its school id). */
  root: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a base64url Ed25519 public key (43 characters)'),
  /** Multiaddrs of the partner relay, each ending in /p2p/<peer id>. */
  addrs: z.array(z.string().startsWith('/')).min(1),
  /** The partner relay's HTTP base URL: its signed revocation list is fetched from `<http>/api/revocations`. */
  http: z.url().optional(),
});

export const configSchema = z
  .object({
    /** Where keys, the store and enrollment state live. Relative paths are relative to the config file. */
    dataDir: z.string().min(1),
    /** The host every listener binds to: 127.0.0.1 for a single machine, 0.0.0.0 or the LAN address for a school. */
    host: z.string().min(1).default('127.0.0.1'),
    /** HTTP: web app, enrollment, /healthz, /metrics. */
    httpPort: z.number().int().min(0).max(65535).default(8787),
    /** libp2p over TCP (relay–relay, Node devices). */
    tcpPort: z.number().int().min(0).max(65535).default(8788),
    /** libp2p over WebSockets (browsers). */
    wsPort: z.number().int().min(0).max(65535).default(8789),
    /** Addresses to announce instead of the listen addresses (a public name or a NAT mapping). */
    announce: z.array(z.string().startsWith('/')).default([]),
    /** Refuse to dial or accept anything but loopback (tests, single-machine demos). */
    loopbackOnly: z.boolean().default(false),
    limits: z
      .object({
        /** libp2p's connection ceiling: a school's devices plus partner relays (libp2p's default is 300). */
        maxConnections: z.number().int().positive().default(4_000),
        /** New inbound connections per second from one IP: a whole school behind one NAT is one IP (default 5). */
        inboundConnectionsPerHostPerSecond: z.number().int().positive().default(500),
        /** Connections still in their Noise/yamux upgrade at once (libp2p's default is 10). */
        maxPendingConnections: z.number().int().positive().default(256),
        /** Entries one device may store per minute (a sustained rate; bursts up to the same number). */
        entriesPerMinutePerDevice: z.number().int().positive().default(600),
        /** Ciphertext bytes one device may store per minute. */
        bytesPerMinutePerDevice: z.number().int().positive().default(8 * 1024 * 1024),
        /** Largest sealed attachment blob the relay stores (bytes; default 10 MiB plus the 40 bytes of sealing). */
        blobBytes: z.number().int().positive().default(10 * 1024 * 1024 + 40),
        /** Blob bytes one device may upload per minute (bursts up to the same amount; refused at once when spent). */
        blobBytesPerMinutePerDevice: z.number().int().positive().default(40 * 1024 * 1024),
        /** Sessions one device may hold at once. */
        sessionsPerDevice: z.number().int().positive().default(4),
        /** Seconds a new stream may take to authenticate (HELLO and AUTH); idle strangers are dropped after it. */
        handshakeSeconds: z.number().positive().default(10),
      })
      .prefault({}),
    retention: z
      .object({
        /** How often expired buckets are deleted (also at start-up). */
        sweepMinutes: z.number().positive().default(60),
      })
      .prefault({}),
    store: z
      .object({
        /** fsync every acknowledged write (survives power loss, not only a crash of the relay). */
        fsync: z.boolean().default(true),
      })
      .prefault({}),
    /** How often partner schools' revocation lists are fetched (their `http`). */
    partnerRevocationMinutes: z.number().positive().default(5),
    /** How often live sessions are re-checked against revocation and certificate expiry. */
    recheckSeconds: z.number().positive().default(5),
    federation: z.object({ partners: z.array(partner).default([]) }).prefault({}),
    enrollment: z
      .object({
        /** Days an enrollment code stays valid. */
        codeDays: z.number().int().positive().max(90).default(14),
        /** Days a device certificate is valid (devices renew before). */
        deviceCertDays: z.number().int().positive().max(365).default(30),
        /**
         * Failed sign-ins per minute from one address before it gets HTTP 429. A whole school may share one NAT
         * address, and codes (75 random bits) cannot be guessed anyway, so this is generous.
         */
        failuresPerMinutePerAddress: z.number().int().positive().default(120),
      })
      .prefault({}),
    /**
     * The school's LDAP directory for password sign-in (`@schoolmesh/directory`: url, startTls, bindDn,
     * bindPassword or bindPasswordFile, preset, mapping overrides, login limits). Checked at start by the directory
     * package's own schema, whose errors name the field.
     */
    directory: z.record(z.string(), z.unknown()).optional(),
    /**
     * The school policy's starting point (pupil-to-pupil direct chats, who may create groups, retention per group
     * kind); admins change it in the console (kept in school-policy.json). Devices learn `pupilDirectMessages` from
     * /api/school; the sync service applies retention to its groups.
     */
    policy: schoolPolicyPatchSchema.optional(),
    /**
     * The directory sync service: the school's sync account (an admin account whose device runs in the relay
     * process) reads the directory (the `directory` section's LDAP server, or `csvFile`) every `intervalMinutes`
     * and on demand, and keeps the school's groups in line with it (docs/admin-guide.md, "Directory sync").
     */
    directorySync: z
      .object({
        /** The sync account's id (`<account>@<school>` owns every directory group). */
        account: z.string().regex(/^[\p{L}\p{N}._-]{1,64}$/u, '1–64 letters, digits, ".", "_" or "-"').default('schoolmesh-sync'),
        displayName: z.string().min(1).max(200).default('Schulverwaltung'),
        intervalMinutes: z.number().positive().default(60),
        /** Read this CSV file (relative to the data directory) instead of LDAP. */
        csvFile: z.string().min(1).optional(),
        /** The school year for CSV imports (LDAP takes it from the `directory` section). */
        schoolYear: z.string().min(1).max(20).optional(),
        /** Directory authoritative for this school's members (removes members added by hand). */
        full: z.boolean().default(false),
        /** A class announcement group per class (class teachers post, pupils and parents read). */
        announcements: z.boolean().default(true),
        /** Largest share of the school that may leave in one sync before it is refused (force overrides). */
        maxLeaverShare: z.number().min(0).max(1).default(0.25),
        /** Revoke the devices of people who left the directory. */
        revokeLeavers: z.boolean().default(true),
        /** Run one sync right after start-up. */
        syncAtStart: z.boolean().default(true),
        /** The school policy the sync applies to its groups (admins may change it later; see school-policy.json). */
        policy: schoolPolicyPatchSchema.prefault({}),
      })
      .strict()
      .optional(),
    /** Directory with the built web app (web/dist); the relay serves it at /. */
    webRoot: z.string().optional(),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
  })
  .strict();

export type RelayConfig = z.infer<typeof configSchema>;
export type PartnerConfig = z.infer<typeof partner>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Environment overrides: the few settings an operator changes per start without editing the file. */
const ENV: [string, (c: Record<string, unknown>, v: string) => void][] = [
  ['PORT', (c, v) => (c.httpPort = port(v, 'PORT'))],
  ['SCHOOLMESH_HTTP_PORT', (c, v) => (c.httpPort = port(v, 'SCHOOLMESH_HTTP_PORT'))],
  ['SCHOOLMESH_TCP_PORT', (c, v) => (c.tcpPort = port(v, 'SCHOOLMESH_TCP_PORT'))],
  ['SCHOOLMESH_WS_PORT', (c, v) => (c.wsPort = port(v, 'SCHOOLMESH_WS_PORT'))],
  ['SCHOOLMESH_HOST', (c, v) => (c.host = v)],
  ['SCHOOLMESH_DATA_DIR', (c, v) => (c.dataDir = v)],
  ['SCHOOLMESH_LOG_LEVEL', (c, v) => (c.log = { ...(c.log as object), level: v })],
  ['SCHOOLMESH_WEB_ROOT', (c, v) => (c.webRoot = v)],
];

function port(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${name}=${v} is not a port number`);
  return n;
}

/** Validates a parsed config object (after environment overrides); throws ConfigError listing every problem. */
export function parseConfig(raw: unknown, env: Record<string, string | undefined> = {}, baseDir = process.cwd()): RelayConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('the config must be a JSON object');
  const merged: Record<string, unknown> = structuredClone(raw as Record<string, unknown>);
  for (const [name, apply] of ENV) {
    const value = env[name];
    if (value !== undefined && value !== '') apply(merged, value);
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw new ConfigError(`invalid relay config:\n${lines.join('\n')}`);
  }
  const config = result.data;
  config.dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(baseDir, config.dataDir);
  if (config.webRoot) config.webRoot = isAbsolute(config.webRoot) ? config.webRoot : resolve(baseDir, config.webRoot);
  return config;
}

/** Reads and validates a JSON config file. */
export async function loadConfig(path: string, env: Record<string, string | undefined> = process.env): Promise<RelayConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config ${path}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config ${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parseConfig(raw, env, join(path, '..'));
}
