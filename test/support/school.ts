/** A small school for tests: one authority, devices for named accounts, engines on memory storage. */
import { Engine, type EngineOptions, ManualClock } from '@schoolmesh/engine';
import { type DeviceIdentity, type SchoolAuthority, TrustStore, createSchool, enrollDevice } from '@schoolmesh/identity';
import { type Role, accountRef } from '@schoolmesh/model';
import { MemoryStorage, type StorageAdapter } from '@schoolmesh/storage';
import { type FrameChannel, memoryChannelPair } from '@schoolmesh/sync';
import { fromBase64Url } from '@schoolmesh/wire';

export const DAY = 24 * 60 * 60 * 1000;
/** A fixed start time (a Monday in term time) so bucket numbers are stable across runs. */
export const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);

export interface TestSchool {
  school: SchoolAuthority;
  clock: ManualClock;
  trust: (extra?: SchoolAuthority[]) => TrustStore;
  device: (account: string, role: Role) => Promise<DeviceIdentity>;
  /** An engine on memory storage (or `storage`); `options` such as `autoPack: false` for tests that count entries. */
  engine: (identity: DeviceIdentity, storage?: StorageAdapter, options?: Pick<EngineOptions, 'autoPack' | 'autoKeys' | 'log'>) => Promise<Engine>;
  ref: (account: string) => string;
}

export async function testSchool(name = 'Gesamtschule Nord', clock = new ManualClock(T0), partners: SchoolAuthority[] = []): Promise<TestSchool> {
  const school = await createSchool(name, clock.now());
  const trust = (extra: SchoolAuthority[] = partners) => {
    const store = new TrustStore(() => clock.now());
    store.addSchool(fromBase64Url(school.id), name);
    for (const p of extra) store.addSchool(fromBase64Url(p.id), p.name);
    return store;
  };
  return {
    school,
    clock,
    trust,
    device: (account, role) => enrollDevice(school, { account, role, now: clock.now(), displayName: account }),
    engine: (identity, storage = new MemoryStorage(), options = {}) => Engine.open({ storage, identity, trust: trust(), clock, ...options }),
    ref: (account) => accountRef(school.id, account),
  };
}

/** Connects two engines directly (device to device) over an in-memory channel. */
export function link(a: Engine, b: Engine): { close: () => void; channels: [FrameChannel, FrameChannel] } {
  const [ca, cb] = memoryChannelPair();
  const sa = a.connect(ca);
  const sb = b.connect(cb);
  return {
    close: () => {
      sa.close();
      sb.close();
    },
    channels: [ca, cb],
  };
}

/** Waits until `check` passes, letting microtasks and timers run; fails after `ms`. Not a timing assertion. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A store that outlives the engines opened on it, as IndexedDB outlives a tab and a LevelDB directory a process:
 * `Engine.close()` closes its storage, so a test that reopens an engine on the same data hands it this view.
 */
export function outliving(storage: MemoryStorage): MemoryStorage {
  return new Proxy(storage, {
    get: (target, prop) => (prop === 'close' ? async () => {} : typeof Reflect.get(target, prop) === 'function' ? Reflect.get(target, prop).bind(target) : Reflect.get(target, prop)),
  });
}
