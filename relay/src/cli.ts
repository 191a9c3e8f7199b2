import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Role } from '@schoolmesh/model';
import QRCode from 'qrcode';
import type { AuditEntry, AuditVerdict } from './audit-log.ts';
import { ConfigError, type RelayConfig, loadConfig } from './config.ts';
import type { SyncReport } from './directory-sync.ts';
import { KeystoreError, initSchool, loadRelayKeys } from './keystore.ts';
import { Relay } from './relay.ts';

const USAGE = `schoolmesh-relay <command> [options]

  init --data <dir> --name <school name> [--host 127.0.0.1] [--http-port 8787]
        creates the school's keys and <dir>/relay.json
  start [--config <dir>/relay.json]
        runs the relay until SIGINT/SIGTERM (graceful shutdown); SIGHUP reloads the config
  code --config <file> --account <id> --role <pupil|teacher|parent|staff|admin> [--name "Display Name"]
        issues a one-time enrollment code (printed with a QR code) through the running relay
  revoke --config <file> <device id>...
        revokes devices; their sessions are dropped within seconds
  devices --config <file>
        lists enrolled devices
  sync --config <file> [--force]
        runs the directory sync now (config: directorySync) and prints its report
  audit --config <file>
        verifies the audit log of admin actions and prints it
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'init':
        return await init(rest);
      case 'start':
        return await start(rest);
      case 'code':
        return await code(rest);
      case 'revoke':
        return await revoke(rest);
      case 'devices':
        return await devices(rest);
      case 'sync':
        return await sync(rest);
      case 'audit':
        return await audit(rest);
      default:
        process.stdout.write(USAGE);
        return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
    }
  } catch (error) {
    if (error instanceof ConfigError || error instanceof KeystoreError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

async function init(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { data: { type: 'string' }, name: { type: 'string' }, host: { type: 'string' }, 'http-port': { type: 'string' } } });
  if (!values.data || !values.name) throw new ConfigError('init needs --data <dir> and --name <school name>');
  const dataDir = resolve(values.data);
  const keys = await initSchool(dataDir, values.name);
  const config = { dataDir: '.', host: values.host ?? '127.0.0.1', httpPort: Number(values['http-port'] ?? 8787), federation: { partners: [] } };
  await writeFile(join(dataDir, 'relay.json'), `${JSON.stringify(config, null, 2)}\n`);
  process.stdout.write(
    `School "${keys.schoolName}" created in ${dataDir}\n` +
      `  school id (root public key): ${keys.schoolId}\n` +
      `  config: ${join(dataDir, 'relay.json')}\n` +
      `Move ${join(dataDir, 'keys', 'school-root.key')} to offline storage: the relay does not need it to run.\n`,
  );
  return 0;
}

async function start(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } } });
  const configPath = values.config ?? 'relay.json';
  const config = await loadConfig(configPath);
  const relay = await Relay.start(config);
  // SIGHUP re-reads the config file: partners, limits, timers and the log level change without a restart. A config
  // that does not validate is logged and ignored (the running one stays).
  process.on('SIGHUP', () => {
    loadConfig(configPath)
      .then((next) => relay.reload(next))
      .catch((error: Error) => relay.log.error({ reason: error.message }, 'config reload refused; the running config stays'));
  });
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      relay.log.info({ signal }, 'shutting down');
      relay.stop().then(done, (error) => {
        relay.log.error({ err: error }, 'shutdown failed');
        done();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

async function adminCall(config: RelayConfig, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const keys = await loadRelayKeys(config.dataDir);
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host === '::' ? '[::1]' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const response = await fetch(`http://${host}:${config.httpPort}${path}`, {
    method,
    headers: { authorization: `Bearer ${keys.adminToken}`, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  }).catch((error: Error) => {
    throw new ConfigError(`the relay does not answer on port ${config.httpPort} (is it running?): ${error.message}`);
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new ConfigError(`relay refused: ${String(json.message ?? response.status)}`);
  return json;
}

async function code(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, account: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' } } });
  const config = await loadConfig(values.config ?? 'relay.json');
  if (!values.account || !values.role) throw new ConfigError('code needs --account and --role');
  const result = await adminCall(config, 'POST', '/api/admin/codes', { account: values.account, role: values.role as Role, displayName: values.name ?? values.account });
  process.stdout.write(`${await QRCode.toString(String(result.url), { type: 'terminal', small: true })}\n`);
  process.stdout.write(`Code for ${values.account}: ${String(result.code)}\nLink: ${String(result.url)}\nValid until ${new Date(Number(result.expiresAt)).toISOString()}\n`);
  return 0;
}

async function revoke(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { config: { type: 'string' } }, allowPositionals: true });
  const config = await loadConfig(values.config ?? 'relay.json');
  if (positionals.length === 0) throw new ConfigError('revoke needs at least one device id');
  const result = await adminCall(config, 'POST', '/api/admin/revoke', { devices: positionals });
  process.stdout.write(`revoked: ${(result.revoked as string[]).join(', ')}\n`);
  return 0;
}

async function devices(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } } });
  const config = await loadConfig(values.config ?? 'relay.json');
  const result = await adminCall(config, 'GET', '/api/admin/devices');
  for (const d of result.devices as { device: string; account: string; role: string; revoked: boolean; notAfter: number }[])
    process.stdout.write(`${d.device}  ${d.account.padEnd(20)} ${d.role.padEnd(8)} ${d.revoked ? 'REVOKED' : `valid until ${new Date(d.notAfter).toISOString().slice(0, 10)}`}\n`);
  return 0;
}

async function sync(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, force: { type: 'boolean' } } });
  const config = await loadConfig(values.config ?? 'relay.json');
  const { report } = (await adminCall(config, 'POST', '/api/admin/sync', { force: values.force === true })) as { report: SyncReport };
  const t = report.totals;
  process.stdout.write(
    `sync ${report.outcome}${report.error ? `: ${report.error}` : ''}\n` +
      `  ${report.source.people} people read (${report.source.kind}), ${report.source.problems.length} problems\n` +
      `  groups: ${t.groupsCreated} created, ${t.groupsChanged} changed, ${t.groupsEnded} ended, ${t.groupsClosed} closed\n` +
      `  members: ${t.added} added, ${t.removed} removed, ${t.roleChanges} roles changed\n` +
      `  joiners ${report.joiners.length}, leavers ${report.leavers.length}, devices revoked ${report.revokedDevices.length}, policies applied ${report.policyUpdates.length}\n`,
  );
  for (const p of report.source.problems) process.stdout.write(`  problem: ${p}\n`);
  return report.outcome === 'failed' ? 1 : 0;
}

async function audit(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } } });
  const config = await loadConfig(values.config ?? 'relay.json');
  const result = (await adminCall(config, 'GET', '/api/admin/audit')) as { entries: AuditEntry[]; verdict: AuditVerdict };
  for (const e of result.entries)
    process.stdout.write(`${String(e.seq).padStart(5)}  ${new Date(e.time).toISOString()}  ${e.action.padEnd(14)} ${e.actor.kind === 'device' ? e.actor.account : 'operator'}  ${e.body}\n`);
  const v = result.verdict;
  process.stdout.write(v.ok ? `audit log verified: ${v.entries} entries\n` : `AUDIT LOG BROKEN at entry ${v.at}: ${v.problem}\n`);
  return v.ok ? 0 : 1;
}
