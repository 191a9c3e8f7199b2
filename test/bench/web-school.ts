/**
 * The school the web benchmark's pupil belongs to: a real relay process on loopback serving the built app, and
 * three Node devices (a teacher and two classmates) that fill 30 groups the pupil is a member of with several
 * days of chat — one group with well over a thousand messages, the others with a few dozen each — then pack their
 * finished days, as their devices do when online. Everything is real: certificates from the relay's school,
 * signed membership logs, sealed keys, encrypted and chained entries, acknowledged by the relay.
 *
 * The devices' certificates are issued a few days back (with the relay's school keys, as `enrollDevice` does for
 * the other benchmarks) and their clocks are set to each message's time while they write it, so that the history
 * really spans several day buckets; a device enrolled by code today could not write into past days.
 */
import { trustFor } from '@schoolmesh/client';
import { Engine, EngineError } from '@schoolmesh/engine';
import { type DeviceIdentity, enrollDevice } from '@schoolmesh/identity';
import { BUCKET_MS, type GroupKind, accountRef, bucketOf } from '@schoolmesh/model';
import { MemoryStorage } from '@schoolmesh/storage';
import { prng } from '../support/prng.ts';
import { connectEngine } from './light-device.ts';
import { type BenchRelay, startBenchRelay } from './relay-harness.ts';
import { chatText } from './school-traffic.ts';

const HOUR = 3_600_000;

export interface WebSchoolOptions {
  webRoot: string;
  /** Groups the pupil is a member of (the large one included). */
  groups: number;
  /** Messages in the large group. */
  largeMessages: number;
  /** Days of history. */
  days: number;
  /** Messages in each other group: between these two. */
  smallMin: number;
  smallMax: number;
  seed: number;
  /** The pupil who enrolls in the browser. */
  pupil: { account: string; name: string };
}

export interface SeededGroup {
  id: string;
  name: string;
  messages: number;
  /** The text of its newest message (what its chat list entry shows once caught up). */
  lastText: string;
}

export interface WebSchool {
  relay: BenchRelay;
  groups: SeededGroup[];
  large: SeededGroup;
  /** Messages, replies and reactions written in all. */
  writes: number;
  close(): Promise<void>;
}

/** A clock fixed at a chosen time while history is written, the real time otherwise. */
class WritingClock {
  at: number | undefined;
  now(): number {
    return this.at ?? Date.now();
  }
}

interface Author {
  identity: DeviceIdentity;
  engine: Engine;
  close(): Promise<void>;
}

const GROUP_NAMES: [string, GroupKind][] = [
  ['Klasse 7b', 'class'],
  ['Mathe 7b', 'custom'],
  ['Deutsch 7b', 'custom'],
  ['Englisch 7b', 'custom'],
  ['Französisch 7', 'custom'],
  ['Biologie 7b', 'custom'],
  ['Physik 7b', 'custom'],
  ['Chemie 7', 'custom'],
  ['Geschichte 7b', 'custom'],
  ['Erdkunde 7b', 'custom'],
  ['Politik 7b', 'custom'],
  ['Kunst 7b', 'custom'],
  ['Musik 7b', 'custom'],
  ['Sport Jungen 7', 'custom'],
  ['Religion 7', 'custom'],
  ['Informatik WP', 'custom'],
  ['Theater-AG', 'club'],
  ['Schach-AG', 'club'],
  ['Schulchor', 'club'],
  ['Fußball-AG', 'club'],
  ['Robotik-AG', 'club'],
  ['Schülerzeitung', 'club'],
  ['Klassenfahrt Harz', 'custom'],
  ['Projektwoche Klima', 'custom'],
  ['Lerngruppe Mathe', 'custom'],
  ['Referat Römer', 'custom'],
  ['Streitschlichter', 'club'],
  ['Schulsanitäter', 'club'],
  ['Bücherei-Team', 'club'],
  ['SV Klassensprecher', 'custom'],
];

async function author(relay: BenchRelay, clock: WritingClock, account: string, name: string, role: 'teacher' | 'pupil', issuedAt: number): Promise<Author> {
  const identity = await enrollDevice(relay.school, { account, displayName: name, role, now: issuedAt, validDays: 60 });
  const engine = await Engine.open({ storage: new MemoryStorage(), identity, trust: trustFor(relay.info, () => clock.now()), clock });
  const link = await connectEngine(engine, identity, relay.info.relay.tcp);
  return {
    identity,
    engine,
    close: async () => {
      await link.close();
      await engine.close();
    },
  };
}

/** Retries a write while the device still waits for the group's current key (a rotation may be under way). */
async function keyed<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof EngineError && error.code === 'no-key') || attempt >= 300) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function until(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** When people write: mostly afternoons and evenings of school days, some in the morning. */
function messageTime(rand: () => number, firstDay: number, days: number, end: number): number {
  for (;;) {
    const day = firstDay + Math.floor(rand() * days);
    const hour = rand() < 0.25 ? 7 + rand() * 6 : 13 + rand() * 8;
    const ts = day * BUCKET_MS + Math.floor(hour * HOUR);
    if (ts < end) return ts;
  }
}

export async function seedWebSchool(o: WebSchoolOptions, log: (m: string) => void): Promise<WebSchool> {
  if (o.groups > GROUP_NAMES.length) throw new Error(`at most ${GROUP_NAMES.length} groups`);
  // Generous per-device limits on this relay only: three devices upload days of history at once.
  const relay = await startBenchRelay('Gymnasium am See', { entriesPerMinutePerDevice: 10_000_000, bytesPerMinutePerDevice: 2 ** 30 }, { config: { webRoot: o.webRoot } });
  const authors: Author[] = [];
  try {
    const clock = new WritingClock();
    const now = Date.now();
    const firstDay = bucketOf(now) - o.days + 1;
    const issuedAt = (firstDay - 2) * BUCKET_MS;
    authors.push(await author(relay, clock, 'schmidt', 'Frau Schmidt', 'teacher', issuedAt));
    authors.push(await author(relay, clock, 'jonas', 'Jonas Weber', 'pupil', issuedAt));
    authors.push(await author(relay, clock, 'lea', 'Lea Yilmaz', 'pupil', issuedAt));
    const [teacher] = authors as [Author, ...Author[]];
    const school = relay.info.school.id;

    // The groups exist from the first morning on; the classmates' devices join them and get the keys.
    clock.at = firstDay * BUCKET_MS + 6 * HOUR;
    const members = [o.pupil.account, 'jonas', 'lea'].map((a) => ({ account: accountRef(school, a), role: 'member' as const }));
    const groups: { id: string; name: string; count: number; last: string }[] = [];
    for (const [name, kind] of GROUP_NAMES.slice(0, o.groups)) groups.push({ id: await teacher.engine.createGroup({ kind, name, members }), name, count: 0, last: '' });
    for (const a of authors.slice(1))
      await until(() => groups.every((g) => a.engine.canRead(g.id)), 120_000, `${a.identity.certificate.displayName} holds the keys of every group`);
    log(`${groups.length} groups created, both classmates joined`);

    // Messages, each at its own time; a few are replies or reactions to an earlier one of the same group.
    const rand = prng(o.seed);
    const end = now - 10 * 60_000;
    const events: { g: number; ts: number }[] = [];
    // Some events become reactions: a few more events, so that the large group holds at least `largeMessages`.
    for (let i = 0; i < Math.ceil(o.largeMessages * 1.08); i++) events.push({ g: 0, ts: messageTime(rand, firstDay, o.days, end) });
    for (let g = 1; g < groups.length; g++) {
      const n = o.smallMin + Math.floor(rand() * (o.smallMax - o.smallMin + 1));
      for (let i = 0; i < n; i++) events.push({ g, ts: messageTime(rand, firstDay, o.days, end) });
    }
    events.sort((a, b) => a.ts - b.ts);
    const written: { bucket: number; key: string }[][] = groups.map(() => []);
    const acked: Promise<unknown>[] = [];
    let writes = 0;
    for (const ev of events) {
      clock.at = ev.ts;
      const group = groups[ev.g]!;
      const r = rand();
      const who = authors[r < 0.3 ? 0 : r < 0.7 ? 1 : 2]!;
      const earlier = written[ev.g]!;
      const pick = earlier.length > 0 ? earlier[Math.max(0, earlier.length - 1 - Math.floor(rand() * 8))]! : undefined;
      const kind = rand();
      // A reaction needs the message on the reacting device: one that has not synced there yet gets a message instead.
      const reaction =
        pick && kind < 0.05 ? await keyed(() => who.engine.react(group.id, pick.bucket, pick.key, ['👍', '😂', '❤️'][Math.floor(rand() * 3)]!)).catch(() => undefined) : undefined;
      if (reaction) acked.push(reaction.acked);
      else {
        const text = chatText(rand);
        const posted = await keyed(() => who.engine.post(group.id, { text, ...(pick && kind < 0.13 ? { replyTo: pick } : {}) }));
        acked.push(posted.acked);
        earlier.push({ bucket: posted.bucket, key: posted.key });
        group.count++;
        group.last = text;
      }
      writes++;
    }
    clock.at = undefined;
    // The newest message of the large group, written now: the benchmark waits for it on screen.
    const marker = 'Zum Schluss: Morgen um 7:45 Uhr am Bus, bitte pünktlich sein!';
    acked.push((await teacher.engine.post(groups[0]!.id, { text: marker })).acked);
    groups[0]!.count++;
    groups[0]!.last = marker;
    writes++;
    await Promise.all(acked);
    log(`${writes} writes acknowledged by the relay`);
    let packed = 0;
    for (const a of authors) packed += await a.engine.packFinishedBuckets();
    log(`${packed} finished (group, day) chains packed by their authors`);
    await until(async () => (await relay.metric('schoolmesh_entries_stored_total')) > 0, 60_000, 'the relay stores entries');

    const seeded = groups.map((g) => ({ id: g.id, name: g.name, messages: g.count, lastText: g.last }));
    return {
      relay,
      groups: seeded,
      large: seeded[0]!,
      writes,
      close: async () => {
        for (const a of authors) await a.close().catch(() => {});
        await relay.stop();
      },
    };
  } catch (error) {
    for (const a of authors) await a.close().catch(() => {});
    await relay.stop();
    throw error;
  }
}
