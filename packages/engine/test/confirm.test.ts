/**
 * `Engine.confirmOwnChain`: a device sends its chain of a day again and learns when the peer has stored it, which
 * is what clears a "waits for the school" mark kept across a restart.
 */
import { bucketOf } from '@schoolmesh/model';
import { memoryChannelPair } from '@schoolmesh/sync';
import { describe, expect, it } from 'vitest';
import { testSchool } from '../../../test/support/school.ts';

describe('engine: confirming its own chain at a peer', () => {
  it('resolves once the peer stored the chain (what it had it skips), and rejects where the peer refuses it', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'), undefined, { autoPack: false });
    const ben = await s.engine(await s.device('ben', 'pupil'), undefined, { autoPack: false });
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    const bucket = bucketOf(s.clock.now());
    // Written while no peer was there.
    await teacher.post(group, { text: 'eins' });
    await teacher.post(group, { text: 'zwei' });
    const [a, b] = memoryChannelPair();
    const session = teacher.connect(a);
    ben.connect(b);
    await session.caughtUp();
    await teacher.confirmOwnChain(session, group, bucket);
    expect(ben.replica.chain(group, bucket, teacher.deviceId)?.seq).toBe(teacher.replica.chain(group, bucket, teacher.deviceId)?.seq);
    // Again: everything is there already, the peer skips it and acknowledges.
    await teacher.confirmOwnChain(session, group, bucket);

    // A peer that may not have the group (Mia is no member) refuses the chain: no confirmation.
    const mia = await s.engine(await s.device('mia', 'pupil'), undefined, { autoPack: false });
    const [c, d] = memoryChannelPair();
    const toMia = teacher.connect(c);
    mia.connect(d);
    await toMia.caughtUp();
    await expect(teacher.confirmOwnChain(toMia, group, bucket)).rejects.toThrow(/rejected/);
    expect(mia.replica.chain(group, bucket, teacher.deviceId)).toBeUndefined();
  });
});
