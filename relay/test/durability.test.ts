/**
 * Durability of the relay's ACK: 50 enrolled devices, each with its own libp2p connection, write in parallel
 * through a real relay process; the relay is killed with SIGKILL in the middle of the stream and restarted on
 * the same data directory. Every entry the relay had acknowledged must be served after the restart, before any
 * writer has come back (so nothing could have been re-sent): a fresh device catches up from the relay alone and
 * holds each acknowledged entry byte for byte. Then the writers reconnect and everything converges.
 */
import type { Entry } from '@schoolmesh/entries';
import { bucketOf } from '@schoolmesh/model';
import { toBase64Url } from '@schoolmesh/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelayDevice, enrolledDevice, until } from './support/devices.ts';
import { type RelayProcess, type RelaySetup, removeSetup, setupRelay, startRelay } from './support/relay-process.ts';

const WRITERS = 50;
const POSTS = 20;

interface Writer {
  device: RelayDevice;
  group: string;
  /** Sequence numbers whose ACK from the relay arrived. */
  acked: Set<number>;
  posted: number;
}

/** Runs `fn` over `items` with at most `n` at a time. */
async function inParallel<T, R>(items: readonly T[], n: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

const ciphertextOf = (e: Entry) => toBase64Url(e.ciphertext);

describe('a relay killed with SIGKILL while 50 devices write', () => {
  let setup: RelaySetup;
  let relay: RelayProcess | undefined;
  let auditor: RelayDevice | undefined;
  const writers: Writer[] = [];
  const bucket = bucketOf(Date.now());

  beforeAll(async () => {
    setup = await setupRelay('Gesamtschule Ost');
    relay = await startRelay(setup);
    const first = relay;
    const auditorRef = `rektorin@${first.info.school.id}`;
    // Each writer owns a group of its own; the head teacher's account (the auditor) is a reader of every one.
    await inParallel(Array.from({ length: WRITERS }, (_, i) => i), 10, async (i) => {
      const device = await enrolledDevice(first, `lehrer${String(i).padStart(2, '0')}`, 'teacher');
      const group = await device.engine.createGroup({ kind: 'class', name: `Klasse ${i}`, members: [{ account: auditorRef, role: 'reader' }] });
      await device.online();
      writers[i] = { device, group, acked: new Set(), posted: 0 };
    });
  }, 120_000);

  afterAll(async () => {
    await inParallel(writers, 10, (w) => w.device.close());
    await auditor?.close();
    await relay?.stop();
    if (setup) await removeSetup(setup);
  });

  it('serves every acknowledged entry after a restart, and converges once the writers are back', async () => {
    const first = relay!;
    expect(new Set(writers.map((w) => w.device.identity.id)).size).toBe(WRITERS);
    expect(JSON.parse(await (await fetch(`${first.http}/healthz`)).text()).sessions.devices).toBe(WRITERS);

    // Every writer posts POSTS messages as fast as it can, not waiting for ACKs; each ACK is recorded by seq.
    let ackCount = 0;
    const writing = Promise.all(
      writers.map(async (w, i) => {
        for (let n = 0; n < POSTS; n++) {
          const posted = await w.device.engine.post(w.group, { text: `Schreiber ${i}, Nachricht ${n}` });
          const seq = w.device.engine.replica.chain(w.group, posted.bucket, w.device.identity.id)!.seq;
          expect(posted.bucket).toBe(bucket);
          w.posted = seq;
          void posted.acked.then(() => {
            w.acked.add(seq);
            ackCount++;
          });
        }
      }),
    );
    // Mid-stream: once a good part, but far from all, is acknowledged.
    await until(() => ackCount >= (WRITERS * POSTS) / 4, 30_000, 'a quarter of the posts acknowledged');
    await first.kill9();
    expect((await first.exited).signal).toBe('SIGKILL');
    await writing;
    // Stop every writer's link (no redial can reach the new relay); after this no ACK can arrive any more.
    await inParallel(writers, 10, (w) => w.device.offline());
    const acked = writers.reduce((n, w) => n + w.acked.size, 0);
    expect(acked).toBeGreaterThan(0);
    // The kill really was mid-stream: the relay had not acknowledged everything.
    expect(acked).toBeLessThan(WRITERS * POSTS);
    for (const w of writers) expect(w.posted).toBe(POSTS);

    // Restart on the same data directory (new ports), and let a fresh device catch up from the relay alone.
    relay = await startRelay(setup);
    const second = relay;
    auditor = await enrolledDevice(second, 'rektorin', 'staff', 'Frau Direktorin');
    await auditor.online();
    const a = auditor;
    const held = (w: Writer) => a.engine.replica.chain(w.group, bucket, w.device.identity.id)?.seq ?? 0;
    const missing = () => writers.filter((w) => held(w) < Math.max(0, ...w.acked));
    await until(() => missing().length === 0, 45_000, 'the fresh device holds every acknowledged entry').catch((error: Error) => {
      const detail = missing().map((w) => `${w.device.account}: holds ${held(w)}, acked up to ${Math.max(...w.acked)}`);
      throw new Error(`${error.message}\n${detail.join('\n')}`);
    });
    // Byte for byte: each acknowledged entry is the writer's own.
    let checked = 0;
    for (const w of writers) {
      const theirs = new Map((await a.engine.replica.bucketEntries(w.group, bucket)).map((e) => [e.seq, ciphertextOf(e)]));
      const own = new Map((await w.device.engine.replica.bucketEntries(w.group, bucket)).map((e) => [e.seq, ciphertextOf(e)]));
      for (const seq of w.acked) {
        expect(theirs.get(seq), `${w.device.account} seq ${seq}`).toBe(own.get(seq));
        checked++;
      }
    }
    expect(checked).toBe(acked);

    // The writers come back to the new relay: what was never acknowledged goes out now, and everything converges.
    await inParallel(writers, 10, (w) => w.device.online(second));
    await until(() => writers.every((w) => held(w) === POSTS), 45_000, 'the fresh device holds every post');
    expect(await second.metrics()).toMatch(/schoolmesh_entries_stored_total \d+/);
  }, 120_000);
});
