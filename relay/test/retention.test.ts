/**
 * Retention on a real relay process: once a bucket is past its group's retention, the relay deletes it at its
 * start-up sweep and at its periodic sweep, and its ciphertext is gone from the LevelDB files on disk, not just
 * hidden behind a tombstone. Live buckets (a newer day, a group with a longer retention) stay.
 *
 * The relay runs on real time, so time cannot pass for it; the group's retention shrinks instead. Devices write
 * with a clock two days back (certificates covering those days are issued by the school's authority, whose
 * certificate is re-issued with an earlier start), into a group that keeps 3 days; then the owner sets the
 * retention to 1 day, which makes that day expired at once, exactly as if two days had passed under a 1-day
 * retention.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { trustFor } from '@schoolmesh/client';
import { connectToRelay } from '@schoolmesh/client/node';
import { generateAgreementKeyPair, generateSigningKeyPair } from '@schoolmesh/crypto';
import { Engine, ManualClock } from '@schoolmesh/engine';
import { type DeviceIdentity, deviceIdentity, issueDeviceCertificate } from '@schoolmesh/identity';
import { BUCKET_MS, bucketOf, defaultGroupPolicy } from '@schoolmesh/model';
import { loadRelayKeys, renewAuthority } from '@schoolmesh/relay';
import { MemoryStorage } from '@schoolmesh/storage';
import type { SyncMessage } from '@schoolmesh/sync';
import type { Libp2p } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelayDevice, enrolledDevice, until } from './support/devices.ts';
import { openRawStream, rawHandshake } from './support/raw-peer.ts';
import { type RelayProcess, type RelaySetup, removeSetup, rewriteConfig, setupRelay, startRelay } from './support/relay-process.ts';

const DAY = BUCKET_MS;

/** Which of `needles` occur anywhere in the files of the relay's LevelDB directory. */
async function foundOnDisk(setup: RelaySetup, needles: readonly Uint8Array[]): Promise<number> {
  const dir = join(setup.dir, 'store');
  const files: Buffer[] = [];
  for (const name of await readdir(dir)) files.push(await readFile(join(dir, name)).catch(() => Buffer.alloc(0)));
  return needles.filter((n) => files.some((f) => f.indexOf(n) >= 0)).length;
}

describe('retention on the relay', () => {
  let setup: RelaySetup;
  let relay: RelayProcess;
  let teacher: { engine: Engine; identity: DeviceIdentity; clock: ManualClock; node?: Libp2p; stop(): Promise<void>; online(r: RelayProcess): Promise<void> };
  let ben: RelayDevice;
  const today = bucketOf(Date.now());
  const old = today - 2;

  beforeAll(async () => {
    setup = await setupRelay('Grundschule am Park', { retention: { sweepMinutes: 60 } });
    // The school's authority certificate is re-issued to start four days back, so that device certificates may
    // cover the days the devices write into.
    await renewAuthority(setup.dir, join(setup.dir, 'keys', 'school-root.key'), Date.now() - 3 * DAY);
    setup.keys = await loadRelayKeys(setup.dir);
    relay = await startRelay(setup);

    const signing = await generateSigningKeyPair();
    const agreement = await generateAgreementKeyPair();
    const certificate = await issueDeviceCertificate(setup.keys.authority, setup.keys.authorityCert, {
      account: 'weber',
      displayName: 'Frau Weber',
      role: 'teacher',
      deviceKey: signing.publicKey,
      agreementKey: agreement.publicKey,
      notBefore: Date.now() - 3 * DAY,
      notAfter: Date.now() + 30 * DAY,
    });
    const identity = deviceIdentity(signing, agreement, certificate);
    const clock = new ManualClock(Date.now() - 2 * DAY);
    // No packing: the test follows each stored ciphertext onto the disk and off it again.
    const engine = await Engine.open({ storage: new MemoryStorage(), identity, trust: trustFor(relay.info, () => clock.now()), clock, autoPack: false });
    let connection: Awaited<ReturnType<typeof connectToRelay>> | undefined;
    teacher = {
      engine,
      identity,
      clock,
      async online(r) {
        await connection?.stop();
        connection = await connectToRelay(engine, identity, r.info.relay, { loopbackOnly: true });
        teacher.node = connection.node;
        await connection.link.caughtUp();
      },
      async stop() {
        await connection?.stop();
        await engine.close();
      },
    };
    ben = await enrolledDevice(relay, 'ben', 'pupil', 'Ben');
  });

  afterAll(async () => {
    await teacher?.stop();
    await ben?.close();
    await relay?.stop();
    if (setup) await removeSetup(setup);
  });

  it('deletes expired buckets at start-up and periodically, down to the bytes on disk', async () => {
    const { engine, clock } = teacher;
    const short = await engine.createGroup({ kind: 'class', name: 'Klasse 2b', members: [{ account: ben.ref, role: 'member' }], policy: { ...defaultGroupPolicy('class'), retentionDays: 3 } });
    const long = await engine.createGroup({ kind: 'club', name: 'Schach-AG', members: [{ account: ben.ref, role: 'member' }], policy: { ...defaultGroupPolicy('club'), retentionDays: 30 } });
    await teacher.online(relay);
    // Two days ago: five messages in each group.
    for (let i = 0; i < 5; i++) {
      await (await engine.post(short, { text: `vorgestern ${i}` })).acked;
      await (await engine.post(long, { text: `Schach vorgestern ${i}` })).acked;
    }
    // Today: three more in the short group.
    clock.set(Date.now());
    for (let i = 0; i < 3; i++) await (await engine.post(short, { text: `heute ${i}` })).acked;

    const ciphertexts = async (group: string, bucket: number) => (await engine.replica.bucketEntries(group, bucket)).map((e) => e.ciphertext);
    const shortOld = await ciphertexts(short, old);
    const shortToday = await ciphertexts(short, today);
    const longOld = await ciphertexts(long, old);
    expect([shortOld.length, shortToday.length, longOld.length]).toEqual([5, 3, 5]);
    // Control for the search itself: every ciphertext is in the relay's files now.
    expect(await foundOnDisk(setup, [...shortOld, ...shortToday, ...longOld])).toBe(13);

    // The owner shortens the short group's retention to one day: two days ago is now past it. Ben sees the change
    // through the relay, so the relay has stored it.
    await ben.online();
    await engine.setPolicy(short, { ...engine.state(short)!.policy, retentionDays: 1 });
    await until(() => ben.engine.state(short)?.policy.retentionDays === 1, 20_000, 'ben sees the new policy');
    // Nothing is swept before the next sweep (in an hour): still on disk.
    expect(await foundOnDisk(setup, shortOld)).toBe(5);

    // Start-up sweep: restart the relay on the same data, now sweeping every 1.2 s.
    await ben.offline();
    await relay.stop();
    await rewriteConfig(setup, { retention: { sweepMinutes: 0.02 } });
    relay = await startRelay(setup);
    expect(relay.logs.some((l) => l.includes('retention: expired buckets deleted'))).toBe(true);
    expect(await relay.metrics()).toMatch(/schoolmesh_expired_buckets_total 1\b/);
    expect(await foundOnDisk(setup, shortOld)).toBe(0);
    // What is live stays: today's bucket of the short group, and the long group's old day.
    expect(await foundOnDisk(setup, shortToday)).toBe(3);
    expect(await foundOnDisk(setup, longOld)).toBe(5);

    // Periodic sweep: the long group's retention shrinks too, while the relay runs.
    await teacher.online(relay);
    await engine.setPolicy(long, { ...engine.state(long)!.policy, retentionDays: 1 });
    await until(async () => (await foundOnDisk(setup, longOld)) === 0, 20_000, "the long group's old day gone from disk");
    expect(await relay.metrics()).toMatch(/schoolmesh_expired_buckets_total 2\b/);
    expect(await foundOnDisk(setup, shortToday)).toBe(3);

    // And the relay offers nothing of the expired days: a member's catch-up by hand, on the owner's connection.
    const raw = await openRawStream(teacher.node!, relay);
    await rawHandshake(raw, teacher.identity);
    raw.send({ type: 'groups', groups: [] });
    await until(() => raw.received.filter((m) => m.type === 'summary').length === 2, 10_000, 'two summaries');
    const summaries = raw.received.filter((m): m is SyncMessage & { type: 'summary' } => m.type === 'summary');
    expect(Object.fromEntries(summaries.map((s) => [s.group, s.buckets.map((b) => b.bucket)]))).toEqual({ [short]: [today], [long]: [] });
    raw.send({ type: 'vector', group: short, bucket: old, vector: [] });
    expect(await raw.next('plan')).toMatchObject({ group: short, bucket: old, count: 0 });
    raw.close();
  }, 120_000);
});
