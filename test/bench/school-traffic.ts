/**
 * Realistic school chat traffic for benchmarks: one school, N class groups of a teacher and pupils, M messages
 * spread over D days with a skewed author distribution and German chat texts of realistic length. Everything is
 * real: certificates, signed membership logs, sealed keys, Yjs updates, encrypted and chained entries. The
 * result is a store holding what a relay (or a long-online device) would hold.
 */
import { BucketDoc, mergeOwnUpdates } from '@schoolmesh/content';
import { type AeadKey, aeadKey } from '@schoolmesh/crypto';
import { type Entry, type ManifestChain, chainSeed, sealEntry, signManifest } from '@schoolmesh/entries';
import { ManualClock } from '@schoolmesh/engine';
import { type DeviceIdentity, type SchoolAuthority, TrustStore, createSchool, enrollDevice } from '@schoolmesh/identity';
import { MembershipLog, createOp, newEpochBody } from '@schoolmesh/membership';
import { BUCKET_MS, accountRef, bucketOf, defaultGroupPolicy } from '@schoolmesh/model';
import { Replica, epochIdOf } from '@schoolmesh/replica';
import { MemoryStorage } from '@schoolmesh/storage';
import { fromBase64Url } from '@schoolmesh/wire';
import * as Y from 'yjs';
import { prng } from '../support/prng.ts';

export interface TrafficOptions {
  groups: number;
  messages: number;
  days: number;
  pupilsPerGroup: number;
  /** Authors pack their entries of finished days (as their devices do when online). */
  pack: boolean;
  seed: number;
  /** The school whose authority certifies the devices (default: a fresh one). A relay benchmark passes its relay's. */
  school?: SchoolAuthority;
  /** The moment the traffic ends, "now" for its clock (default: noon of 2026-11-22, the last of the days). */
  end?: number;
}

export interface Traffic {
  school: SchoolAuthority;
  clock: ManualClock;
  trust: () => TrustStore;
  /** A device in every group that holds everything (plays the relay / an always-online device). */
  server: DeviceIdentity;
  /** A device in every group that was offline: the catch-up client. */
  reader: DeviceIdentity;
  groups: string[];
  storage: MemoryStorage;
  messages: number;
  textBytes: number;
  /** Sum of the plaintext Yjs updates, one per message (what a plain Yjs store keeps). */
  updateBytes: number;
  /** Plain Yjs documents with the same messages, one per group (the baseline's server state). */
  plainDocs: Y.Doc[];
  /** Every single entry as written, each with its own signature (for per-entry verification baselines). */
  singles: Entry[];
  /** The plaintext Yjs update of each single entry, in the same order. */
  plainUpdates: Uint8Array[];
  keys: Map<string, AeadKey>;
}

const words = (
  'hallo ja nein morgen heute hausaufgaben mathe deutsch englisch bio test klausur seite aufgabe frau herr ' +
  'schmidt danke bitte wann wo wer warum okay super cool treffen pause mensa bus zug sport ag projekt ' +
  'referat gruppe abgabe lehrer stunde ausfall vertretung raum zettel elternbrief ausflug wandertag geld'
).split(' ');


/** A German chat message of realistic length (seeded). */
export function chatText(rand: () => number): string {
  // Chat messages are short: mostly 2-12 words, sometimes a long one.
  const n = rand() < 0.1 ? 20 + Math.floor(rand() * 30) : 2 + Math.floor(rand() * 10);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(words[Math.floor(rand() * words.length)]!);
  const s = out.join(' ');
  return s[0]!.toUpperCase() + s.slice(1) + (rand() < 0.3 ? '?' : rand() < 0.5 ? '!' : '');
}

export async function generateTraffic(o: TrafficOptions): Promise<Traffic> {
  const rand = prng(o.seed);
  const firstDay = o.end === undefined ? bucketOf(Date.UTC(2026, 10, 16)) : bucketOf(o.end) - o.days + 1;
  const end = o.end ?? (firstDay + o.days - 1) * BUCKET_MS + 12 * 3600_000;
  const clock = new ManualClock(end);
  const school = o.school ?? (await createSchool('Gesamtschule Nord', firstDay * BUCKET_MS - 30 * BUCKET_MS));
  const trust = () => {
    const t = new TrustStore(() => clock.now());
    t.addSchool(fromBase64Url(school.id), school.name);
    return t;
  };
  const enroll = (account: string, role: 'teacher' | 'pupil' | 'admin' | 'staff') =>
    enrollDevice(school, { account, role, now: clock.now() - 5 * BUCKET_MS, validDays: 60 });
  const server = await enroll('sekretariat', 'staff');
  const reader = await enroll('schulleitung', 'admin');
  const storage = new MemoryStorage();
  const replica = await Replica.open({ storage, trust: trust(), clock: () => clock.now() });

  const groups: string[] = [];
  const authors: DeviceIdentity[][] = [];
  const keys = new Map<string, AeadKey>();
  const epochOf = new Map<string, string>();
  for (let g = 0; g < o.groups; g++) {
    const teacher = await enroll(`lehrer${g}`, 'teacher');
    const pupils: DeviceIdentity[] = [];
    for (let p = 0; p < o.pupilsPerGroup; p++) pupils.push(await enroll(`s${g}_${p}`, 'pupil'));
    const members = [...pupils, reader, server].map((d) => ({ account: accountRef(school.id, d.certificate.account), role: 'member' as const }));
    const t0 = clock.now() - 6 * BUCKET_MS;
    const create = await createOp(teacher, null, [], { type: 'create', kind: 'class', name: `Klasse ${5 + (g % 6)}${'abcde'[g % 5]}`, policy: defaultGroupPolicy('class'), members }, t0);
    const log = new MembershipLog(trust(), create.group);
    const ops = [create];
    await log.add(create);
    for (const d of [...pupils, reader, server]) {
      const op = await createOp(teacher, create.group, log.heads(), { type: 'add-device', certificate: d.certificate }, t0);
      await log.add(op);
      ops.push(op);
    }
    const { body, key } = await newEpochBody(log.state());
    const rotate = await createOp(teacher, create.group, log.heads(), body, t0);
    await log.add(rotate);
    ops.push(rotate);
    await replica.addOps(create.group, ops.map((op) => op.bytes));
    groups.push(create.group);
    authors.push([teacher, ...pupils]);
    keys.set(create.group, await aeadKey(key));
    epochOf.set(create.group, epochIdOf(rotate.id));
  }

  // Events: group, author (skewed: a few pupils write most), time.
  const events: { g: number; a: number; ts: number }[] = [];
  const weights = Array.from({ length: o.pupilsPerGroup + 1 }, (_, i) => 1 / (i + 1) ** 0.8);
  const total = weights.reduce((s, w) => s + w, 0);
  for (let i = 0; i < o.messages; i++) {
    const g = Math.floor(rand() * o.groups);
    let r = rand() * total;
    let a = 0;
    while (r > weights[a]!) r -= weights[a++]!;
    const ts = firstDay * BUCKET_MS + Math.floor(rand() * (end - firstDay * BUCKET_MS));
    events.push({ g, a: Math.min(a, o.pupilsPerGroup), ts });
  }
  events.sort((x, y) => x.ts - y.ts);

  interface Chain {
    doc: BucketDoc;
    entries: Entry[];
    updates: Uint8Array[];
    prev: Uint8Array;
  }
  const chains = new Map<string, Chain>();
  const plainDocs = groups.map(() => new Y.Doc());
  let textBytes = 0;
  let updateBytes = 0;
  const singles: Entry[] = [];
  const plainUpdates: Uint8Array[] = [];
  for (const ev of events) {
    const group = groups[ev.g]!;
    const author = authors[ev.g]![ev.a]!;
    const bucket = bucketOf(ev.ts);
    const id = `${group}/${bucket}/${author.id}`;
    let chain = chains.get(id);
    if (!chain) {
      chain = { doc: new BucketDoc(group, bucket, author.id), entries: [], updates: [], prev: chainSeed(group, bucket, author.id) };
      chains.set(id, chain);
    }
    const text = chatText(rand);
    textBytes += new TextEncoder().encode(text).length;
    let update: Uint8Array | undefined;
    const off = chain.doc.onLocalUpdate((u) => {
      update = u;
    });
    chain.doc.post({ text }, ev.ts);
    off();
    updateBytes += update!.length;
    Y.applyUpdate(plainDocs[ev.g]!, update!);
    const { entry, head } = await sealEntry(author, keys.get(group)!, {
      kind: 'single',
      group,
      bucket,
      seq: chain.entries.length + 1,
      epoch: epochOf.get(group)!,
      plaintext: update!,
      prev: chain.prev,
    });
    chain.prev = head;
    chain.entries.push(entry);
    chain.updates.push(update!);
    singles.push(entry);
    plainUpdates.push(update!);
  }

  const finishedBefore = bucketOf(end) - 1; // buckets older than yesterday are past the one-day grace
  // Each author signs one manifest per group over its chains of every live day (finished days packed), as its device
  // does every 15 minutes (`MAINTENANCE_MS`): this is the manifest signed after the author's last write. In the field
  // a chain written since its author's last tick travels with its own signature instead.
  const packedChains = new Map<string, { group: string; author: DeviceIdentity; chains: ManifestChain[] }>();
  const listChain = (group: string, author: DeviceIdentity, chain: ManifestChain) => {
    const id = `${group}/${author.id}`;
    const listed = packedChains.get(id) ?? { group, author, chains: [] };
    listed.chains.push(chain);
    packedChains.set(id, listed);
  };
  for (const [id, chain] of chains) {
    const [group, bucketText, authorId] = id.split('/') as [string, string, string];
    const bucket = Number(bucketText);
    const author = authors[groups.indexOf(group)]!.find((d) => d.id === authorId)!;
    if (o.pack && bucket < finishedBefore && chain.entries.length > 1) {
      const { entry, head } = await sealEntry(author, keys.get(group)!, {
        kind: 'packed',
        group,
        bucket,
        seq: chain.entries.length,
        epoch: epochOf.get(group)!,
        plaintext: mergeOwnUpdates(chain.updates),
        prev: chainSeed(group, bucket, author.id),
      });
      await store(replica, [entry]);
      listChain(group, author, { bucket, seq: entry.seq, head });
    } else {
      await store(replica, chain.entries.map((e, i) => (i === chain.entries.length - 1 ? e : { ...e, signature: undefined })) as Entry[]);
      // A finished day's chain of one entry is not worth packing, and today's and yesterday's chains may still grow,
      // but the manifest lists them all the same.
      if (o.pack) listChain(group, author, { bucket, seq: chain.entries.length, head: chain.prev });
    }
  }
  for (const { group, author, chains } of packedChains.values()) {
    const result = await replica.applyManifest(await signManifest(author, { group, issued: clock.now(), chains }));
    if (!result.accepted) throw new Error(`traffic generator: manifest refused: ${result.reason}`);
  }
  return { school, clock, trust, server, reader, groups, storage, messages: o.messages, textBytes, updateBytes, plainDocs, singles, plainUpdates, keys };
}

async function store(replica: Replica, entries: Entry[]): Promise<void> {
  const cleaned = entries.map((e) => {
    const c = { ...e };
    if (!c.signature) delete c.signature;
    return c;
  });
  const result = await replica.applyEntries(cleaned);
  if (result.rejected > 0) throw new Error(`traffic generator: ${result.rejected} entries refused: ${result.reason}`);
}
