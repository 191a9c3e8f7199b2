import { MemoryStorage } from '@schoolmesh/storage';
import { openLevelStorage } from '@schoolmesh/storage-level';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DAY, testSchool } from '../../../test/support/school.ts';
import { signManifest } from '@schoolmesh/entries';
import { Replica } from '../src/index.ts';

/** A teacher device with a class and some posts, and a blind replica (as a relay holds) that knows the group. */
async function setup() {
  const s = await testSchool();
  // Packing only when the tests ask for it: they count what it did.
  const teacher = await s.engine(await s.device('schmidt', 'teacher'), undefined, { autoPack: false });
  const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
  for (let i = 0; i < 3; i++) await teacher.post(group, { text: `Nachricht ${i}` });
  const bucket = teacher.liveBuckets(group)[0]!;
  const entries = await teacher.replica.bucketEntries(group, bucket);
  const blind = await Replica.open({ storage: new MemoryStorage(), trust: s.trust(), clock: () => s.clock.now() });
  await blind.addOps(group, teacher.replica.membershipFor(group, []));
  return { s, teacher, group, bucket, entries, blind };
}

describe('replica', () => {
  it('stores a verified run, counts it in its vector and serves it back whole', async () => {
    const { teacher, group, bucket, entries, blind } = await setup();
    const result = await blind.applyEntries(entries);
    expect(result.accepted).toHaveLength(3);
    expect((await blind.vector(group, bucket)).get(teacher.deviceId)).toBe(3);
    expect(await blind.summary(group)).toEqual(await teacher.replica.summary(group));
    const served = await blind.entriesFor(group, bucket, new Map([[teacher.deviceId, 1]]));
    expect(served.map((e) => e.seq)).toEqual([2, 3]);
    expect(served[1]!.signature).toBeDefined();
  });

  it('skips what it holds, refuses gaps and unknown groups', async () => {
    const { entries, blind } = await setup();
    expect((await blind.applyEntries([entries[2]!])).reason).toMatch(/gap.*expected seq 1/);
    expect((await blind.applyEntries(entries)).accepted.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await blind.applyEntries(entries)).accepted).toEqual([]);
    const other = { ...entries[0]!, group: 'AAAAAAAAAAAAAAAAAAAAAA' };
    expect((await blind.applyEntries([other])).reason).toMatch(/unknown group/);
  });

  it('the first entry of a run without its signature is accepted once the signed end arrives', async () => {
    const { group, bucket, teacher, entries, blind } = await setup();
    const unsigned = entries.map((e, i) => (i < entries.length - 1 ? { ...e, signature: undefined } : e));
    expect((await blind.applyEntries(unsigned)).accepted).toHaveLength(3);
    expect(blind.chain(group, bucket, teacher.deviceId)?.seq).toBe(3);
  });

  it('refuses entries of expired and future buckets and of unknown key epochs', async () => {
    const { s, entries, blind } = await setup();
    const future = entries.map((e) => ({ ...e, bucket: e.bucket + 5 }));
    expect((await blind.applyEntries(future)).reason).toMatch(/future/);
    const badEpoch = entries.map((e) => ({ ...e, epoch: 'AAAAAAAAAAA' }));
    expect((await blind.applyEntries(badEpoch)).reason).toMatch(/epoch/);
    s.clock.advance(30 * DAY);
    expect((await blind.applyEntries(entries)).reason).toMatch(/expired/);
  });

  it('retention deletes expired buckets from the store', async () => {
    const { s, group, bucket, entries, blind } = await setup();
    await blind.applyEntries(entries);
    s.clock.advance(15 * DAY + 1);
    expect(await blind.expire()).toEqual([{ group, bucket }]);
    expect(await blind.bucketEntries(group, bucket)).toEqual([]);
    expect(blind.liveBuckets(group)).toEqual([]);
  });

  it('keeps ops and chains across a reopen of a LevelDB store', async () => {
    const { s, teacher, group, bucket, entries } = await setup();
    const dir = mkdtempSync(join(tmpdir(), 'replica-'));
    try {
      const first = await Replica.open({ storage: await openLevelStorage(dir), trust: s.trust(), clock: () => s.clock.now() });
      await first.addOps(group, teacher.replica.membershipFor(group, []));
      await first.applyEntries(entries);
      await first.close();
      const reopened = await Replica.open({ storage: await openLevelStorage(dir), trust: s.trust(), clock: () => s.clock.now() });
      expect(reopened.state(group)?.members.size).toBe(2);
      expect(reopened.chain(group, bucket, teacher.deviceId)?.seq).toBe(3);
      expect((await reopened.bucketEntries(group, bucket)).map((e) => e.seq)).toEqual([1, 2, 3]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps manifests across a reopen, serves the chains they list unsigned (whole), and drops them with retention', async () => {
    const { s, teacher, group, bucket } = await setup();
    s.clock.advance(3 * DAY);
    expect(await teacher.packFinishedBuckets()).toBe(1);
    const manifest = teacher.replica.manifest(group, teacher.deviceId)!;
    expect(manifest.chains).toHaveLength(1);
    const dir = mkdtempSync(join(tmpdir(), 'replica-'));
    try {
      const first = await Replica.open({ storage: await openLevelStorage(dir), trust: s.trust(), clock: () => s.clock.now() });
      await first.addOps(group, teacher.replica.membershipFor(group, []));
      expect(await first.applyManifest(manifest)).toEqual({ accepted: true, reason: '' });
      const served = await teacher.replica.entriesFor(group, bucket, new Map());
      expect(served.map((e) => [e.kind, e.seq, e.signature])).toEqual([['packed', 3, undefined]]);
      expect(teacher.replica.manifestsFor(served)).toEqual([manifest]);
      expect((await first.applyEntries(served)).accepted).toHaveLength(1);
      await first.close();
      const reopened = await Replica.open({ storage: await openLevelStorage(dir), trust: s.trust(), clock: () => s.clock.now() });
      expect(reopened.manifest(group, teacher.deviceId)).toEqual(manifest);
      expect(reopened.chain(group, bucket, teacher.deviceId)).toMatchObject({ seq: 3, packed: true });
      expect(reopened.chain(group, bucket, teacher.deviceId)?.signature).toBeUndefined();
      expect(reopened.manifestsFor(await reopened.entriesFor(group, bucket, new Map()))).toEqual([manifest]);
      s.clock.advance(15 * DAY);
      await reopened.expire();
      expect(reopened.manifest(group, teacher.deviceId)).toBeUndefined();
      await reopened.close();
      const again = await Replica.open({ storage: await openLevelStorage(dir), trust: s.trust(), clock: () => s.clock.now() });
      expect(again.manifest(group, teacher.deviceId)).toBeUndefined();
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a manifest of a device that never wrote in the group, and one of an unknown group', async () => {
    const { s, group, blind } = await setup();
    const stranger = await s.device('zoe', 'pupil');
    const m = await signManifest(stranger, { group, issued: 1, chains: [{ bucket: 1, seq: 1, head: new Uint8Array(32) }] });
    expect((await blind.applyManifest(m)).reason).toMatch(/never wrote/);
    expect((await blind.applyManifest({ ...m, group: 'AAAAAAAAAAAAAAAAAAAAAA' })).reason).toMatch(/unknown group/);
  });
});
