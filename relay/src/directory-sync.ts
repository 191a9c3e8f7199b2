import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Directory,
  type PlanReport,
  SyncGuardError,
  type SyncState,
  decodeSyncState,
  emptySyncState,
  encodeSyncState,
  reportOfPlan,
  synchronize,
} from '@schoolmesh/directory';
import type { Engine } from '@schoolmesh/engine';
import type { GroupKind, SchoolPolicy } from '@schoolmesh/model';
import type { Logger } from 'pino';

/** What one run of the sync did (or would have done, when refused), kept in `dataDir/sync-report.json`. */
export interface SyncReport extends PlanReport {
  trigger: 'start' | 'timer' | 'admin';
  startedAt: number;
  finishedAt: number;
  /** `applied`: the plan ran; `refused`: the leaver guard stopped it (nothing signed); `failed`: see `error`. */
  outcome: 'applied' | 'refused' | 'failed';
  error?: string;
  source: { kind: 'ldap' | 'csv'; people: number; problems: string[] };
  /** Leavers' devices revoked by this run. */
  revokedDevices: string[];
  /**
   * Directory groups an older version created with the sync account as owner, where it made itself manager in this
   * run (the next member device that writes rotates the key past it).
   */
  adoptedAsManager?: string[];
  /** Groups whose policy (retention) was brought in line with the school policy. */
  policyUpdates: { group: string; name: string; kind: GroupKind; retentionDays: number }[];
}

export interface DirectorySyncDeps {
  engine: Engine;
  dataDir: string;
  /** Reads the school's directory (LDAP or CSV) afresh. */
  read(): Promise<{ directory: Directory; problems: string[]; kind: 'ldap' | 'csv' }>;
  policy(): SchoolPolicy;
  /** The school's enrolled devices (to find leavers' devices) and the ones already revoked. */
  devices(): Promise<{ device: string; account: string }[]>;
  revoked(): string[];
  /** Revokes devices at the relay (signed list, sessions dropped, groups rotated). */
  revoke(devices: string[]): Promise<void>;
  log: Logger;
  options: { full: boolean; maxLeaverShare: number; revokeLeavers: boolean; announcements: boolean };
}

const MAX_PROBLEMS_IN_REPORT = 200;

/**
 * The directory sync service: the school's sync account's device (an engine on its own store, connected to the
 * relay like any device) reads the directory, plans, signs the membership changes, revokes leavers' devices,
 * applies the school's policies to its groups, and takes revoked devices out of the groups it manages. It is the
 * groups' manager: it is never sealed a content key, and the members' devices rotate the keys after its removals.
 * One run at a time; the state and the last report are kept in the data directory.
 */
export class DirectorySync {
  private running: Promise<unknown> = Promise.resolve();
  private timer: ReturnType<typeof setInterval> | undefined;
  private last: SyncReport | undefined;
  private busy = false;

  private constructor(
    private readonly deps: DirectorySyncDeps,
    private state: SyncState,
  ) {}

  static async open(deps: DirectorySyncDeps, school: string): Promise<DirectorySync> {
    const text = await readFile(statePath(deps.dataDir), 'utf8').catch(() => undefined);
    const state = text === undefined ? emptySyncState(school) : decodeSyncState(text);
    const sync = new DirectorySync(deps, state);
    const report = await readFile(reportPath(deps.dataDir), 'utf8').catch(() => undefined);
    if (report !== undefined) sync.last = JSON.parse(report) as SyncReport;
    return sync;
  }

  get account(): string {
    return this.deps.engine.account;
  }

  lastReport(): SyncReport | undefined {
    return this.last;
  }

  isRunning(): boolean {
    return this.busy;
  }

  /** The directory groups the sync keeps, by key (for the admin side). */
  groups(): { key: string; group: string; endedAt?: number }[] {
    return Object.entries(this.state.groups).map(([key, g]) => ({ key, ...g }));
  }

  /** The directory last applied (accounts for the admin side), if any. */
  directory(): Directory | undefined {
    return this.state.directory;
  }

  /** Runs the sync every `minutes` (and not again while one is running). */
  startTimer(minutes: number): void {
    this.timer = setInterval(() => void this.run('timer').catch(() => {}), minutes * 60_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.running.then(task, task);
    this.running = run.catch(() => {});
    return run;
  }

  /** One sync now. Never throws for a directory or engine problem: the report says what went wrong. */
  run(trigger: SyncReport['trigger'], options: { force?: boolean } = {}): Promise<SyncReport> {
    return this.exclusive(async () => {
      this.busy = true;
      try {
        return await this.runOnce(trigger, options);
      } finally {
        this.busy = false;
      }
    });
  }

  private async runOnce(trigger: SyncReport['trigger'], options: { force?: boolean }): Promise<SyncReport> {
    const { engine, log } = this.deps;
    const startedAt = Date.now();
    const report: SyncReport = {
      trigger,
      startedAt,
      finishedAt: startedAt,
      outcome: 'failed',
      source: { kind: 'ldap', people: 0, problems: [] },
      created: [],
      changed: [],
      removed: [],
      joiners: [],
      leavers: [],
      totals: { groupsCreated: 0, groupsChanged: 0, groupsEnded: 0, groupsClosed: 0, added: 0, removed: 0, roleChanges: 0 },
      revokedDevices: [],
      policyUpdates: [],
    };
    try {
      const read = await this.deps.read();
      report.source = { kind: read.kind, people: read.directory.people.length, problems: read.problems.slice(0, MAX_PROBLEMS_IN_REPORT) };
      const policy = this.deps.policy();
      try {
        const { plan, state, adopted } = await synchronize(engine, read.directory, this.state, {
          full: this.deps.options.full,
          maxLeaverShare: this.deps.options.maxLeaverShare,
          announcements: this.deps.options.announcements,
          policy,
          force: options.force === true,
        });
        Object.assign(report, reportOfPlan(plan));
        report.adoptedAsManager = adopted;
        if (adopted.length > 0) log.info({ groups: adopted.length }, 'directory sync: now manager (no content keys) of groups it owned');
        this.state = state;
        await this.saveState();
        report.outcome = 'applied';
        if (this.deps.options.revokeLeavers && plan.leavers.length > 0) report.revokedDevices = await this.revokeLeavers(plan.leavers);
      } catch (error) {
        if (error instanceof SyncGuardError) {
          Object.assign(report, reportOfPlan(error.plan));
          report.outcome = 'refused';
          report.error = error.message;
        } else {
          const partial = (error as { state?: SyncState }).state;
          if (partial) {
            this.state = partial;
            await this.saveState();
          }
          throw error;
        }
      }
      if (report.outcome === 'applied') report.policyUpdates = await this.alignPolicies(policy);
      await this.removeDevices(this.deps.revoked());
      await engine.expire();
    } catch (error) {
      report.outcome = 'failed';
      const e = error as Error;
      // ldapts' errors say little in their message (" Code: 0x4"): the class name tells the operator what failed.
      report.error = `${e.name === 'Error' ? '' : `${e.name}: `}${e.message.trim()}`;
    }
    report.finishedAt = Date.now();
    this.last = report;
    await this.saveReport(report).catch((error: Error) => log.error({ err: error }, 'directory sync: cannot save the report'));
    const t = report.totals;
    const fields = { trigger, outcome: report.outcome, people: report.source.people, ...t, joiners: report.joiners.length, leavers: report.leavers.length, revoked: report.revokedDevices.length, ms: report.finishedAt - startedAt };
    if (report.outcome === 'applied') log.info(fields, 'directory sync done');
    else log.warn({ ...fields, error: report.error }, 'directory sync not applied');
    return report;
  }

  /** Brings the retention of every live directory group in line with the school policy (signed set-policy ops). */
  applyPolicies(policy: SchoolPolicy = this.deps.policy()): Promise<SyncReport['policyUpdates']> {
    return this.exclusive(() => this.alignPolicies(policy));
  }

  private async alignPolicies(policy: SchoolPolicy): Promise<SyncReport['policyUpdates']> {
      const updates: SyncReport['policyUpdates'] = [];
      for (const record of Object.values(this.state.groups)) {
        if (record.endedAt !== undefined) continue;
        const s = this.deps.engine.state(record.group);
        if (!s) continue;
        const retentionDays = policy.retentionDays[s.kind];
        if (s.policy.retentionDays === retentionDays) continue;
        await this.deps.engine.setPolicy(record.group, { ...s.policy, retentionDays });
        updates.push({ group: record.group, name: s.name, kind: s.kind, retentionDays });
      }
      if (updates.length > 0) this.deps.log.info({ groups: updates.length }, 'directory sync: policies applied');
      return updates;
  }

  private async revokeLeavers(leavers: string[]): Promise<string[]> {
    const gone = new Set(leavers);
    const revoked = new Set(this.deps.revoked());
    const devices = (await this.deps.devices()).filter((d) => gone.has(d.account) && !revoked.has(d.device)).map((d) => d.device);
    if (devices.length > 0) await this.deps.revoke(devices);
    return devices;
  }

  /**
   * Takes revoked devices out of every group this account may remove them from (it manages the directory groups).
   * It holds no key, so the next member device that writes rotates (and every member's engine already treats a
   * revoked device as removed for keys): what is posted afterwards is sealed to the remaining devices only.
   */
  removeRevokedDevices(devices: readonly string[]): Promise<{ group: string; device: string }[]> {
    return this.exclusive(() => this.removeDevices(devices));
  }

  private async removeDevices(devices: readonly string[]): Promise<{ group: string; device: string }[]> {
      const { engine, log } = this.deps;
      const removed: { group: string; device: string }[] = [];
      if (devices.length === 0) return removed;
      for (const group of engine.replica.groups()) {
        const s = engine.state(group);
        const role = s?.members.get(engine.account);
        if (!s || (role !== 'manager' && role !== 'owner' && role !== 'moderator')) continue;
        for (const device of devices) {
          if (!s.devices.has(device)) continue;
          try {
            await engine.removeDevice(group, device);
            removed.push({ group, device });
          } catch (error) {
            log.warn({ group, device, reason: (error as Error).message }, 'directory sync: cannot remove a revoked device');
          }
        }
      }
      if (removed.length > 0) log.info({ removed: removed.length }, 'revoked devices removed from groups, keys rotated');
      return removed;
  }

  private async saveState(): Promise<void> {
    const path = statePath(this.deps.dataDir);
    await writeFile(`${path}.tmp`, encodeSyncState(this.state));
    await rename(`${path}.tmp`, path);
  }

  private async saveReport(report: SyncReport): Promise<void> {
    const path = reportPath(this.deps.dataDir);
    await writeFile(`${path}.tmp`, JSON.stringify(report));
    await rename(`${path}.tmp`, path);
  }
}

const statePath = (dataDir: string) => join(dataDir, 'sync-state.json');
const reportPath = (dataDir: string) => join(dataDir, 'sync-report.json');
