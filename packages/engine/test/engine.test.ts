import { openEntry } from '@schoolmesh/entries';
import { describe, expect, it } from 'vitest';
import { DAY, eventually, link, testSchool } from '../../../test/support/school.ts';

const texts = async (engine: { messages: (g: string) => Promise<{ text: string }[]> }, group: string) =>
  (await engine.messages(group)).map((m) => m.text);

const texts2 = async (engine: { messages: (g: string, b: number) => Promise<{ text: string }[]> }, group: string, bucket: number) =>
  (await engine.messages(group, bucket)).map((m) => m.text);

describe('engine: two devices chat directly', () => {
  it('a teacher creates a class, a pupil joins, both write and read each other', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const pupil = await s.engine(await s.device('ben', 'pupil'));
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    await teacher.post(group, { text: 'Guten Morgen, 7a!' });
    link(teacher, pupil);
    await eventually(() => pupil.canRead(group));
    await eventually(async () => (await texts(pupil, group).catch((): string[] => [])).includes('Guten Morgen, 7a!'));
    await pupil.post(group, { text: 'Morgen Frau Schmidt' });
    await eventually(async () => (await texts(teacher, group)).includes('Morgen Frau Schmidt'));
    expect(await texts(teacher, group)).toEqual(await texts(pupil, group));
  });

  it('a removed member cannot decrypt what is written after the removal', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const pupil = await s.engine(await s.device('ben', 'pupil'));
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    const l = link(teacher, pupil);
    await eventually(() => pupil.canRead(group));
    await teacher.post(group, { text: 'vorher' });
    await eventually(async () => (await texts(pupil, group)).includes('vorher'));
    l.close();
    await teacher.removeMember(group, s.ref('ben'));
    const after = await teacher.post(group, { text: 'nachher' });
    // A curious relay hands the removed pupil every membership op and the new ciphertext.
    await pupil.replica.addOps(group, teacher.replica.membershipFor(group, []));
    await pupil.idle();
    expect(pupil.canRead(group)).toBe(false);
    const [entry] = (await teacher.replica.bucketEntries(group, after.bucket)).filter((e) => e.author === teacher.deviceId).slice(-1);
    expect(pupil.keys.has(group, entry!.epoch)).toBe(false);
    for (const epoch of pupil.keys.epochs(group)) {
      const key = await pupil.keys.aead(group, epoch);
      await expect(openEntry(entry!, key!)).rejects.toThrow();
    }
    expect(await texts(pupil, group)).not.toContain('nachher');
  });

  it('refuses a membership change, with a clear error, on a group it holds only pending ops of', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const pupil = await s.engine(await s.device('ben', 'pupil'));
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    await teacher.addMember(group, s.ref('clara'), 'moderator');
    // The pupil's device gets the last op but not the group's creation: the op waits for its parents.
    const ops = teacher.replica.membershipFor(group, []);
    await pupil.replica.addOps(group, ops.slice(-1));
    await pupil.idle();
    expect(pupil.replica.log(group)?.heads()).toEqual([]);
    await expect(pupil.addMember(group, s.ref('dana'))).rejects.toMatchObject({ name: 'EngineError', code: 'unknown-group' });
    // Once the rest arrives the log has its head again.
    await pupil.replica.addOps(group, ops);
    await pupil.idle();
    expect(pupil.replica.log(group)?.heads().length).toBe(1);
  });

  it('a post written just after connecting, before catch-up sent the one written offline, still reaches the peer and is acknowledged', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const pupil = await s.engine(await s.device('ben', 'pupil'));
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    await teacher.post(group, { text: 'hallo' });
    const first = link(teacher, pupil);
    await eventually(async () => (await texts(pupil, group).catch((): string[] => [])).includes('hallo'));
    await (await pupil.post(group, { text: 'eins' })).acked;
    first.close();
    // Offline: the next entry of the pupil's chain waits for catch-up.
    const offline = await pupil.post(group, { text: 'zwei' });
    const live: Promise<void>[] = [];
    pupil.on((e) => {
      // The moment the session is authenticated, before the peers exchanged their vectors: a live push.
      if (e.type === 'connection' && e.open) live.push(pupil.post(group, { text: 'drei' }).then((p) => p.acked));
    });
    link(teacher, pupil);
    await eventually(() => live.length === 1);
    await Promise.all([offline.acked, live[0]]);
    await eventually(async () => (await texts(teacher, group)).includes('drei'));
    expect((await texts(teacher, group)).sort()).toEqual(['drei', 'eins', 'hallo', 'zwei']);
  });

  it('a live push the peer refuses once (it lacked what came first) is sent again after catch-up and acknowledged', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const pupil = await s.engine(await s.device('ben', 'pupil'));
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    await teacher.post(group, { text: 'hallo' });
    link(teacher, pupil);
    await eventually(async () => (await texts(pupil, group).catch((): string[] => [])).includes('hallo'));
    await (await pupil.post(group, { text: 'eins' })).acked;
    // The teacher's replica refuses the next push of the pupil once, as a relay does when a live push outruns the
    // catch-up that carries the chain's earlier entries ("gap") or an epoch op still being applied.
    const apply = teacher.replica.applyEntries.bind(teacher.replica);
    let refused = 0;
    teacher.replica.applyEntries = async (entries, peer) => {
      if (refused === 0 && entries.some((e) => e.author === pupil.deviceId)) {
        refused++;
        return { accepted: [], rejected: entries.length, reason: 'gap: holds seq 0, expected seq 1' };
      }
      return apply(entries, peer);
    };
    const posted = await pupil.post(group, { text: 'zwei' });
    let acked = false;
    void posted.acked.then(() => {
      acked = true;
    });
    await eventually(() => acked);
    expect(refused).toBe(1);
    expect(await texts(teacher, group)).toContain('zwei');
  });

  it('retention deletes expired buckets and erases keys no live bucket needs', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a' });
    await teacher.post(group, { text: 'alt' });
    const firstBucket = teacher.liveBuckets(group)[0]!;
    await teacher.rotateKey(group);
    s.clock.advance(20 * DAY);
    await teacher.post(group, { text: 'neu' });
    const result = await teacher.expire();
    expect(result.buckets).toBe(1);
    expect(result.erasedKeys).toBeGreaterThanOrEqual(1);
    expect(teacher.liveBuckets(group)).not.toContain(firstBucket);
    expect(await texts(teacher, group)).toEqual(['neu']);
  });

  it('packs a finished bucket per author; a fresh device catches up the packed form and reads the same', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'), undefined, { autoPack: false });
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    for (let i = 0; i < 5; i++) await teacher.post(group, { text: `Nachricht ${i}` });
    const bucket = teacher.liveBuckets(group)[0]!;
    const before = await texts2(teacher, group, bucket);
    expect(await teacher.packFinishedBuckets()).toBe(0);
    s.clock.advance(2 * DAY);
    await expect(teacher.post(group, { text: 'heute' })).resolves.toBeDefined();
    await expect(teacher.edit(group, bucket, (await teacher.messages(group, bucket))[0]!.key, 'zu spät')).rejects.toMatchObject({ code: 'finished' });
    expect(await teacher.packFinishedBuckets()).toBe(1);
    const stored = await teacher.replica.bucketEntries(group, bucket);
    expect(stored).toHaveLength(1);
    expect(stored[0]!.kind).toBe('packed');
    const pupil = await s.engine(await s.device('ben', 'pupil'));
    link(teacher, pupil);
    await eventually(async () => pupil.canRead(group) && (await pupil.replica.bucketEntries(group, bucket)).length === 1);
    await pupil.idle();
    await eventually(async () => (await texts2(pupil, group, bucket)).length === 5);
    expect(await texts2(pupil, group, bucket)).toEqual(before);
    expect((await pupil.replica.bucketEntries(group, bucket))[0]!.kind).toBe('packed');
  });
});
