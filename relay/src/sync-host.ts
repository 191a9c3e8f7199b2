import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type RelayConnection, connectToRelay } from '@schoolmesh/client/node';
import { type Directory, importCsv, readDirectory, resolveLdapConfig } from '@schoolmesh/directory';
import { Engine } from '@schoolmesh/engine';
import type { TrustStore } from '@schoolmesh/identity';
import { openLevelStorage } from '@schoolmesh/storage-level';
import type { Logger } from 'pino';
import { ConfigError, type RelayConfig } from './config.ts';
import { DirectorySync } from './directory-sync.ts';
import type { Enrollment } from './enrollment.ts';
import type { RelayKeys } from './keystore.ts';
import type { SchoolPolicyStore } from './school-policy.ts';
import { loadOrCreateSyncDevice } from './sync-device.ts';

/** The running sync service: the sync account's engine, its link to the relay, and the service on top. */
export interface SyncHost {
  sync: DirectorySync;
  engine: Engine;
  connection: RelayConnection;
  stop(): Promise<void>;
}

export interface SyncHostDeps {
  config: RelayConfig;
  keys: RelayKeys;
  trust: TrustStore;
  enrollment: Enrollment;
  policies: SchoolPolicyStore;
  relayAddrs(): { peerId: string; ws: string[]; tcp: string[] };
  revoke(devices: string[]): Promise<void>;
  log: Logger;
}

/**
 * Starts the sync account's device next to the relay, in the same process: its identity from `keys/`, an engine
 * on its own LevelDB store (`dataDir/sync-device/`), a libp2p connection to the relay over loopback TCP (admitted
 * like any device; the relay keeps no special path for it), and the DirectorySync service with its timer.
 */
export async function startSyncHost(deps: SyncHostDeps): Promise<SyncHost> {
  const { config, keys, log } = deps;
  const settings = config.directorySync!;
  if (!settings.csvFile && !config.directory) throw new ConfigError('invalid relay config: directorySync needs the directory section (LDAP) or directorySync.csvFile');
  const read = settings.csvFile ? csvReader(resolve(config.dataDir, settings.csvFile), settings.schoolYear) : await ldapReader(config);
  const { identity, created, renewed } = await loadOrCreateSyncDevice(config.dataDir, keys, { account: settings.account, displayName: settings.displayName });
  if (created) log.info({ device: identity.id, account: settings.account }, 'sync account device created');
  if (renewed) log.info({ device: identity.id, notAfter: new Date(identity.certificate.notAfter).toISOString() }, 'sync account device certificate renewed');
  const storage = await openLevelStorage(join(config.dataDir, 'sync-device'), { sync: config.store.fsync });
  // The relay's own trust store: the same school roots and partners, and revocations apply to it at once.
  const engine = await Engine.open({ storage, identity, trust: deps.trust, log: (level, message) => log[level === 'warn' ? 'warn' : 'debug']({ component: 'sync-device' }, message) });
  // A renewed certificate is listed in every group it manages (a self add-device); the ops go out with catch-up.
  if (renewed) log.info({ groups: await engine.renewIdentity(identity) }, 'renewed certificate listed in the groups');
  const addrs = deps.relayAddrs();
  const loopback = addrs.tcp.filter((a) => a.startsWith('/ip4/127.0.0.1/') || a.startsWith('/ip6/::1/'));
  const connection = await connectToRelay(engine, identity, { ...addrs, tcp: loopback.length > 0 ? loopback : addrs.tcp }, { transport: 'tcp', loopbackOnly: config.loopbackOnly });
  const sync = await DirectorySync.open(
    {
      engine,
      dataDir: config.dataDir,
      read,
      policy: () => deps.policies.get(),
      devices: () => deps.enrollment.devices(),
      revoked: () => deps.enrollment.revokedDevices(),
      revoke: deps.revoke,
      log,
      options: { full: settings.full, maxLeaverShare: settings.maxLeaverShare, revokeLeavers: settings.revokeLeavers, announcements: settings.announcements },
    },
    keys.schoolId,
  );
  const caughtUp = connection.link.caughtUp();
  const first = settings.syncAtStart
    ? caughtUp.then(() => sync.run('start'))
    : caughtUp.then(() => sync.removeRevokedDevices(deps.enrollment.revokedDevices()));
  void first.catch((error: Error) => log.error({ err: error }, 'directory sync at start failed'));
  sync.startTimer(settings.intervalMinutes);
  return {
    sync,
    engine,
    connection,
    stop: async () => {
      sync.stop();
      await connection.stop();
      await engine.close();
    },
  };
}

type Reader = () => Promise<{ directory: Directory; problems: string[]; kind: 'ldap' | 'csv' }>;

function csvReader(path: string, schoolYear: string | undefined): Reader {
  return async () => {
    const imported = importCsv(new Uint8Array(await readFile(path)), schoolYear ? { schoolYear } : {});
    if (!imported.ok) throw new Error(`${path}: ${imported.problems.map((p) => `line ${p.line}: ${p.message}`).join('; ')}`);
    return { directory: imported.directory, problems: [], kind: 'csv' };
  };
}

async function ldapReader(config: RelayConfig): Promise<Reader> {
  const settings: Record<string, unknown> = { ...config.directory };
  if (typeof settings.bindPasswordFile === 'string') {
    settings.bindPassword = (await readFile(resolve(config.dataDir, settings.bindPasswordFile), 'utf8')).trim();
    delete settings.bindPasswordFile;
  }
  let ldap: ReturnType<typeof resolveLdapConfig>;
  try {
    ldap = resolveLdapConfig(settings);
  } catch (error) {
    throw new ConfigError(`invalid relay config: directory: ${(error as Error).message}`);
  }
  return async () => {
    const result = await readDirectory(ldap);
    return { directory: result.directory, problems: result.problems, kind: 'ldap' };
  };
}
