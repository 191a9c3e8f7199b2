/**
 * Admission at a real relay process (loopback, libp2p with Noise): who gets a session, and what a session may
 * see and write. Devices of unknown schools are refused before anything is shared; a certificate only counts on
 * the connection whose Noise key it certifies; a certified device of the school that is not a member of a group
 * can neither fetch nor write its entries; a revoked device is dropped at once and cannot come back.
 */
import type { Libp2p } from '@libp2p/interface';
import { aeadKey, generateAgreementKeyPair, generateSigningKeyPair, randomBytes } from '@schoolmesh/crypto';
import { type Entry, chainSeed, sealEntry } from '@schoolmesh/entries';
import { type AuthorityCertificate, type DeviceIdentity, createSchool, deviceIdentity, enrollDevice, issueDeviceCertificate } from '@schoolmesh/identity';
import { createOp } from '@schoolmesh/membership';
import { bucketOf } from '@schoolmesh/model';
import { epochIdOf } from '@schoolmesh/replica';
import { ErrorCode, type SyncMessage } from '@schoolmesh/sync';
import { toBase64Url } from '@schoolmesh/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelayDevice, enrolledDevice, until } from './support/devices.ts';
import { type RawStream, groupsNamed, openRawStream, rawHandshake, rawNode, typesOf } from './support/raw-peer.ts';
import { type RelayProcess, type RelaySetup, removeSetup, setupRelay, startRelay } from './support/relay-process.ts';

/** A device certified by some school's authority (not through the relay's enrollment). */
async function certifiedBy(authority: { authority: DeviceIdentity['signing']; authorityCert: AuthorityCertificate }, account: string): Promise<DeviceIdentity> {
  const signing = await generateSigningKeyPair();
  const agreement = await generateAgreementKeyPair();
  const now = Date.now();
  const certificate = await issueDeviceCertificate(authority.authority, authority.authorityCert, {
    account,
    displayName: account,
    role: 'pupil',
    deviceKey: signing.publicKey,
    agreementKey: agreement.publicKey,
    notBefore: now - 60_000,
    notAfter: now + 7 * 24 * 3600_000,
  });
  return deviceIdentity(signing, agreement, certificate);
}

/** Runs the handshake as `identity` over `node` and expects the relay to refuse it; returns what was received. */
async function refusedHandshake(node: Libp2p, relay: RelayProcess, identity: DeviceIdentity): Promise<RawStream> {
  const raw = await openRawStream(node, relay);
  await expect(rawHandshake(raw, identity)).rejects.toThrow(/closed/);
  await raw.ended();
  return raw;
}

function expectRefusedWithNothing(raw: RawStream, reason: RegExp): void {
  // The relay's own HELLO (sent before it knows who we are) and its ERROR: nothing else, no AUTH, no group.
  expect(typesOf(raw.received)).toEqual(['hello', 'error']);
  const error = raw.received[1] as SyncMessage & { type: 'error' };
  expect(error.code).toBe(ErrorCode.Unauthenticated);
  expect(error.message).toMatch(reason);
  expect(groupsNamed(raw.received).size).toBe(0);
}

describe('admission at a relay process', () => {
  let setup: RelaySetup;
  let other: RelaySetup;
  let relay: RelayProcess;
  let teacher: RelayDevice;
  let ben: RelayDevice;
  let mia: RelayDevice;
  let eve: RelayDevice;
  let group: string;
  const nodes: Libp2p[] = [];
  const node = async (seed?: Uint8Array) => {
    const n = await rawNode(seed);
    nodes.push(n);
    return n;
  };

  beforeAll(async () => {
    // Strangers get 3 s to authenticate (10 s by default): the idle-stream test below waits for it.
    setup = await setupRelay('Gymnasium am See', { limits: { handshakeSeconds: 3 } });
    // A second school with its own keys, never federated with the first (its relay need not even run).
    other = await setupRelay('Realschule Nord');
    relay = await startRelay(setup);
    teacher = await enrolledDevice(relay, 'schmidt', 'teacher', 'Frau Schmidt');
    ben = await enrolledDevice(relay, 'ben', 'pupil', 'Ben');
    mia = await enrolledDevice(relay, 'mia', 'pupil', 'Mia');
    eve = await enrolledDevice(relay, 'eve', 'pupil', 'Eve');
    group = await teacher.engine.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: ben.ref, role: 'member' }] });
    await teacher.online();
    await ben.online();
    await until(() => ben.engine.canRead(group), 20_000, 'ben can read');
    for (let i = 0; i < 3; i++) await (await teacher.engine.post(group, { text: `Nachricht ${i}` })).acked;
    await until(async () => (await ben.engine.messages(group)).length === 3, 20_000, 'ben has the messages');
  });

  it('ends a stream that never authenticates after limits.handshakeSeconds', async () => {
    const idle = await openRawStream(await node(), relay);
    // We send nothing at all: the relay's HELLO comes, then, after the handshake time, its ERROR and the end.
    await idle.ended(30_000);
    const error = idle.received.find((m) => m.type === 'error') as (SyncMessage & { type: 'error' }) | undefined;
    expect(error?.code).toBe(ErrorCode.Unauthenticated);
    expect(error?.message).toMatch(/no handshake within 3 s/);
    expect(groupsNamed(idle.received).size).toBe(0);
  });

  afterAll(async () => {
    for (const n of nodes) await n.stop();
    for (const d of [teacher, ben, mia, eve]) await d?.close();
    await relay?.stop();
    for (const s of [setup, other]) if (s) await removeSetup(s);
  });

  it('refuses devices of a school it does not trust: another real school, and a self-made one named like ours', async () => {
    const stranger = await certifiedBy(other.keys, 'ben');
    const impostorSchool = await createSchool('Gymnasium am See', Date.now());
    const impostor = await enrollDevice(impostorSchool, { account: 'schmidt', role: 'teacher', now: Date.now() });
    for (const identity of [stranger, impostor]) {
      // Its own Noise key, so only the certificate can be what is refused.
      const raw = await refusedHandshake(await node(identity.signing.seed), relay, identity);
      expectRefusedWithNothing(raw, /credential refused: school .* is not trusted here/);
    }
    expect(await relay.metrics()).toMatch(/schoolmesh_sessions_refused_total\{reason="handshake"\} [2-9]/);
    // Members are unaffected.
    expect(ben.connection!.link.session!.isClosed).toBe(false);
  });

  it('binds the certificate to the Noise key: a valid certificate over a connection keyed otherwise is refused', async () => {
    // Mia's own certificate, her AUTH signed with her own key, but the libp2p connection authenticated another key:
    // a random one, and the key of another enrolled device of the school (eve's).
    for (const seed of [randomBytes(32), eve.identity.signing.seed]) {
      const raw = await refusedHandshake(await node(seed), relay, mia.identity);
      expectRefusedWithNothing(raw, /the certificate is not for the key this connection authenticated/);
    }
    // Control: the same certificate and signature over a connection with mia's own key are admitted.
    const raw = await openRawStream(await node(mia.identity.signing.seed), relay);
    await rawHandshake(raw, mia.identity);
    expect(typesOf(raw.received).slice(0, 3)).toEqual(['hello', 'auth', 'groups']);
    raw.close();
  });

  it('a certified non-member can neither fetch a group nor write into it, and members never see its attempts', async () => {
    await eve.online();
    // Through a normal engine session: the group is not even named to her.
    expect(eve.engine.replica.knowsGroup(group)).toBe(false);
    expect(eve.engine.groups()).toEqual([]);

    // By hand, on eve's own connection: she knows the group id, its log and its epoch (leaked to her out of band).
    const raw = await openRawStream(eve.connection!.node, relay);
    await rawHandshake(raw, eve.identity);
    const state = teacher.engine.state(group)!;
    const epoch = epochIdOf(state.currentEpoch!);
    const bucket = bucketOf(Date.now());
    const heads = teacher.engine.replica.heads(group);
    raw.send({ type: 'groups', groups: [{ group, heads: [] }] });
    raw.send({ type: 'heads', group, heads: [] });
    raw.send({ type: 'summary', group, buckets: [{ bucket, digest: toBase64Url(new Uint8Array(8)) }] });
    raw.send({ type: 'vector', group, bucket, vector: [] });
    // Membership: the whole log (which the relay holds already) and her own attempts to join.
    const joinDevice = await createOp(eve.identity, group, heads, { type: 'add-device', certificate: eve.identity.certificate }, Date.now());
    const joinAccount = await createOp(eve.identity, group, heads, { type: 'add', account: eve.ref, role: 'member' }, Date.now());
    raw.send({ type: 'membership', group, ops: [...teacher.engine.replica.membershipFor(group, []), joinDevice.bytes, joinAccount.bytes] });
    // Entries: her own chain in the group under the real epoch id, and one claiming the teacher's chain.
    const key = await aeadKey(randomBytes(32));
    const own = await sealEntry(eve.identity, key, { kind: 'single', group, bucket, seq: 1, epoch, plaintext: new TextEncoder().encode('eve was here'), prev: chainSeed(group, bucket, eve.identity.id) });
    const teacherChain = teacher.engine.replica.chain(group, bucket, teacher.identity.id)!;
    const forged = await sealEntry(eve.identity, key, { kind: 'single', group, bucket, seq: teacherChain.seq + 1, epoch, plaintext: new TextEncoder().encode('forged'), prev: teacherChain.head });
    const asTeacher: Entry = { ...forged.entry, author: teacher.identity.id };
    raw.send({ type: 'entries', batch: 1, entries: [own.entry] });
    raw.send({ type: 'entries', batch: 2, entries: [asTeacher] });

    const plan = await raw.next('plan');
    expect(plan).toMatchObject({ group, bucket, count: 0 });
    const acks = () => raw.received.filter((m): m is SyncMessage & { type: 'ack' } => m.type === 'ack');
    await until(() => acks().length === 2, 10_000, 'two acks');
    expect(acks().map((a) => [a.batch, a.accepted, a.rejected])).toEqual([
      [1, 0, 1],
      [2, 0, 1],
    ]);
    // Nothing of the group came back but the empty plan: no membership, no summary, no entries at all.
    for (const m of raw.received) {
      expect(m.type).not.toBe('entries');
      if ('group' in m && m.group === group) expect(m.type).toBe('plan');
      if (m.type === 'groups') expect(m.groups.map((g) => g.group)).not.toContain(group);
    }
    expect(raw.closed).toBeUndefined();
    raw.close();

    // Members: a probe written after her attempts reaches ben, and nothing of hers ever came along or stuck.
    await (await teacher.engine.post(group, { text: 'probe' })).acked;
    await until(async () => (await ben.engine.messages(group)).some((m) => m.text === 'probe'), 20_000, 'ben sees the probe');
    for (const member of [ben, teacher]) {
      const s = member.engine.state(group)!;
      expect(s.members.has(eve.ref)).toBe(false);
      expect(s.devices.has(eve.identity.id)).toBe(false);
      expect(member.engine.replica.chain(group, bucket, eve.identity.id)).toBeUndefined();
      expect((await member.engine.messages(group)).map((m) => m.text)).toEqual(['Nachricht 0', 'Nachricht 1', 'Nachricht 2', 'probe']);
    }
    expect(ben.engine.replica.chain(group, bucket, teacher.identity.id)!.seq).toBe(teacher.engine.replica.chain(group, bucket, teacher.identity.id)!.seq);
    // And her normal session still never learned of the group.
    expect(eve.engine.replica.knowsGroup(group)).toBe(false);
    expect(await relay.metrics()).toMatch(/schoolmesh_entries_rejected_total [2-9]/);
  });

  it('drops a revoked device within seconds and refuses it from then on', async () => {
    const session = ben.connection!.link.session!;
    expect(session.peer?.kind).toBe('relay');
    const teacherSession = teacher.connection!.link.session!;
    await relay.revoke([ben.identity.id]);
    await until(() => session.isClosed, 5_000, "ben's session dropped");
    // He is told why (ERROR 3 with the reason), not just disconnected.
    expect(session.closeReason).toMatch(/peer error 3: no longer admitted: .*revoked/);
    expect(session.closeCode).toBe(ErrorCode.Unauthenticated);
    // The link tells its app that the school refuses this device (not merely "offline").
    await until(() => ben.connection!.link.state === 'refused', 5_000, "ben's link says refused");
    // The relay's log line may reach us after the device heard of it.
    await until(() => relay.logs.some((l) => l.includes('dropping session') && l.includes(ben.identity.id)), 5_000, 'the relay logs the drop');
    // The others stay.
    expect(teacherSession.isClosed).toBe(false);

    // Ben's link keeps redialling by itself, slowly; the relay refuses every attempt.
    const refusedBefore = relay.logs.filter((l) => l.includes('session refused') && l.includes('revoked')).length;
    // (A refused link waits the longest delay, 15 s, between attempts.)
    await until(() => relay.logs.filter((l) => l.includes('session refused') && l.includes('revoked')).length >= refusedBefore + 1, 30_000, 'a refused redial');
    expect(ben.connection!.link.session?.peer).toBeUndefined();
    // And a fresh connection of his, by hand: refused at the handshake, nothing shared.
    const raw = await refusedHandshake(ben.connection!.node, relay, ben.identity);
    expectRefusedWithNothing(raw, /revoked/);
    await ben.offline();
  });
});
