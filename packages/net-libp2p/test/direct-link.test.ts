/**
 * A direct link between two devices authenticates both ends exactly like a session with the relay: Noise with the
 * device key over whatever carries the bytes, then the certificate in HELLO bound to that Noise key.
 */
import type { Engine } from '@schoolmesh/engine';
import type { DeviceIdentity } from '@schoolmesh/identity';
import { createSchool, enrollDevice } from '@schoolmesh/identity';
import { describe, expect, it } from 'vitest';
import { eventually, testSchool } from '../../../test/support/school.ts';
import { type BytePipe, libp2pPrivateKey, peerIdOfKey, secureDirect } from '../src/index.ts';

/** Two ends of an in-memory byte pipe (delivery on a later task, as a MessagePort does). */
function pipePair(): [BytePipe, BytePipe] {
  const make = () => ({ data: [] as ((d: Uint8Array) => void)[], end: [] as (() => void)[], ended: false });
  const a = make();
  const b = make();
  const end = (self: typeof a, other: typeof a) => () => {
    if (self.ended) return;
    self.ended = true;
    setTimeout(() => {
      other.ended = true;
      for (const h of other.end) h();
    });
  };
  const side = (self: typeof a, other: typeof a): BytePipe => ({
    send: (d) => {
      const copy = d.slice();
      if (!self.ended) setTimeout(() => {
        for (const h of other.data) h(copy);
      });
    },
    onData: (h) => self.data.push(h),
    onEnd: (h) => self.end.push(h),
    end: end(self, other),
  });
  return [side(a, b), side(b, a)];
}

async function direct(a: { engine: Engine; identity: DeviceIdentity }, b: { engine: Engine; identity: DeviceIdentity }, expect?: DeviceIdentity) {
  const [pa, pb] = pipePair();
  const [sa, sb] = await Promise.allSettled([
    secureDirect(pa, await libp2pPrivateKey(a.identity.signing.seed), { initiator: true, remotePeer: peerIdOfKey((expect ?? b.identity).signing.publicKey) }),
    secureDirect(pb, await libp2pPrivateKey(b.identity.signing.seed), { initiator: false }),
  ]);
  return { sa, sb };
}

describe('direct link between two devices', () => {
  it('runs a sync session both ways over Noise with the device keys, and refuses a device the dialer did not expect', async () => {
    const s = await testSchool();
    const teacher = await s.device('schmidt', 'teacher');
    const ben = await s.device('ben', 'pupil');
    const mia = await s.device('mia', 'pupil');
    const te = await s.engine(teacher);
    const be = await s.engine(ben);
    const group = await te.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });

    const { sa, sb } = await direct({ engine: te, identity: teacher }, { engine: be, identity: ben });
    if (sa.status !== 'fulfilled' || sb.status !== 'fulfilled') throw new Error('handshake failed');
    expect(sa.value.remoteKey).toEqual(ben.signing.publicKey);
    expect(sb.value.remoteKey).toEqual(teacher.signing.publicKey);
    const st = te.connect(sa.value.channel, { transportKey: sa.value.remoteKey });
    const sbn = be.connect(sb.value.channel, { transportKey: sb.value.remoteKey });
    expect((await st.start()).id).toBe(ben.id);
    expect((await sbn.start()).id).toBe(teacher.id);
    await te.post(group, { text: 'Direkt!' });
    await eventually(async () => be.canRead(group) && (await be.messages(group)).some((m) => m.text === 'Direkt!'));
    await be.post(group, { text: 'Zurück' });
    await eventually(async () => (await te.messages(group)).some((m) => m.text === 'Zurück'));
    st.close();
    sbn.close();

    // Mia answers where the teacher expected Ben: Noise fails before any sync byte flows.
    const wrong = await direct({ engine: te, identity: teacher }, { engine: await s.engine(mia), identity: mia }, ben);
    expect(wrong.sa.status).toBe('rejected');
  });

  it('a stranger cannot join: a certificate of another key, or of an untrusted school, ends the session without data', async () => {
    const s = await testSchool();
    const teacher = await s.device('schmidt', 'teacher');
    const ben = await s.device('ben', 'pupil');
    const te = await s.engine(teacher);
    const group = await te.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    await te.post(group, { text: 'Nur für 7a' });

    const other = await createSchool('Fremde Schule', s.clock.now());
    const stranger = await enrollDevice(other, { account: 'eve', role: 'pupil', now: s.clock.now(), displayName: 'Eve' });
    // Ben's certificate with Eve's key: Noise proves Eve's key, HELLO shows Ben's certificate.
    const thief: DeviceIdentity = { ...ben, signing: stranger.signing, id: stranger.id };
    for (const identity of [stranger, thief]) {
      const [pa, pb] = [...pipePair()];
      const [sa, sb] = await Promise.all([
        secureDirect(pa, await libp2pPrivateKey(teacher.signing.seed), { initiator: true }),
        secureDirect(pb, await libp2pPrivateKey(identity.signing.seed), { initiator: false }),
      ]);
      const session = te.connect(sa.channel, { transportKey: sa.remoteKey });
      const intruder = await s.engine(identity).catch(() => undefined);
      // The intruder speaks sync with whatever credential its identity holds.
      const theirs = intruder?.connect(sb.channel, { transportKey: sb.remoteKey });
      await expect(session.start()).rejects.toThrow();
      expect(intruder?.state(group)).toBeUndefined();
      theirs?.close();
      await intruder?.close();
    }
  });
});
