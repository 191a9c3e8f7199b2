/**
 * Core benchmarks (issue 3): entry verification and decryption throughput, catch-up against plain Yjs, and
 * storage overhead. Every ratio is measured against its baseline in the same run. Method: docs/benchmarks.md.
 */
import { aeadBackend, clearVerificationCaches, signatureVerifications, useNativeAead, verifySignature } from '@schoolmesh/crypto';
import { Engine } from '@schoolmesh/engine';
import { type Entry, chainHash, chainSeed, decodeManifest, openEntry, signedMessage, verifyRun } from '@schoolmesh/entries';
import { decodeBucketChains, encodeBucketChains } from '@schoolmesh/replica';
import { MemoryStorage } from '@schoolmesh/storage';
import { memoryChannelPair } from '@schoolmesh/sync';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeKey } from '@schoolmesh/storage-level';
import { ClassicLevel } from 'classic-level';
import * as Y from 'yjs';
import { type Metric, median, report } from './report.ts';
import { type Traffic, generateTraffic } from './school-traffic.ts';

const GROUPS = 30;
const MESSAGES = 10_000;
const DAYS = 7;
const PUPILS = 24;

export async function run(): Promise<void> {
  const metrics: Record<string, Metric> = {};
  console.log(`generating traffic: ${GROUPS} groups, ${MESSAGES} messages, ${DAYS} days (unpacked and packed)...`);
  const unpacked = await generateTraffic({ groups: GROUPS, messages: MESSAGES, days: DAYS, pupilsPerGroup: PUPILS, pack: false, seed: 1 });
  const packed = await generateTraffic({ groups: GROUPS, messages: MESSAGES, days: DAYS, pupilsPerGroup: PUPILS, pack: true, seed: 1 });

  // 1. Verify + decrypt throughput over the unpacked entries, as a catch-up receives them (runs per chain).
  const runs = chainRuns(unpacked.singles);
  // Every measured phase starts from empty verification caches, as a freshly started device does: the traffic
  // generator (and earlier repetitions) verified the same signatures, and crypto's memo would answer for them.
  const vd = [];
  for (let rep = 0; rep < 3; rep++) {
    clearVerificationCaches();
    vd.push(await verifyDecryptRuns(unpacked, runs));
  }
  const perEntry = [];
  for (let rep = 0; rep < 2; rep++) {
    clearVerificationCaches();
    perEntry.push(await verifyDecryptEachSigned(unpacked));
  }
  metrics.verify_decrypt_entries_per_s = { value: Math.round(median(vd)), unit: 'entries/s', note: `chains: one signature per run (${runs.length} runs)` };
  metrics.verify_decrypt_entries_per_s_one_signature_each = { value: Math.round(median(perEntry)), unit: 'entries/s', note: 'baseline: a signature check per entry' };

  // 2. Catch-up of an empty replica vs plain Yjs, same messages, same run.
  const plain = [];
  // The baseline is short (~0.1 s) and the machine shared: more repetitions keep its median steady.
  for (let rep = 0; rep < 11; rep++) plain.push(plainYjsCatchup(unpacked.plainDocs));
  const plainMs = median(plain);
  const plainUpdates = [];
  for (let rep = 0; rep < 3; rep++) plainUpdates.push(plainYjsUpdates(unpacked));
  const plainUpdatesMs = median(plainUpdates);
  const packedMs: number[] = [];
  const packedCpu: number[] = [];
  const unpackedMs: number[] = [];
  // The same packed catch-up with the store's manifests left out (each chain then travels with its own signature,
  // as before manifests), and with OpenSSL's XChaCha20-Poly1305 instead of noble's: interleaved with the real one,
  // so that the machine's load falls on all alike.
  const noManifestMs: number[] = [];
  const noManifestCpu: number[] = [];
  const nativeMs: number[] = [];
  let packedChecks = 0;
  let noManifestChecks = 0;
  const cpuOf = async (run: () => Promise<number>, ms: number[], cpu: number[]) => {
    const before = process.cpuUsage();
    ms.push(await run());
    const used = process.cpuUsage(before);
    cpu.push((used.user + used.system) / 1000);
  };
  for (let rep = 0; rep < 5; rep++) {
    clearVerificationCaches();
    await cpuOf(() => engineCatchup(packed), packedMs, packedCpu);
    packedChecks = signatureVerifications();
    clearVerificationCaches();
    await cpuOf(() => engineCatchup(packed, { manifests: false }), noManifestMs, noManifestCpu);
    noManifestChecks = signatureVerifications();
    clearVerificationCaches();
    useNativeAead(true);
    nativeMs.push(await engineCatchup(packed));
    useNativeAead(false);
    clearVerificationCaches();
    unpackedMs.push(await engineCatchup(unpacked));
  }
  metrics.plain_yjs_catchup_ms = { value: plainMs, unit: 'ms', note: 'baseline: encodeStateAsUpdate per doc + applyUpdate into fresh docs' };
  metrics.catchup_ms = { value: median(packedMs), unit: 'ms', note: 'empty device, finished days packed by their authors' };
  metrics.catchup_signature_checks = { value: packedChecks, unit: 'checks', note: 'Ed25519 verifications in one packed catch-up (both sides, handshake included)' };
  metrics.catchup_cpu_ms = { value: median(packedCpu), unit: 'ms', note: `process CPU (all threads) per packed catch-up; AEAD ${aeadBackend()}` };
  metrics.catchup_no_manifests_ms = { value: median(noManifestMs), unit: 'ms', note: 'same, manifests left out of the store (interleaved)' };
  metrics.catchup_no_manifests_cpu_ms = { value: median(noManifestCpu), unit: 'ms', note: 'process CPU per catch-up without manifests' };
  metrics.catchup_no_manifests_signature_checks = { value: noManifestChecks, unit: 'checks' };
  metrics.catchup_openssl_aead_ms = { value: median(nativeMs), unit: 'ms', note: "same as catchup_ms with OpenSSL's XChaCha20-Poly1305 (interleaved)" };
  metrics.catchup_ratio_vs_plain_yjs = { value: median(packedMs) / plainMs, unit: 'ratio', note: 'goal <= 1.5' };
  metrics.plain_yjs_updates_ms = { value: plainUpdatesMs, unit: 'ms', note: 'baseline: the 10,000 message updates applied one by one' };
  metrics.catchup_ratio_vs_plain_yjs_updates = { value: median(packedMs) / plainUpdatesMs, unit: 'ratio' };
  metrics.catchup_unpacked_ms = { value: median(unpackedMs), unit: 'ms', note: 'empty device, nothing packed' };
  metrics.catchup_unpacked_ratio_vs_plain_yjs = { value: median(unpackedMs) / plainMs, unit: 'ratio' };

  // 3. Storage overhead. The packed store as a relay holds it after taking the authors' chains with their manifests:
  // no per-chain signature for a chain a manifest lists (the generator's store keeps both, for the comparison above).
  const relayPacked = await asTakenWithManifests(packed.storage);
  const bytesUnpacked = await storedContentBytes(unpacked.storage);
  const bytesPacked = await storedContentBytes(relayPacked);
  const diskPacked = await levelDiskBytes(relayPacked);
  metrics.stored_bytes_ratio_vs_plaintext = {
    value: diskPacked / packed.updateBytes,
    unit: 'ratio',
    note: `LevelDB on disk after compaction (the relay store, chains taken with their manifests), finished days packed / plaintext Yjs update bytes (${(packed.updateBytes / MESSAGES).toFixed(0)} B per message)`,
  };
  metrics.stored_bytes_ratio_vs_plaintext_logical = {
    value: bytesPacked / packed.updateBytes,
    unit: 'ratio',
    note: 'logical key+value bytes of entries, chain states and manifests (no store compression), packed',
  };
  metrics.stored_bytes_ratio_vs_plaintext_unpacked = { value: bytesUnpacked / unpacked.updateBytes, unit: 'ratio', note: 'nothing packed' };
  metrics.stored_bytes_ratio_vs_text = { value: bytesPacked / packed.textBytes, unit: 'ratio', note: `vs UTF-8 message text only (${(packed.textBytes / MESSAGES).toFixed(0)} B per message)` };
  metrics.plain_yjs_bytes_ratio_vs_plaintext = {
    value: unpacked.plainDocs.reduce((s, d) => s + Y.encodeStateAsUpdate(d).length, 0) / unpacked.updateBytes,
    unit: 'ratio',
    note: 'baseline: a plain Yjs server stores the merged documents',
  };
  report('core', metrics);
}

function chainRuns(entries: Entry[]): Entry[][] {
  const byChain = new Map<string, Entry[]>();
  for (const e of entries) {
    const id = `${e.group}/${e.bucket}/${e.author}`;
    let list = byChain.get(id);
    if (!list) {
      list = [];
      byChain.set(id, list);
    }
    list.push(e);
  }
  return [...byChain.values()];
}

async function verifyDecryptRuns(t: Traffic, runs: Entry[][]): Promise<number> {
  const keyOf = (author: string) => Uint8Array.from(Buffer.from(author, 'base64url'));
  const start = performance.now();
  let n = 0;
  await Promise.all(
    runs.map(async (run) => {
      const stripped = run.map((e, i) => (i === run.length - 1 ? e : { ...e, signature: undefined }));
      await verifyRun(stripped, chainSeed(run[0]!.group, run[0]!.bucket, run[0]!.author), keyOf(run[0]!.author));
      const key = t.keys.get(run[0]!.group)!;
      for (const e of run) {
        await openEntry(e, key);
        n++;
      }
    }),
  );
  return n / ((performance.now() - start) / 1000);
}

async function verifyDecryptEachSigned(t: Traffic): Promise<number> {
  const keyOf = (author: string) => Uint8Array.from(Buffer.from(author, 'base64url'));
  const heads = new Map<string, Uint8Array>();
  const start = performance.now();
  let n = 0;
  const inFlight: Promise<void>[] = [];
  for (const e of t.singles) {
    const id = `${e.group}/${e.bucket}/${e.author}`;
    const head = chainHash(heads.get(id) ?? chainSeed(e.group, e.bucket, e.author), e);
    heads.set(id, head);
    inFlight.push(
      (async () => {
        if (!(await verifySignature(keyOf(e.author), signedMessage(head), e.signature!))) throw new Error('bad signature');
        await openEntry(e, t.keys.get(e.group)!);
        n++;
      })(),
    );
    if (inFlight.length >= 64) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  return n / ((performance.now() - start) / 1000);
}

function plainYjsCatchup(docs: Y.Doc[]): number {
  const start = performance.now();
  let count = 0;
  for (const doc of docs) {
    const state = Y.encodeStateAsUpdate(doc);
    const fresh = new Y.Doc();
    Y.applyUpdate(fresh, state);
    count += fresh.getMap('m').size;
  }
  const ms = performance.now() - start;
  if (count < MESSAGES) throw new Error(`plain catch-up lost messages: ${count}`);
  return ms;
}

function plainYjsUpdates(t: Traffic): number {
  const updates = t.singles.map((e) => ({ g: t.groups.indexOf(e.group) }));
  const raw = t.plainUpdates;
  const docs = t.groups.map(() => new Y.Doc());
  const start = performance.now();
  for (let i = 0; i < raw.length; i++) Y.applyUpdate(docs[updates[i]!.g]!, raw[i]!);
  const ms = performance.now() - start;
  const count = docs.reduce((n, d) => n + d.getMap('m').size, 0);
  if (count < MESSAGES) throw new Error(`plain updates lost messages: ${count}`);
  return ms;
}

/** A fresh device catches up everything from a device that holds it, through the real sync protocol. */
export async function engineCatchup(t: Traffic, options: { manifests?: boolean } = {}): Promise<number> {
  const serverStorage = new MemoryStorage();
  const records = (await t.storage.loadRange([])).filter((r) => options.manifests !== false || r.key[0] !== 'mf');
  await serverStorage.batch(records.map((r) => ({ type: 'put' as const, key: r.key, data: r.data })));
  const server = await Engine.open({ storage: serverStorage, identity: t.server, trust: t.trust(), clock: t.clock, autoKeys: false });
  const client = await Engine.open({ storage: new MemoryStorage(), identity: t.reader, trust: t.trust(), clock: t.clock, autoKeys: false });
  const [a, b] = memoryChannelPair();
  const start = performance.now();
  server.connect(a);
  const session = client.connect(b);
  await session.start();
  await session.caughtUp();
  await client.idle();
  let count = 0;
  for (const group of t.groups) for (const bucket of client.liveBuckets(group)) count += (await client.messages(group, bucket)).length;
  const ms = performance.now() - start;
  if (count !== MESSAGES) throw new Error(`catch-up delivered ${count} of ${MESSAGES} messages`);
  await client.close();
  await server.close();
  return ms;
}

/** A copy of a store whose chain records keep no signature for the chains a stored manifest lists. */
async function asTakenWithManifests(storage: MemoryStorage): Promise<MemoryStorage> {
  const listed = new Set<string>();
  for (const r of await storage.loadRange(['mf'])) {
    const m = decodeManifest(r.data);
    for (const c of m.chains) listed.add(`${m.group}/${m.author}/${c.bucket}/${c.seq}/${Buffer.from(c.head).toString('hex')}`);
  }
  const copy = new MemoryStorage();
  const records = await storage.loadRange([]);
  await copy.batch(
    records.map((r) => {
      if (r.key[0] !== 'ch') return { type: 'put' as const, key: r.key, data: r.data };
      const [, group, bucket] = r.key as [string, string, string];
      const chains = decodeBucketChains(r.data);
      for (const [author, c] of chains) if (listed.has(`${group}/${author}/${Number(bucket)}/${c.seq}/${Buffer.from(c.head).toString('hex')}`)) delete c.signature;
      return { type: 'put' as const, key: r.key, data: encodeBucketChains(chains) };
    }),
  );
  return copy;
}

/** Writes entries, chain states and manifests into LevelDB (as the relay's store does), compacts, and measures the files. */
async function levelDiskBytes(storage: MemoryStorage): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'schoolmesh-bench-'));
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  for (const prefix of [['en'], ['ch'], ['mf']]) {
    const records = await storage.loadRange(prefix);
    await db.batch(records.map((r) => ({ type: 'put' as const, key: encodeKey(r.key), value: r.data })));
  }
  await db.compactRange(encodeKey(['a']), encodeKey(['z']));
  await db.close();
  let bytes = 0;
  for (const f of readdirSync(dir)) if (f.endsWith('.ldb') || f.endsWith('.log')) bytes += statSync(join(dir, f)).size;
  rmSync(dir, { recursive: true, force: true });
  return bytes;
}

/** Bytes of entries, chain states and manifests as stored: UTF-8 key elements plus values. */
async function storedContentBytes(storage: MemoryStorage): Promise<number> {
  let bytes = 0;
  for (const prefix of [['en'], ['ch'], ['mf']]) {
    for (const r of await storage.loadRange(prefix)) bytes += r.data.length + r.key.reduce((s, k) => s + Buffer.byteLength(k), 0);
  }
  return bytes;
}
