/** Devices for relay tests: enrolled over HTTP with a one-time code, an Engine on memory storage, a libp2p link. */
import { enroll, trustFor } from '@schoolmesh/client';
import { type RelayConnection, connectToRelay } from '@schoolmesh/client/node';
import { Engine } from '@schoolmesh/engine';
import type { DeviceIdentity, TrustStore } from '@schoolmesh/identity';
import type { Role } from '@schoolmesh/model';
import { MemoryStorage } from '@schoolmesh/storage';
import type { RelayProcess } from './relay-process.ts';

export interface RelayDevice {
  account: string;
  ref: string;
  identity: DeviceIdentity;
  trust: TrustStore;
  storage: MemoryStorage;
  engine: Engine;
  connection: RelayConnection | undefined;
  /** Connects (or reconnects) to a relay and waits until caught up. */
  online(relay?: RelayProcess, transport?: 'tcp' | 'ws'): Promise<void>;
  offline(): Promise<void>;
  close(): Promise<void>;
}

/** Enrolls a device for `account` at `relay` (a fresh code each time) and opens its engine; not yet online. */
export async function enrolledDevice(relay: RelayProcess, account: string, role: Role, displayName = account): Promise<RelayDevice> {
  const code = await relay.issueCode(account, role, displayName);
  const { identity, info } = await enroll(relay.http, { code });
  const trust = trustFor(info);
  const storage = new MemoryStorage();
  const engine = await Engine.open({ storage, identity, trust });
  let home = relay;
  const device: RelayDevice = {
    account,
    ref: `${account}@${info.school.id}`,
    identity,
    trust,
    storage,
    engine,
    connection: undefined,
    async online(r = home, transport: 'tcp' | 'ws' = 'tcp') {
      home = r;
      await device.offline();
      device.connection = await connectToRelay(engine, identity, r.info.relay, { loopbackOnly: true, transport });
      await device.connection.link.caughtUp();
    },
    async offline() {
      const c = device.connection;
      device.connection = undefined;
      if (c) await c.stop();
    },
    async close() {
      await device.offline();
      await engine.close();
    },
  };
  return device;
}

/** Waits until `check` passes; fails after `ms`. A wait for a condition, not a timing assertion. */
export async function until(check: () => boolean | Promise<boolean>, ms = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`${what} not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
