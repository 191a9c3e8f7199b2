/**
 * Helpers of the security suite (test/security.test.ts): devices whose trust store and storage the test keeps,
 * a stand-in relay (a ciphertext-only Replica that authenticates with the school's authority certificate),
 * recording channels, and byte searches over a store. Real keys and real sync throughout; nothing is mocked.
 */
import { verifySignature } from '@schoolmesh/crypto';
import { Engine, deviceCredential, trustStoreVerifier } from '@schoolmesh/engine';
import {
  CONTEXT_AUTHORITY,
  type DeviceIdentity,
  type SchoolAuthority,
  type TrustStore,
  decodeAuthorityCertificate,
  enrollDevice,
  rootKeyOf,
} from '@schoolmesh/identity';
import type { GroupRole, Role } from '@schoolmesh/model';
import { Replica, epochIdOf } from '@schoolmesh/replica';
import { MemoryStorage, type StorageAdapter } from '@schoolmesh/storage';
import {
  type FrameChannel,
  type LocalCredential,
  type PeerInfo,
  type PeerVerifier,
  type SyncMessage,
  SyncSession,
  decodeMessage,
  memoryChannelPair,
} from '@schoolmesh/sync';
import { Encoder, concatBytes, toBase64Url } from '@schoolmesh/wire';
import { type TestSchool, eventually, link } from './school.ts';

export type LogLine = { level: 'debug' | 'warn'; message: string };

/** A device under test: its engine plus the trust store, storage and identity the test may reach into. */
export interface TestDevice {
  identity: DeviceIdentity;
  id: string;
  ref: string;
  trust: TrustStore;
  /** The store the engine writes to; its close() is a no-op so that a fresh engine can be opened on it. */
  storage: StorageAdapter;
  backing: MemoryStorage;
  engine: Engine;
  logs: LogLine[];
}

/** A MemoryStorage whose close() does nothing, so a second engine can open the same bytes ("restart"). */
export function reopenable(backing: MemoryStorage): StorageAdapter {
  return {
    load: (k) => backing.load(k),
    save: (k, d) => backing.save(k, d),
    remove: (k) => backing.remove(k),
    loadRange: (p, o) => backing.loadRange(p, o),
    keys: (p) => backing.keys(p),
    removeRange: (p) => backing.removeRange(p),
    batch: (ops) => backing.batch(ops),
    close: async () => {},
  };
}

export async function openEngine(s: TestSchool, identity: DeviceIdentity, trust: TrustStore, storage: StorageAdapter, logs: LogLine[]): Promise<Engine> {
  return Engine.open({ storage, identity, trust, clock: s.clock, log: (level, message) => logs.push({ level, message }) });
}

/** Enrolls (or takes) a device identity and opens an engine for it on its own memory store. */
export async function openDevice(
  s: TestSchool,
  account: string,
  role: Role,
  options: { identity?: DeviceIdentity; validDays?: number; trust?: TrustStore } = {},
): Promise<TestDevice> {
  const identity =
    options.identity ?? (await enrollDevice(s.school, { account, role, now: s.clock.now(), displayName: account, ...(options.validDays ? { validDays: options.validDays } : {}) }));
  const trust = options.trust ?? s.trust();
  const backing = new MemoryStorage();
  const storage = reopenable(backing);
  const logs: LogLine[] = [];
  const engine = await openEngine(s, identity, trust, storage, logs);
  return { identity, id: identity.id, ref: `${identity.certificate.account}@${identity.certificate.school}`, trust, storage, backing, engine, logs };
}

/** The 8-byte id entries carry for the group's current epoch. */
export function currentEpochId(device: TestDevice, group: string): string {
  const epoch = device.engine.state(group)?.currentEpoch;
  if (!epoch) throw new Error('group has no epoch');
  return epochIdOf(epoch);
}

/** Waits until `device` is a listed reader of `group` and holds its current key (as seen by `owner`). */
export async function untilReady(owner: TestDevice, device: TestDevice, group: string): Promise<void> {
  await eventually(() => {
    const state = owner.engine.state(group);
    if (!state?.currentEpoch || !device.engine.canRead(group)) return false;
    return device.engine.holdsKey(group, epochIdOf(state.currentEpoch));
  });
}

export interface Classroom {
  s: TestSchool;
  teacher: TestDevice;
  ben: TestDevice;
  mia: TestDevice;
  group: string;
}

/** A class group: teacher (owner) and two pupils as members, all linked directly and holding the key. */
export async function classroom(s: TestSchool, extra: { account: string; role: GroupRole }[] = []): Promise<Classroom> {
  const teacher = await openDevice(s, 'schmidt', 'teacher');
  const ben = await openDevice(s, 'ben', 'pupil');
  const mia = await openDevice(s, 'mia', 'pupil');
  const group = await teacher.engine.createGroup({
    kind: 'class',
    name: 'Klasse 7a',
    members: [{ account: s.ref('ben'), role: 'member' }, { account: s.ref('mia'), role: 'member' }, ...extra.map((e) => ({ account: s.ref(e.account), role: e.role }))],
  });
  // One pupil at a time, so that each catch-up is complete; ben reconnects at the end to learn of mia's device.
  for (const pupil of [ben, mia, ben]) {
    const l = link(teacher.engine, pupil.engine);
    await untilReady(teacher, pupil, group);
    await eventually(() => pupil.engine.state(group)!.devices.size === teacher.engine.state(group)!.devices.size);
    await teacher.engine.idle();
    await pupil.engine.idle();
    l.close();
    await settle();
  }
  await eventually(() => [teacher, ben, mia].every((d) => d.engine.state(group)!.devices.size === 3));
  return { s, teacher, ben, mia, group };
}

/** Lets queued microtasks and short timers run (memory channels deliver asynchronously). */
export async function settle(ms = 30): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

// ------------------------------------------------------------------ the stand-in relay

/**
 * What a school relay runs at the ciphertext level: a Replica with its own store and trust store, no content
 * keys. It authenticates with the school's authority certificate and key. Relay admission proper (libp2p,
 * Noise, federation) is the relay issue; this is the smallest faithful stand-in for the sync layer's checks.
 */
export interface TestRelay {
  replica: Replica;
  backing: MemoryStorage;
  trust: TrustStore;
  credential: LocalCredential;
}

export async function openRelay(s: TestSchool, school: SchoolAuthority = s.school): Promise<TestRelay> {
  const backing = new MemoryStorage();
  const trust = s.trust();
  const replica = await Replica.open({ storage: backing, trust, clock: () => s.clock.now() });
  return { replica, backing, trust, credential: authorityCredential(school) };
}

export function authorityCredential(school: SchoolAuthority): LocalCredential {
  return { kind: 'authority', bytes: school.authorityCert.bytes, sign: (m) => school.authority.sign(m) };
}

/** Accepts devices of trusted schools (as an engine does) and authority certificates signed by a trusted root. */
export function relayAwareVerifier(trust: TrustStore, now: () => number): PeerVerifier {
  const devices = trustStoreVerifier(trust);
  return {
    async verify(kind, credential) {
      if (kind === 'device') return devices.verify(kind, credential);
      const cert = decodeAuthorityCertificate(credential);
      const root = rootKeyOf(cert.school);
      if (!root || !trust.hasSchool(cert.school)) throw new Error('authority of an untrusted school');
      const body = credential.subarray(0, credential.length - 64);
      const signed = concatBytes(new Encoder(64).string(CONTEXT_AUTHORITY).finish(), body);
      if (!(await verifySignature(root, signed, cert.signature))) throw new Error('authority not signed by its root');
      const t = now();
      if (t < cert.notBefore || t >= cert.notAfter) throw new Error('authority certificate not valid now');
      const peer: PeerInfo = { kind: 'relay', id: toBase64Url(cert.authorityKey), school: cert.school };
      return { peer, publicKey: cert.authorityKey };
    },
  };
}

/**
 * A sync session pair between a device and the relay over a memory channel; the device's end records every frame.
 * `results` settles when both handshakes have ended, either way.
 */
export function relaySession(s: TestSchool, relay: TestRelay, device: TestDevice) {
  const [cr, cd] = memoryChannelPair();
  const toDevice = recording(cd);
  const now = () => s.clock.now();
  const rs = new SyncSession({ channel: cr, replica: relay.replica, credential: relay.credential, verifier: relayAwareVerifier(relay.trust, now), agent: 'test-relay' });
  const ds = new SyncSession({
    channel: toDevice,
    replica: device.engine.replica,
    credential: deviceCredential(device.identity),
    verifier: relayAwareVerifier(device.trust, now),
    agent: 'test-device',
  });
  const results = Promise.allSettled([rs.start(), ds.start()]);
  return { relay: rs, device: ds, toDevice, results, close: () => {
      rs.close();
      ds.close();
    } };
}

/** One catch-up round between a device and the relay over a memory channel, then the channel is closed. */
export async function syncWithRelay(s: TestSchool, relay: TestRelay, device: TestDevice): Promise<void> {
  const session = relaySession(s, relay, device);
  const [a, b] = await session.results;
  if (a.status === 'rejected' || b.status === 'rejected') throw new Error(`relay handshake failed: ${session.relay.closeReason ?? session.device.closeReason}`);
  await Promise.all([session.relay.caughtUp(), session.device.caughtUp()]);
  await device.engine.idle();
  await settle();
  session.close();
}

// ------------------------------------------------------------------ channels and bytes

/** A channel that keeps a copy of every frame sent and received through it. */
export function recording(channel: FrameChannel): FrameChannel & { sent: Uint8Array[]; received: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  const received: Uint8Array[] = [];
  const handlers: ((f: Uint8Array) => void)[] = [];
  channel.onFrame((f) => {
    received.push(f.slice());
    for (const h of handlers) h(f);
  });
  return {
    sent,
    received,
    send: (f) => {
      sent.push(f.slice());
      channel.send(f);
    },
    close: (reason) => channel.close(reason),
    onFrame: (h) => handlers.push(h),
    onClose: (h) => channel.onClose(h),
  };
}

/**
 * A hand-driven end of a channel: the test reads every frame the other side sends and sends raw frames of its
 * choosing (a replaying or reflecting attacker).
 */
export function attackerEnd(channel: FrameChannel): { got: SyncMessage[]; raw: Uint8Array[]; send: (f: Uint8Array) => void; closed: () => boolean } {
  const got: SyncMessage[] = [];
  const raw: Uint8Array[] = [];
  let closed = false;
  channel.onFrame((f) => {
    raw.push(f.slice());
    got.push(decodeMessage(f));
  });
  channel.onClose(() => {
    closed = true;
  });
  return {
    got,
    raw,
    send: (f) => {
      if (!closed) channel.send(f);
    },
    closed: () => closed,
  };
}

export function types(frames: readonly Uint8Array[] | readonly SyncMessage[]): string[] {
  return frames.map((f) => (f instanceof Uint8Array ? decodeMessage(f).type : f.type));
}

/** Every key and value of a memory store, concatenated (keys as UTF-8). */
export async function storedBytes(storage: MemoryStorage): Promise<Uint8Array> {
  const records = await storage.loadRange([]);
  const utf8 = new TextEncoder();
  return concatBytes(...records.flatMap((r) => [utf8.encode(r.key.join('\u0000')), r.data]));
}

export function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  if (needle.length === 0) return true;
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
