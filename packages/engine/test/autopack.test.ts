import { clearVerificationCaches, signatureVerifications } from '@schoolmesh/crypto';
import { bucketOf } from '@schoolmesh/model';
import { openLevelStorage } from '@schoolmesh/storage-level';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DAY, eventually, link, testSchool } from '../../../test/support/school.ts';
import { type Engine, MAINTENANCE_MS } from '../src/index.ts';

const packedChain = (engine: Engine, group: string, bucket: number, author = engine.deviceId) => engine.replica.chain(group, bucket, author)?.packed === true;

/** A teacher who writes `perDay` posts on each of `days` days, then lets two more days pass (the last day finished). */
async function writtenDays(autoPack: boolean, days = 5, perDay = 3) {
  const s = await testSchool();
  const teacher = await s.engine(await s.device('schmidt', 'teacher'), undefined, { autoPack });
  const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
  const first = bucketOf(s.clock.now());
  for (let d = 0; d < days; d++) {
    if (d > 0) s.clock.advance(DAY);
    for (let i = 0; i < perDay; i++) await teacher.post(group, { text: `Tag ${d}, Nachricht ${i}` });
  }
  s.clock.advance(2 * DAY);
  await teacher.idle();
  return { s, teacher, group, first };
}

/** Ed25519 checks one fresh pupil device spends catching up from `teacher` (both sides, handshake included). */
async function catchupChecks(s: Awaited<ReturnType<typeof writtenDays>>['s'], teacher: Engine, group: string, first: number, days: number) {
  const pupil = await s.engine(await s.device('ben', 'pupil'), undefined, { autoPack: false });
  clearVerificationCaches();
  link(teacher, pupil);
  await eventually(async () => {
    if (!pupil.canRead(group)) return false;
    for (let d = 0; d < days; d++) if ((await pupil.messages(group, first + d)).length !== 3) return false;
    return true;
  });
  await pupil.idle();
  return signatureVerifications();
}

describe('engine: packing and manifests by themselves', () => {
  it('when a day is finished, packs its own chain once and signs a manifest; a later tick changes nothing', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a' });
    const day = bucketOf(s.clock.now());
    for (let i = 0; i < 4; i++) await teacher.post(group, { text: `Nachricht ${i}` });
    s.clock.advance(DAY);
    await teacher.idle();
    expect(packedChain(teacher, group, day)).toBe(false); // yesterday still takes late edits
    s.clock.advance(DAY);
    await eventually(() => packedChain(teacher, group, day));
    await teacher.idle();
    const stored = await teacher.replica.bucketEntries(group, day);
    expect(stored.map((e) => [e.kind, e.seq])).toEqual([['packed', 4]]);
    const manifest = teacher.replica.manifest(group, teacher.deviceId)!;
    expect(manifest.chains.map((c) => [c.bucket, c.seq])).toContainEqual([day, 4]);
    // Nothing happens twice: further ticks and an explicit call find nothing to do.
    for (let i = 0; i < 5; i++) {
      s.clock.advance(MAINTENANCE_MS);
      await teacher.idle();
    }
    expect(await teacher.packFinishedBuckets()).toBe(0);
    expect(teacher.replica.manifest(group, teacher.deviceId)?.issued).toBe(manifest.issued);
    expect((await teacher.replica.bucketEntries(group, day)).map((e) => [e.kind, e.seq])).toEqual([['packed', 4]]);
    expect((await teacher.messages(group, day)).map((m) => m.text)).toEqual(['Nachricht 0', 'Nachricht 1', 'Nachricht 2', 'Nachricht 3']);
  });

  it('pushes the packed entry and the manifest to a connected peer', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const pupil = await s.engine(await s.device('ben', 'pupil'), undefined, { autoPack: false });
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    const day = bucketOf(s.clock.now());
    link(teacher, pupil);
    await eventually(() => pupil.canRead(group));
    for (let i = 0; i < 3; i++) await teacher.post(group, { text: `Nachricht ${i}` });
    await eventually(() => pupil.replica.chain(group, day, teacher.deviceId)?.seq === 3);
    s.clock.advance(2 * DAY);
    await eventually(() => packedChain(pupil, group, day, teacher.deviceId) && pupil.replica.manifest(group, teacher.deviceId) !== undefined);
    expect((await pupil.messages(group, day)).map((m) => m.text)).toEqual(['Nachricht 0', 'Nachricht 1', 'Nachricht 2']);
  });

  it('a fresh device catches up the packed days with fewer signature checks than the unpacked ones', async () => {
    const days = 5;
    const auto = await writtenDays(true, days);
    for (let d = 0; d < days; d++) expect(packedChain(auto.teacher, auto.group, auto.first + d)).toBe(true);
    const manual = await writtenDays(false, days);
    for (let d = 0; d < days; d++) expect(packedChain(manual.teacher, manual.group, manual.first + d)).toBe(false);
    const withPacking = await catchupChecks(auto.s, auto.teacher, auto.group, auto.first, days);
    const without = await catchupChecks(manual.s, manual.teacher, manual.group, manual.first, days);
    // One manifest check instead of one per chain (the rest, certificates and membership ops, is the same).
    expect(withPacking).toBeLessThanOrEqual(without - (days - 1));
  });

  it("signs a manifest over today's and yesterday's chains on its tick; a fresh device takes them by it, and what was written after it by its own signature", async () => {
    const setup = async (autoPack: boolean) => {
      const s = await testSchool();
      const teacher = await s.engine(await s.device('schmidt', 'teacher'), undefined, { autoPack });
      const members = [{ account: s.ref('ben'), role: 'member' as const }, { account: s.ref('mia'), role: 'member' as const }];
      const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members });
      const yesterday = bucketOf(s.clock.now());
      for (let i = 0; i < 3; i++) await teacher.post(group, { text: `gestern ${i}` });
      s.clock.advance(DAY);
      for (let i = 0; i < 3; i++) await teacher.post(group, { text: `heute ${i}` });
      s.clock.advance(MAINTENANCE_MS);
      await teacher.idle();
      return { s, teacher, group, yesterday, today: yesterday + 1 };
    };
    const on = await setup(true);
    const manifest = on.teacher.replica.manifest(on.group, on.teacher.deviceId)!;
    expect(manifest.chains.map((c) => [c.bucket, c.seq])).toEqual([[on.yesterday, 3], [on.today, 3]]);
    expect(packedChain(on.teacher, on.group, on.yesterday)).toBe(false); // listed, not packed: not finished yet
    const off = await setup(false);
    expect(off.teacher.replica.manifest(off.group, off.teacher.deviceId)).toBeUndefined();
    const withManifest = await catchupChecks(on.s, on.teacher, on.group, on.yesterday, 2);
    const without = await catchupChecks(off.s, off.teacher, off.group, off.yesterday, 2);
    expect(withManifest).toBeLessThanOrEqual(without - 1);
    // One more post before the next tick: that chain goes beyond the manifest and travels with its signature.
    await on.teacher.post(on.group, { text: 'heute 3' });
    const late = await on.s.engine(await on.s.device('mia', 'pupil'), undefined, { autoPack: false });
    link(on.teacher, late);
    await eventually(async () => late.canRead(on.group) && (await late.messages(on.group, on.today)).length === 4);
    expect(late.replica.chain(on.group, on.yesterday, on.teacher.deviceId)?.signature).toBeUndefined(); // by the manifest
    expect(late.replica.chain(on.group, on.today, on.teacher.deviceId)?.signature).toBeDefined();
    // The next tick lists the longer chain.
    on.s.clock.advance(MAINTENANCE_MS);
    await eventually(() => on.teacher.replica.manifest(on.group, on.teacher.deviceId)?.chains.some((c) => c.bucket === on.today && c.seq === 4) === true);
  });

  it('packs at open what finished while the device was off', async () => {
    const s = await testSchool();
    const identity = await s.device('schmidt', 'teacher');
    const dir = mkdtempSync(join(tmpdir(), 'autopack-'));
    try {
      const off = await s.engine(identity, await openLevelStorage(dir), { autoPack: false });
      const group = await off.createGroup({ kind: 'class', name: 'Klasse 7a' });
      const day = bucketOf(s.clock.now());
      for (let i = 0; i < 3; i++) await off.post(group, { text: `Nachricht ${i}` });
      await off.close();
      s.clock.advance(3 * DAY);
      const on = await s.engine(identity, await openLevelStorage(dir));
      await eventually(() => packedChain(on, group, day));
      await on.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('closing stops the timer; turned off, there is none', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    await teacher.idle();
    expect(s.clock.pendingTimers).toBe(1);
    await teacher.close();
    expect(s.clock.pendingTimers).toBe(0);
    s.clock.advance(3 * DAY); // must not touch the closed store
    const quiet = await s.engine(await s.device('mia', 'pupil'), undefined, { autoPack: false });
    await quiet.idle();
    expect(s.clock.pendingTimers).toBe(0);
  });

  it('a failure while packing is logged, not thrown, and the timer goes on', async () => {
    const s = await testSchool();
    const warnings: string[] = [];
    const teacher = await s.engine(await s.device('schmidt', 'teacher'), undefined, { log: (level, m) => level === 'warn' && warnings.push(m) });
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a' });
    for (let i = 0; i < 2; i++) await teacher.post(group, { text: `Nachricht ${i}` });
    await teacher.idle();
    const original = teacher.replica.bucketEntries.bind(teacher.replica);
    teacher.replica.bucketEntries = () => Promise.reject(new Error('disk gone'));
    s.clock.advance(2 * DAY);
    await eventually(() => warnings.some((w) => w.includes('disk gone')));
    await teacher.idle();
    expect(s.clock.pendingTimers).toBe(1);
    teacher.replica.bucketEntries = original;
    s.clock.advance(MAINTENANCE_MS);
    await eventually(() => packedChain(teacher, group, bucketOf(s.clock.now()) - 2));
  });
});
