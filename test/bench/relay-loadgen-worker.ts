/**
 * A load-generator process of the relay benchmark (spawned by relay-loadgen.ts, driven over IPC). It simulates the
 * devices of some classes, either as Schoolmesh devices against a relay process (real certificates, real
 * membership logs, one libp2p connection and one sync session per device, real sealed entries) or as y-websocket
 * clients against @y/websocket-server (one WebsocketProvider per device and room). Posters and receivers of a class
 * live in the same process, so that latencies are measured on one clock.
 */
import '../setup/node-env.ts';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type AeadKey, aeadKey, randomBytes, signingKeyPairFromSeed } from '@schoolmesh/crypto';
import { type Entry, chainSeed, sealEntry } from '@schoolmesh/entries';
import { type DeviceIdentity, type SchoolAuthority, TrustStore, decodeAuthorityCertificate, enrollDevice } from '@schoolmesh/identity';
import { MembershipLog, type MembershipOp, createOp, newEpochBody } from '@schoolmesh/membership';
import { accountRef, bucketOf, defaultGroupPolicy } from '@schoolmesh/model';
import { epochIdOf } from '@schoolmesh/replica';
import type { SyncReplica } from '@schoolmesh/sync';
import { fromBase64Url } from '@schoolmesh/wire';
import { WebSocket } from 'ws';
import { WebsocketProvider } from 'y-websocket';
import { Awareness } from 'y-protocols/awareness';
import * as Y from 'yjs';
import { type LightConnection, connectLight, lightReplica } from './light-device.ts';
import type { ToParent, ToWorker } from './relay-loadgen.ts';

const MEMBERS = 30;

interface ClassState {
  index: number;
  group: string;
  heads: string[];
  ops: Uint8Array[];
  key?: AeadKey;
  epoch?: string;
  members: DeviceIdentity[];
}

interface Device {
  cls: number;
  member: number;
  close(): Promise<void>;
  /** Posts one message; `t0` is the moment of sending (performance.now()). Resolves when the server acknowledged. */
  post(t0: number): Promise<void>;
}

const send = (m: ToParent) => {
  if (process.connected) process.send!(m);
};
const sent = new Map<string, number>();
let latencies: number[] = [];
let measureFrom = Number.POSITIVE_INFINITY;
/** Deliveries count only for posts of the current run. */
let runFrom = Number.POSITIVE_INFINITY;
let delivered = 0;
const delay = monitorEventLoopDelay({ resolution: 5 });

function receipt(id: string, now: number): void {
  const t0 = sent.get(id);
  if (t0 === undefined || t0 < runFrom) return;
  delivered++;
  if (t0 >= measureFrom) latencies.push(now - t0);
}

/** Texts of the length chat messages have (the school-traffic mean is ~60 bytes of text, ~110 bytes of Yjs update). */
function chatBytes(): Uint8Array {
  const n = 40 + Math.floor(Math.random() * 140);
  return randomBytes(n);
}

let mode: 'relay' | 'yws' = 'relay';
const classes: ClassState[] = [];
const devices: Device[] = [];
let order: { cls: number; member: number }[] = [];
let connected = 0;
let failures = 0;
let trust: TrustStore;
let relayTcp: string[] = [];
let ywsUrl = '';
let pingIntervalMs = 10_000;
let seeder: LightConnection | undefined;
/** Sessions that closed while the benchmark still needed them, by reason. */
const dropped = new Map<string, number>();
let closing = false;

async function init(m: Extract<ToWorker, { cmd: 'init' }>): Promise<void> {
  mode = m.mode;
  const first = m.firstClass;
  if (mode === 'yws') {
    ywsUrl = m.url!;
    for (let c = 0; c < m.classes; c++) classes.push({ index: first + c, group: `klasse-${first + c}`, heads: [], ops: [], members: [] });
  } else {
    relayTcp = m.relay!.tcp;
    pingIntervalMs = m.relay!.pingIntervalMs;
    trust = new TrustStore(Date.now);
    trust.addSchool(fromBase64Url(m.relay!.root), m.relay!.name);
    const authority = await signingKeyPairFromSeed(fromBase64Url(m.relay!.authoritySeed));
    const authorityCert = decodeAuthorityCertificate(fromBase64Url(m.relay!.authorityCert));
    const school: SchoolAuthority = { id: authorityCert.school, name: authorityCert.schoolName, root: authority, authority, authorityCert };
    const now = Date.now();
    for (let c = 0; c < m.classes; c++) {
      const index = first + c;
      const members: DeviceIdentity[] = [];
      for (let i = 0; i < MEMBERS; i++)
        members.push(await enrollDevice(school, { account: i === 0 ? `lehrer${index}` : `s${index}_${i}`, role: i === 0 ? 'teacher' : 'pupil', now }));
      const [teacher, ...pupils] = members as [DeviceIdentity, ...DeviceIdentity[]];
      const create = await createOp(
        teacher,
        null,
        [],
        {
          type: 'create',
          kind: 'class',
          name: `Klasse ${index}`,
          policy: defaultGroupPolicy('class'),
          members: pupils.map((d) => ({ account: accountRef(school.id, d.certificate.account), role: 'member' as const })),
        },
        now,
      );
      const log = new MembershipLog(trust, create.group);
      const ops: MembershipOp[] = [create];
      await log.add(create);
      for (const d of pupils) {
        const op = await createOp(teacher, create.group, log.heads(), { type: 'add-device', certificate: d.certificate }, now);
        await log.add(op);
        ops.push(op);
      }
      const { body, key } = await newEpochBody(log.state());
      const rotate = await createOp(teacher, create.group, log.heads(), body, now);
      await log.add(rotate);
      ops.push(rotate);
      classes.push({
        index,
        group: create.group,
        heads: log.heads(),
        ops: ops.map((op) => op.bytes),
        key: await aeadKey(key),
        epoch: epochIdOf(rotate.id),
        members,
      });
    }
  }
  // Class by class, so that a partial scale still has whole classes.
  order = classes.flatMap((_, cls) => Array.from({ length: MEMBERS }, (__, member) => ({ cls, member })));
  send({ type: 'ready', devices: order.length });
}

/** One session that uploads the membership logs of this worker's classes (as the teachers' devices would). */
async function seed(): Promise<void> {
  if (mode !== 'relay') {
    send({ type: 'seeded' });
    return;
  }
  const byGroup = new Map(classes.map((c) => [c.group, c]));
  const base = lightReplica(
    classes.map((c) => ({ group: c.group, heads: c.heads })),
    () => {},
  );
  const replica: SyncReplica = { ...base, membershipFor: (group, theirs) => (theirs.length === 0 ? (byGroup.get(group)?.ops ?? []) : []) };
  seeder = await connectLight(classes[0]!.members[0]!, trust, relayTcp, replica);
  send({ type: 'seeded' });
}

/** A connected device, or undefined when five attempts failed (its class then sits out the fan-out). */
async function connectRelayDevice(cls: number, member: number): Promise<Device | undefined> {
  const c = classes[cls]!;
  const identity = c.members[member]!;
  const replica = lightReplica([{ group: c.group, heads: c.heads }], (entries: readonly Entry[]) => {
    const now = performance.now();
    for (const e of entries) receipt(`${e.group}|${e.author}|${e.seq}`, now);
  });
  let conn: LightConnection | undefined;
  for (let attempt = 0; !conn && attempt < 5; attempt++) {
    try {
      conn = await connectLight(identity, trust, relayTcp, replica, pingIntervalMs);
    } catch (error) {
      failures++;
      if (failures <= 5) console.error(`load generator: device ${cls}/${member} attempt ${attempt + 1} failed: ${(error as Error).message}`);
      if (attempt >= 4) break;
      await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    }
  }
  if (!conn) return undefined;
  const session = conn.session;
  session.onClose((reason) => {
    if (closing) return;
    const r = (reason ?? 'closed').slice(0, 80);
    dropped.set(r, (dropped.get(r) ?? 0) + 1);
  });
  // The device's chain in today's bucket: a new day starts a new chain at seq 1.
  let chain: { bucket: number; seq: number; prev: Uint8Array } = { bucket: -1, seq: 0, prev: new Uint8Array(0) };
  return {
    cls,
    member,
    close: () => conn.close(),
    post: async (t0) => {
      const bucket = bucketOf(Date.now());
      if (bucket !== chain.bucket) chain = { bucket, seq: 0, prev: chainSeed(c.group, bucket, identity.id) };
      const seq = ++chain.seq;
      const { entry, head } = await sealEntry(identity, c.key!, {
        kind: 'single',
        group: c.group,
        bucket,
        seq,
        epoch: c.epoch!,
        plaintext: chatBytes(),
        prev: chain.prev,
      });
      chain.prev = head;
      sent.set(`${entry.group}|${entry.author}|${entry.seq}`, t0);
      await session.pushEntries([entry]);
    },
  };
}

async function connectYwsDevice(cls: number, member: number): Promise<Device> {
  const c = classes[cls]!;
  const doc = new Y.Doc();
  const awareness = new Awareness(doc);
  // No presence: the stock client would re-broadcast presence, which the brief measured as its own bottleneck.
  awareness.setLocalState(null);
  const provider = new WebsocketProvider(ywsUrl, c.group, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    awareness,
    disableBc: true,
  });
  const messages = doc.getMap<{ text: string }>('m');
  messages.observe((event) => {
    if (event.transaction.local) return;
    const now = performance.now();
    for (const key of event.keysChanged) receipt(`${c.group}|${key}`, now);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('y-websocket client did not sync in 60 s')), 60_000);
    provider.once('sync', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const text = new TextDecoder();
  let seq = 0;
  return {
    cls,
    member,
    close: async () => {
      provider.destroy();
      doc.destroy();
    },
    post: async (t0) => {
      const key = `${doc.clientID}-${++seq}`;
      sent.set(`${c.group}|${key}`, t0);
      messages.set(key, { text: text.decode(chatBytes().map((b) => 97 + (b % 26))) });
    },
  };
}

async function connect(upTo: number, concurrency: number): Promise<void> {
  const target = Math.min(upTo, order.length);
  const started = performance.now();
  let next = connected;
  const runOne = async () => {
    while (next < target) {
      const { cls, member } = order[next++]!;
      const device = await (mode === 'relay' ? connectRelayDevice(cls, member) : connectYwsDevice(cls, member));
      if (device) devices.push(device);
      connected++;
    }
  };
  const progress = setInterval(() => console.error(`load generator ${process.pid}: ${connected} of ${target} devices connected (${failures} failed attempts)`), 30_000);
  try {
    await Promise.all(Array.from({ length: concurrency }, runOne));
  } finally {
    clearInterval(progress);
  }
  if (seeder) {
    await seeder.close();
    seeder = undefined;
  }
  const memory = process.memoryUsage();
  send({ type: 'connected', devices: connected, failures, dropped: Object.fromEntries(dropped), ms: performance.now() - started, rssMb: memory.rss / 2 ** 20 });
}

async function fanout(startAt: number, seconds: number, warmupSeconds: number, totalClasses: number, rankStart: number, rankStep: number): Promise<void> {
  // Only whole classes take part.
  const byClass = new Map<number, Device[]>();
  for (const d of devices) {
    const list = byClass.get(d.cls) ?? [];
    list.push(d);
    byClass.set(d.cls, list);
  }
  const active = [...byClass.entries()].filter(([, list]) => list.length === MEMBERS).map(([cls, list]) => ({ cls, list: list.sort((a, b) => a.member - b.member) }));
  const origin = performance.now() + (startAt - Date.now());
  measureFrom = origin + warmupSeconds * 1000;
  runFrom = origin - 1;
  latencies = [];
  delivered = 0;
  let posted = 0;
  let postErrors = 0;
  const acks: number[] = [];
  const timers: ReturnType<typeof setTimeout>[] = [];
  delay.reset();
  delay.enable();
  // The classes of all load generators post at evenly spread moments of each second (this one's j-th class has
  // rank rankStart + j * rankStep among all of them).
  for (const [j, { list }] of active.sort((a, b) => a.cls - b.cls).entries()) {
    const phase = (((rankStart + j * rankStep) % totalClasses) + 0.5) / totalClasses * 1000;
    for (let s = 0; s < seconds; s++) {
      const due = origin + s * 1000 + phase;
      timers.push(
        setTimeout(
          () => {
            const poster = list[s % MEMBERS]!;
            const t0 = performance.now();
            posted++;
            poster.post(t0).then(
              () => {
                if (t0 >= measureFrom) acks.push(performance.now() - t0);
              },
              () => postErrors++,
            );
          },
          Math.max(0, due - performance.now()),
        ),
      );
    }
  }
  await new Promise((r) => setTimeout(r, Math.max(0, origin - performance.now()) + seconds * 1000 + 3000));
  delay.disable();
  const measuredPosts = [...sent.values()].filter((t) => t >= measureFrom).length;
  send({
    type: 'fanout',
    classes: active.length,
    posted,
    postErrors,
    expectedDeliveries: posted * (MEMBERS - 1),
    delivered,
    measuredPosts,
    latencies,
    acks,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    loopDelayMaxMs: delay.max / 1e6,
    dropped: Object.fromEntries(dropped),
  });
  for (const t of timers) clearTimeout(t);
}

async function close(): Promise<void> {
  closing = true;
  // Close in parallel batches: closing thousands of libp2p nodes one by one takes long.
  for (let i = 0; i < devices.length; i += 200) await Promise.all(devices.slice(i, i + 200).map((d) => d.close().catch(() => {})));
  send({ type: 'closed' });
}

process.setMaxListeners(0);
process.on('message', (m: ToWorker) => {
  const run = async () => {
    if (m.cmd === 'init') await init(m);
    else if (m.cmd === 'seed') await seed();
    else if (m.cmd === 'connect') await connect(m.upTo, m.concurrency);
    else if (m.cmd === 'fanout') await fanout(m.startAt, m.seconds, m.warmupSeconds, m.totalClasses, m.rankStart, m.rankStep);
    else if (m.cmd === 'close') await close();
  };
  run().catch((error: Error) => send({ type: 'error', message: error.stack ?? error.message }));
});
process.on('disconnect', () => process.exit(0));
