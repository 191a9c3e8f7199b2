/**
 * Cross-package convergence (engine + content + membership + entries + replica + sync).
 *
 * 1. Devices of a small school act on a class group (posts, edits, deletes, reactions, read marks, add/remove
 *    member, role changes) while the network partitions and heals at random through the real sync protocol.
 *    Afterwards everyone connects (full mesh, or a star through the teacher) and, once nothing moves, every device
 *    of a member account must hold the same membership log and state, and every device that can read the group
 *    the same chains and messages.
 * 2. One recorded history is fed to fresh replicas (Replica.addOps / applyEntries) in shuffled, duplicated,
 *    partial batches, then repaired the way the sync protocol does (all ops, then the entries a version vector
 *    lacks); the result must equal in-order delivery, and no chain may ever go backwards or leave the history.
 *
 * Key generation and certificates are the slow part: they happen once in beforeAll. Each run opens fresh engines
 * on MemoryStorage. All replicas share one ManualClock, so bucket numbers are deterministic.
 *
 * Reproduce one case: CONVERGENCE_PATH=<path from the failure> npx vitest run test/convergence.property.test.ts
 * (property 1 also depends on the timing of async crypto, so a path may need a few tries; property 2 is exact).
 */
import { type ChatMessage, ContentError } from '@schoolmesh/content';
import { Engine, EngineError, ManualClock } from '@schoolmesh/engine';
import { type Entry, chainHash, chainSeed } from '@schoolmesh/entries';
import type { DeviceIdentity, TrustStore } from '@schoolmesh/identity';
import { MembershipLog, canRead } from '@schoolmesh/membership';
import type { GroupRole } from '@schoolmesh/model';
import { epochIdOf } from '@schoolmesh/replica';
import { MemoryStorage } from '@schoolmesh/storage';
import { toBase64Url } from '@schoolmesh/wire';
import fc from 'fast-check';
import { beforeAll, describe, it } from 'vitest';
import { Mesh, assertEqual, chainsFingerprint, logFingerprint } from './support/convergence.ts';
import { T0, type TestSchool, testSchool } from './support/school.ts';

const HOUR = 60 * 60 * 1000;
/**
 * Fixed seed. Run 10 of property 1 (path "9") meets a sync bug with it: a session summarizes a group only once
 * (SyncSession.refreshGroup), so a peer that could not read when it asked for entries never gets them.
 */
const SEED = 1;
/** Runs per property; together at least 1,000 (CI requirement). */
const RUNS = { network: 300, deliveryPlain: 400, deliveryRevoked: 300 };
const replayPath = process.env.CONVERGENCE_PATH ? { path: process.env.CONVERGENCE_PATH } : {};

const clock = new ManualClock(T0);
let school: TestSchool;
/** Device identities by name; ben2 is a second device of ben's account. */
const ids = new Map<string, DeviceIdentity>();
/** One trust store per device, kept across runs like a device keeps its own. */
const trusts = new Map<DeviceIdentity, TrustStore>();
const ACCOUNTS = ['schmidt', 'ben', 'clara', 'dana'] as const;

beforeAll(async () => {
  school = await testSchool('Gesamtschule Nord', clock);
  const specs: [string, string, 'teacher' | 'pupil'][] = [
    ['schmidt', 'schmidt', 'teacher'],
    ['ben', 'ben', 'pupil'],
    ['ben2', 'ben', 'pupil'],
    ['clara', 'clara', 'pupil'],
    ['dana', 'dana', 'pupil'],
  ];
  for (const [name, account, role] of specs) {
    const identity = await school.device(account, role);
    ids.set(name, identity);
    trusts.set(identity, school.trust());
  }
});

const trustOf = (name: string) => trusts.get(ids.get(name)!)!;

function openEngine(identity: DeviceIdentity, warnings: string[], autoKeys = true): Promise<Engine> {
  return Engine.open({
    storage: new MemoryStorage(),
    identity,
    trust: trusts.get(identity)!,
    clock,
    autoKeys,
    log: (level, message) => level === 'warn' && warnings.push(message),
  });
}

/** Errors a device legitimately meets when it acts on a partial view; anything else fails the property. */
function expected(error: unknown): boolean {
  return error instanceof EngineError || error instanceof ContentError;
}

/** Cheap summary of everything that changes while engines sync; used only to detect that nothing moves. */
async function activity(engines: readonly Engine[], group: string): Promise<string> {
  const parts: string[] = [];
  for (const e of engines) {
    const log = e.replica.log(group);
    parts.push(`${log?.heads().join(',')}/${log?.pendingIds().length}/${e.keys.epochs(group).length}/${await chainsFingerprint(e.replica, group)}`);
  }
  return parts.join('|');
}

/** Messages of the given buckets, the form the UI shows (authors resolved to device ids). */
async function allMessages(engine: Engine, group: string, buckets: readonly number[]): Promise<Record<number, ChatMessage[]>> {
  const out: Record<number, ChatMessage[]> = {};
  for (const b of buckets) out[b] = await engine.messages(group, b);
  return out;
}

/**
 * Messages once they stop changing. Entries that arrive for an open bucket are decrypted into it outside the
 * engine's write queue (`idle()` does not cover it; the UI learns of it by a 'messages' event), so poll.
 */
async function settledMessages(engine: Engine, group: string, buckets: readonly number[]): Promise<string> {
  let last = '';
  let stable = 0;
  const end = Date.now() + 5_000;
  for (;;) {
    await engine.idle();
    const now = JSON.stringify(await allMessages(engine, group, buckets));
    if (now === last && ++stable >= 3) return now;
    if (now !== last) stable = 0;
    last = now;
    if (Date.now() > end) return now;
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function visibleMessages(engine: Engine, group: string): Promise<ChatMessage[]> {
  if (!engine.state(group)) return [];
  const out: ChatMessage[] = [];
  for (const b of engine.liveBuckets(group)) out.push(...(await engine.messages(group, b)));
  return out;
}

/** Every op any of the replicas accepted, resolved once by a fresh log: the state all of them must reach. */
function unionLog(replicas: readonly { replica: Engine['replica'] }[], group: string): MembershipLog {
  const log = new MembershipLog(trustOf('schmidt'), group);
  for (const { replica } of replicas) for (const bytes of replica.membershipFor(group, [])) log.restore(bytes);
  return log;
}

// ------------------------------------------------------------------------------------------------ property 1

type Action =
  | { t: 'post'; d: number }
  | { t: 'edit' | 'delete'; d: number; m: number }
  | { t: 'react'; d: number; m: number; emoji: string | null }
  | { t: 'read'; d: number; m: number }
  | { t: 'add' | 'setRole'; d: number; a: number; role: GroupRole }
  | { t: 'remove'; d: number; a: number }
  | { t: 'link' | 'unlink'; i: number; j: number }
  | { t: 'settle' }
  | { t: 'tick'; hours: number };

const dev = fc.nat(3);
const msg = fc.nat(20);
const role = fc.constantFrom<GroupRole>('owner', 'moderator', 'member', 'reader');
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('post' as const), d: dev }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constantFrom('edit' as const, 'delete' as const), d: dev, m: msg }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('react' as const), d: dev, m: msg, emoji: fc.constantFrom('👍', '🎉', null) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('read' as const), d: dev, m: msg }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constantFrom('add' as const, 'setRole' as const), d: dev, a: fc.nat(3), role }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('remove' as const), d: dev, a: fc.nat(3) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constantFrom('link' as const, 'unlink' as const), i: dev, j: dev }) },
  { weight: 1, arbitrary: fc.constant({ t: 'settle' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('tick' as const), hours: fc.integer({ min: 1, max: 9 }) }) },
);

const scenarioArb = fc.record({
  /** The fourth device: none, another pupil, or a second device of ben's account. */
  fourth: fc.constantFrom('none', 'dana', 'ben2'),
  /** Pupils in the group from its creation (the others may be added by an action). */
  initial: fc.subarray(['ben', 'clara', 'dana']),
  /** Start with everyone connected to the teacher until quiet, then partitioned. */
  warmUp: fc.boolean(),
  actions: fc.array(actionArb, { minLength: 5, maxLength: 20 }),
  /**
   * How everyone is connected at the end: a full mesh, or a star through the teacher (the shape of devices around
   * a relay; the hub forwards). A star needs a hub that reads the group, so without one it is a mesh too.
   */
  heal: fc.constantFrom('mesh', 'star'),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer S> ? S : never;

async function runNetworkScenario(sc: Scenario): Promise<void> {
  clock.set(T0);
  const names = ['schmidt', 'ben', 'clara', ...(sc.fourth === 'none' ? [] : [sc.fourth])];
  const warnings: string[] = [];
  const engines = await Promise.all(names.map((n) => openEngine(ids.get(n)!, warnings)));
  const n = engines.length;
  const mesh = new Mesh(engines);
  const posted: { bucket: number; key: string }[][] = engines.map(() => []);
  try {
    const group = await engines[0]!.createGroup({
      kind: 'class',
      name: 'Klasse 7a',
      members: sc.initial.map((a) => ({ account: school.ref(a), role: 'member' as const })),
    });
    const fingerprint = () => activity(engines, group);
    if (sc.warmUp) {
      for (let j = 1; j < n; j++) mesh.connect(0, j);
      await mesh.quiesce(fingerprint);
      mesh.disconnectAll();
    }
    for (const [step, a] of sc.actions.entries()) {
      try {
        switch (a.t) {
          case 'post':
            posted[a.d % n]!.push(await engines[a.d % n]!.post(group, { text: `${names[a.d % n]} #${step}` }));
            break;
          case 'edit':
          case 'delete': {
            const own = posted[a.d % n]!;
            if (own.length === 0) break;
            const m = own[a.m % own.length]!;
            const e = engines[a.d % n]!;
            if (a.t === 'edit') await e.edit(group, m.bucket, m.key, `edited #${step}`);
            else await e.deleteForEveryone(group, m.bucket, m.key);
            break;
          }
          case 'react':
          case 'read': {
            const e = engines[a.d % n]!;
            const visible = await visibleMessages(e, group);
            if (visible.length === 0) break;
            const m = visible[a.m % visible.length]!;
            if (a.t === 'react') await e.react(group, m.bucket, m.key, a.emoji);
            else await e.markRead(group, m.bucket, m.key);
            break;
          }
          case 'add':
            await engines[a.d % n]!.addMember(group, school.ref(ACCOUNTS[a.a]!), a.role);
            break;
          case 'setRole':
            await engines[a.d % n]!.setRole(group, school.ref(ACCOUNTS[a.a]!), a.role);
            break;
          case 'remove':
            await engines[a.d % n]!.removeMember(group, school.ref(ACCOUNTS[a.a]!));
            break;
          case 'link':
            mesh.connect(a.i % n, a.j % n);
            break;
          case 'unlink':
            mesh.disconnect(a.i % n, a.j % n);
            break;
          case 'settle':
            await mesh.quiesce(fingerprint, { limitMs: 2_000 });
            break;
          case 'tick':
            clock.advance(a.hours * HOUR);
            break;
        }
      } catch (error) {
        if (!expected(error)) throw error;
      }
      if (mesh.failures.length > 0) throw new Error(`sync failed at step ${step}: ${mesh.failures.join('; ')}`);
    }

    // Heal: fresh sessions (so each pair catches up) in a full mesh or a star, until nothing moves.
    mesh.disconnectAll();
    const hubReads = canRead(unionLog(engines, group).state(), engines[0]!.deviceId);
    if (sc.heal === 'star' && hubReads) for (let j = 1; j < n; j++) mesh.connect(0, j);
    else mesh.fullMesh();
    if (!(await mesh.quiesce(fingerprint, { limitMs: 10_000 })))
      throw new Error(`replicas never became quiescent: ${mesh.failures.join('; ') || 'livelock?'}\n${await fingerprint()}`);
    await checkConverged(engines, names, group, mesh, warnings);
  } finally {
    mesh.disconnectAll();
    await Promise.all(engines.map((e) => e.close()));
  }
}

async function checkConverged(engines: Engine[], names: string[], group: string, mesh: Mesh, warnings: string[]): Promise<void> {
  if (mesh.failures.length > 0) throw new Error(`sync sessions failed: ${mesh.failures.join('; ')}`);
  const reference = unionLog(engines, group);
  const refState = reference.state();
  const expectedLog = logFingerprint(reference);
  const context = `\n  warnings: ${warnings.slice(0, 6).join(' | ')}`;
  // Every device of a member account (listed or not) may know the log, so it must hold all of it.
  for (const [i, e] of engines.entries()) {
    if (!refState.members.has(e.account)) continue;
    const log = e.replica.log(group);
    if (!log || logFingerprint(log) !== expectedLog)
      throw new Error(`membership of ${names[i]} diverged from the union of all logs:\n  ${explainLog(engines, names, reference, log)}${context}`);
  }
  // Every device that can read the group holds the same chains and shows the same messages.
  const readers = engines.map((e, i) => ({ e, name: names[i]! })).filter(({ e }) => canRead(refState, e.deviceId));
  if (readers.length === 0) return;
  const buckets = [...new Set(readers.flatMap(({ e }) => e.liveBuckets(group)))].sort((a, b) => a - b);
  const first = readers[0]!;
  const chains = await chainsFingerprint(first.e.replica, group);
  const messages = await settledMessages(first.e, group, buckets);
  for (const r of readers.slice(1)) {
    const got = await chainsFingerprint(r.e.replica, group);
    if (got !== chains) throw new Error(`chains of ${r.name} and ${first.name} diverged:\n  ${await explainChains(readers, engines, names, group, reference)}${context}`);
    assertEqual(await settledMessages(r.e, group, buckets), messages, `messages of ${r.name} vs ${first.name}`);
  }
}

function nameOf(devices: readonly { deviceId: string }[], names: readonly string[], deviceId: string): string {
  return names[devices.findIndex((e) => e.deviceId === deviceId)] ?? deviceId.slice(0, 6);
}

/** Which ops a diverging replica lacks, who wrote them and who holds them, and which parts of its state differ. */
function explainLog(engines: Engine[], names: string[], reference: MembershipLog, log: MembershipLog | undefined): string {
  const lines: string[] = [];
  for (const op of reference.ops()) {
    if (log?.has(op.id)) continue;
    const holders = engines.map((e, i) => (e.replica.log(op.group)?.has(op.id) ? names[i] : undefined)).filter(Boolean);
    const b = op.body;
    const what = b.type === 'add-device' ? `add-device of ${b.certificate.account}` : 'account' in b ? `${b.type} ${b.account.split('@')[0]}` : b.type;
    lines.push(`lacks ${op.id.slice(0, 6)}: ${what} by ${nameOf(engines, names, toBase64Url(op.author.deviceKey))}, held by ${holders.join(',')}, pending here: ${!!log?.pendingIds().includes(op.id)}`);
  }
  if (log) {
    const a = JSON.parse(logFingerprint(log));
    const b = JSON.parse(logFingerprint(reference));
    for (const k of ['order', 'heads', 'pending']) if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) lines.push(`${k} differs`);
    for (const k of Object.keys(b.state))
      if (JSON.stringify(a.state[k]) !== JSON.stringify(b.state[k])) lines.push(`state.${k}: ${JSON.stringify(a.state[k])}\n    expected ${JSON.stringify(b.state[k])}`);
  }
  return lines.join('\n  ');
}

/** For chains that differ between readers: who holds which entries, under which epoch, and what became of it. */
async function explainChains(readers: { e: Engine; name: string }[], engines: Engine[], names: string[], group: string, reference: MembershipLog): Promise<string> {
  const st = reference.state();
  const rotations = new Map(reference.ops().filter((o) => o.body.type === 'rotate-key').map((o) => [epochIdOf(o.id), o]));
  const author = (id: string) => {
    const device = st.devices.get(id);
    const role = device ? st.members.get(device.account) : undefined;
    return `${nameOf(engines, names, id)} (${device ? `listed, role ${role}` : 'not a listed device'})`;
  };
  const lines: string[] = [];
  for (const { e, name } of readers) {
    for (const b of e.liveBuckets(group)) {
      const v = await e.replica.vector(group, b);
      for (const [a, seq] of v) {
        const entries = (await e.replica.bucketEntries(group, b)).filter((x) => x.author === a);
        const epochs = [...new Set(entries.map((x) => x.epoch))].map((ep) => {
          const op = rotations.get(ep);
          return `${ep}: ${!op ? 'no rotate-key op' : st.epochs.includes(op.id) ? 'valid epoch' : `rotate-key ignored (${st.ignored.find((i) => i.op === op.id)?.reason})`}`;
        });
        lines.push(`${name} holds bucket ${b}, author ${author(a)}: seq ${seq}, epochs ${epochs.join(', ')}`);
      }
    }
  }
  return lines.join('\n  ');
}

// ------------------------------------------------------------------------------------------------ property 2

/** What one step of the recorded history produced: new membership ops (parents first) and new entries (signed). */
interface Step {
  label: string;
  ops: Uint8Array[];
  entries: Entry[];
}

interface History {
  group: string;
  steps: Step[];
  /** Steps before this index revoke nobody who wrote entries; from it on, a poster is removed and one demoted. */
  revocationsFrom: number;
  /** The clock when recording ended (buckets must still be live when replayed). */
  end: number;
}

let history: History;

/**
 * Records a history once: a teacher and three pupils, partitions, two days, a key rotation, concurrent posting
 * under the old key; then (from `revocationsFrom`) clara, who posted, is removed and ben demoted to reader.
 */
async function recordHistory(): Promise<History> {
  clock.set(T0);
  const names = ['schmidt', 'ben', 'clara', 'dana'];
  const warnings: string[] = [];
  const engines = await Promise.all(names.map((n) => openEngine(ids.get(n)!, warnings)));
  const [t, b, c] = engines as [Engine, Engine, Engine, Engine];
  const mesh = new Mesh(engines);
  const written: Entry[] = [];
  for (const e of engines) e.replica.on((ev) => ev.type === 'entries' && written.push(...ev.entries.filter((x) => x.author === e.deviceId)));
  const seen = new Set<string>();
  const steps: Step[] = [];
  let group = '';
  const step = async (label: string, fn: () => Promise<unknown>) => {
    await fn();
    if (!(await mesh.quiesce(() => activity(engines, group)))) throw new Error(`recording: no quiescence after ${label}`);
    const ops = unionLog(engines, group)
      .ops()
      .filter((o) => !seen.has(o.id));
    for (const o of ops) seen.add(o.id);
    steps.push({ label, ops: ops.map((o) => o.bytes), entries: written.splice(0) });
  };
  const star = () => {
    for (const j of [1, 2, 3]) mesh.connect(0, j);
  };
  const last = async (e: Engine, from: Engine) => (await visibleMessages(e, group)).filter((m) => m.author === from.deviceId).at(-1)!;
  const members = ['ben', 'clara', 'dana'].map((a) => ({ account: school.ref(a), role: 'member' as const }));
  await step('create', async () => (group = await t.createGroup({ kind: 'class', name: 'Klasse 7a', members })));
  await step('everyone joins through the teacher', async () => star());
  await step('teacher posts', () => t.post(group, { text: 'Guten Morgen, 7a!' }));
  await step('ben posts', () => b.post(group, { text: 'Morgen!' }));
  await step('clara posts twice', async () => {
    await c.post(group, { text: 'Hallo' });
    await c.post(group, { text: 'Hausaufgaben?' });
  });
  await step('clara edits', async () => c.edit(group, (await last(c, c)).bucket, (await last(c, c)).key, 'Hausaufgaben bis Freitag?'));
  await step('ben reacts to the teacher', async () => b.react(group, (await last(b, t)).bucket, (await last(b, t)).key, '👍'));
  await step('ben reads', async () => b.markRead(group, (await last(b, c)).bucket, (await last(b, c)).key));
  await step('ben goes offline', async () => mesh.disconnect(0, 1));
  await step('teacher rotates the key', () => t.rotateKey(group));
  await step('teacher posts and deletes', async () => {
    const p = await t.post(group, { text: 'versehentlich' });
    await t.deleteForEveryone(group, p.bucket, p.key);
  });
  await step('ben posts offline under the old key', async () => {
    await b.post(group, { text: 'offline 1' });
    await b.post(group, { text: 'offline 2' });
  });
  await step('clara posts under the new key', () => c.post(group, { text: 'neuer Schlüssel' }));
  await step('next day', async () => clock.advance(20 * HOUR));
  await step('ben comes back', async () => star());
  await step('everyone posts on day two', async () => {
    for (const e of [t, b, c]) await e.post(group, { text: `Tag 2 von ${e.account.split('@')[0]}` });
  });
  await step('clara reacts to yesterday', async () => {
    const first = (await visibleMessages(c, group))[0]!;
    await c.react(group, first.bucket, first.key, '🎉');
  });
  await step('clara edits yesterday', async () => {
    const mine = (await visibleMessages(c, group)).find((m) => m.author === c.deviceId && m.bucket < (t.liveBuckets(group).at(-1) ?? 0))!;
    await c.edit(group, mine.bucket, mine.key, 'Hallo (bearbeitet)');
  });
  const revocationsFrom = steps.length;
  await step('teacher removes clara', () => t.removeMember(group, school.ref('clara')));
  await step('teacher makes ben a reader', () => t.setRole(group, school.ref('ben'), 'reader'));
  await step('teacher posts after the revocations', () => t.post(group, { text: 'Nur noch Lesen für Ben' }));
  mesh.disconnectAll();
  const end = clock.now();
  await Promise.all(engines.map((e) => e.close()));
  if (steps.some((s) => s.entries.some((e) => !e.signature))) throw new Error('recording: an entry was captured without its signature');
  return { group, steps, revocationsFrom, end };
}

/** One delivery item: an op or an entry, in history order. */
type Item = { kind: 'op'; bytes: Uint8Array } | { kind: 'entry'; entry: Entry };

function itemsOf(steps: readonly Step[]): Item[] {
  return steps.flatMap((s) => [...s.ops.map((bytes) => ({ kind: 'op' as const, bytes })), ...s.entries.map((entry) => ({ kind: 'entry' as const, entry }))]);
}

/**
 * A delivery: batches, each the concatenation of segments of the history (a slice in order or reversed, sent
 * "live" with every entry signed or "catch-up" style with only the segment's last entry signed), after the ops of
 * a prefix of the history arrived in order; a batch's ops
 * go to addOps and its entries to applyEntries (in either order); `peek` opens the bucket documents first, so
 * later entries take the engine's incremental path. Then the repair: every op in `opsOrder`, and per bucket the
 * entries the replica's version vector lacks.
 */
const deliveryArb = (items: number) =>
  fc.record({
    batches: fc.array(
      fc.record({
        segments: fc.array(
          fc.record({
            start: fc.nat(items - 1),
            length: fc.integer({ min: 1, max: 6 }),
            /** Start where the previous segment of the batch started (a duplicate of the beginning of a run). */
            again: fc.boolean(),
            reversed: fc.boolean(),
            catchUp: fc.boolean(),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        opsFirst: fc.boolean(),
        peek: fc.boolean(),
      }),
      { minLength: 1, maxLength: 10 },
    ),
    /** How many history items' ops arrive in order before the batches (so the batches' entries often fit). */
    known: fc.nat(items),
    opsOrder: fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
  });

type Delivery = typeof deliveryArb extends (n: number) => fc.Arbitrary<infer D> ? D : never;

interface Replay {
  engine: Engine;
  log: string;
  chains: string;
  messages: string;
  buckets: number[];
  /** `${bucket}/${author}/${seq}` → chain head after that entry, as the author wrote it. */
  heads: Map<string, string>;
}

/** The observer: dana's device (a member throughout, never an author), with autoKeys off so it signs nothing. */
function openObserver(warnings: string[]): Promise<Engine> {
  return openEngine(ids.get('dana')!, warnings, false);
}

async function replayInOrder(steps: readonly Step[]): Promise<Replay> {
  clock.set(history.end);
  const engine = await openObserver([]);
  for (const s of steps) {
    const ops = await engine.replica.addOps(history.group, s.ops);
    const entries = s.entries.length > 0 ? await engine.replica.applyEntries(s.entries) : { rejected: 0, reason: '' };
    if (ops.rejected > 0 || entries.rejected > 0) throw new Error(`in-order delivery refused part of "${s.label}": ${ops.reasons.join('; ')} ${entries.reason}`);
  }
  await engine.idle();
  const heads = new Map<string, string>();
  const chains = new Map<string, Uint8Array>();
  for (const s of steps) {
    for (const e of s.entries) {
      const id = `${e.bucket}/${e.author}`;
      const head = chainHash(chains.get(id) ?? chainSeed(e.group, e.bucket, e.author), e);
      chains.set(id, head);
      heads.set(`${id}/${e.seq}`, toBase64Url(head));
    }
  }
  const buckets = engine.liveBuckets(history.group);
  return {
    engine,
    log: logFingerprint(engine.replica.log(history.group)!),
    chains: await chainsFingerprint(engine.replica, history.group),
    messages: await settledMessages(engine, history.group, buckets),
    buckets,
    heads,
  };
}

async function runDelivery(reference: Replay, steps: readonly Step[], d: Delivery): Promise<void> {
  clock.set(history.end);
  const { group } = history;
  const items = itemsOf(steps);
  const warnings: string[] = [];
  const engine = await openObserver(warnings);
  const replica = engine.replica;
  const seqs = new Map<string, number>();
  try {
    const known = items.slice(0, d.known).flatMap((i) => (i.kind === 'op' ? [i.bytes] : []));
    if (known.length > 0) await replica.addOps(group, known);
    for (const [n, batch] of d.batches.entries()) {
      const ops: Uint8Array[] = [];
      const entries: Entry[] = [];
      let previousStart = 0;
      for (const seg of batch.segments) {
        const start = seg.again ? previousStart : seg.start;
        previousStart = start;
        const slice = items.slice(start, start + seg.length);
        if (seg.reversed) slice.reverse();
        const segEntries = slice.filter((i) => i.kind === 'entry').map((i) => i.entry);
        ops.push(...slice.filter((i) => i.kind === 'op').map((i) => i.bytes));
        entries.push(...segEntries.map((e, k) => (seg.catchUp && k < segEntries.length - 1 ? { ...e, signature: undefined } : e)));
      }
      if (batch.peek && engine.state(group)) for (const b of reference.buckets) await engine.messages(group, b);
      const deliverOps = () => (ops.length > 0 ? replica.addOps(null, ops) : undefined);
      const deliverEntries = async () => {
        if (entries.length === 0) return;
        const { accepted } = await replica.applyEntries(entries);
        // What a replica accepted, its chain must cover: else it advertises less than it stores, and takes it again.
        for (const e of accepted) {
          const seq = replica.chain(group, e.bucket, e.author)?.seq ?? 0;
          if (seq < e.seq) throw new Error(`batch ${n}: applyEntries accepted seq ${e.seq} of a chain, which then stands at seq ${seq}`);
        }
      };
      if (batch.opsFirst) {
        await deliverOps();
        await deliverEntries();
      } else {
        await deliverEntries();
        await deliverOps();
      }
      await engine.idle();
      // Invariants while delivery is partial: chains only grow, and only along the history.
      for (const b of replica.liveBuckets(group)) {
        for (const [author, seq] of await replica.vector(group, b)) {
          const id = `${b}/${author}`;
          const before = seqs.get(id) ?? 0;
          if (seq < before) throw new Error(`batch ${n}: chain ${id.slice(0, 20)}… went back from seq ${before} to ${seq}`);
          seqs.set(id, seq);
          const head = toBase64Url(replica.chain(group, b, author)!.head);
          if (head !== reference.heads.get(`${id}/${seq}`)) throw new Error(`batch ${n}: chain ${id.slice(0, 20)}… at seq ${seq} has a head that is not the author's`);
        }
      }
    }
    // Repair as the sync protocol would: all ops (any order, duplicates), then what the version vectors lack.
    const allOps = steps.flatMap((s) => s.ops);
    const order = allOps.map((bytes, i) => ({ bytes, key: d.opsOrder.next().value ?? i })).sort((x, y) => x.key - y.key);
    await replica.addOps(group, [...order.map((o) => o.bytes), ...allOps.slice(0, 3)]);
    await engine.idle();
    for (const b of reference.buckets) {
      const lacking = await reference.engine.replica.entriesFor(group, b, await replica.vector(group, b));
      if (lacking.length > 0) await replica.applyEntries(lacking);
    }
    await engine.idle();
    assertEqual(logFingerprint(replica.log(group)!), reference.log, 'membership (vs in-order delivery)');
    const chains = await chainsFingerprint(replica, group);
    if (chains !== reference.chains) {
      const names = ['schmidt', 'ben', 'clara', 'dana'];
      const devices = names.map((n) => ({ deviceId: ids.get(n)!.id }));
      const st = replica.state(group)!;
      const missing = [...reference.heads.keys()].filter((k) => {
        const [b, author, seq] = k.split('/');
        return (replica.chain(group, Number(b), author!)?.seq ?? 0) < Number(seq);
      });
      const who = [...new Set(missing.map((k) => k.split('/')[1]!))].map((a) => {
        const device = st.devices.get(a);
        return `${nameOf(devices, names, a)} (${device ? `role ${st.members.get(device.account)}` : 'not a listed device'})`;
      });
      throw new Error(`chains diverged from in-order delivery: ${missing.length} entries of ${who.join(', ')} are refused after the repair\n  warnings: ${warnings.slice(0, 3).join(' | ')}`);
    }
    assertEqual(await settledMessages(engine, group, reference.buckets), reference.messages, 'messages (vs in-order delivery)');
  } finally {
    await engine.close();
  }
}

// ------------------------------------------------------------------------------------------------ the tests

describe('convergence across engines, replicas and the sync protocol', () => {
  it(`1: random operations under random partitions converge once everyone is connected (${RUNS.network} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, (sc) => runNetworkScenario(sc)),
      // Shrinking re-runs timing-dependent scenarios for minutes; report the first counterexample instead.
      { seed: SEED, numRuns: RUNS.network, endOnFailure: true, ...replayPath },
    );
  });

  describe('2: shuffled, duplicated, partial delivery of one history converges to in-order delivery', () => {
    let plain: Replay;
    let revoked: Replay;
    beforeAll(async () => {
      history = await recordHistory();
      plain = await replayInOrder(history.steps.slice(0, history.revocationsFrom));
      revoked = await replayInOrder(history.steps);
    });

    it(`posts, edits, reactions, read marks, a key rotation and two days (${RUNS.deliveryPlain} runs)`, async () => {
      const steps = history.steps.slice(0, history.revocationsFrom);
      await fc.assert(
        fc.asyncProperty(deliveryArb(itemsOf(steps).length), (d) => runDelivery(plain, steps, d)),
        { seed: SEED, numRuns: RUNS.deliveryPlain, ...replayPath },
      );
    });

    it(`the same, then a poster is removed and another demoted to reader (${RUNS.deliveryRevoked} runs)`, async () => {
      await fc.assert(
        fc.asyncProperty(deliveryArb(itemsOf(history.steps).length), (d) => runDelivery(revoked, history.steps, d)),
        { seed: SEED, numRuns: RUNS.deliveryRevoked, ...replayPath },
      );
    });
  });
});
