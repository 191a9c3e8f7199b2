import { MemoryStorage } from '@schoolmesh/storage';
import { openLevelStorage } from '@schoolmesh/storage-level';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DAY, testSchool } from '../../../test/support/school.ts';
import { Replica } from '../src/index.ts';

/** A teacher device with a class and some posts, and a blind replica (as a relay holds) that knows the group. */
async function setup() {
  const s = await testSchool();
  const teacher = await s.engine(await s.device('schmidt', 'teacher'));
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
});
