/**
 * The security claims of docs/threat-model.md, one test per claim, on the real packages: real keys, real
 * certificates, real sync sessions over memory channels, no mocked crypto. A "relay" here is what a relay runs at
 * the ciphertext level (a Replica with its own store and trust store, authenticated by the school's authority
 * certificate, test/support/security.ts); relay admission over libp2p comes with the relay issue.
 */
import { authorPrefix, clientIdFor, docNameFor } from '@schoolmesh/content';
import { aeadKey, generateAgreementKeyPair, generateSigningKeyPair, randomBytes } from '@schoolmesh/crypto';
import { type Engine, deviceCredential } from '@schoolmesh/engine';
import { type Entry, type Manifest, chainHash, chainSeed, openEntry, sealEntry, signManifest } from '@schoolmesh/entries';
import { type DeviceIdentity, deviceIdentity, issueDeviceCertificate, issueRevocationList } from '@schoolmesh/identity';
import { createOp, openEpochKey } from '@schoolmesh/membership';
import { bucketOf } from '@schoolmesh/model';
import { Replica } from '@schoolmesh/replica';
import { MemoryStorage } from '@schoolmesh/storage';
import { ErrorCode, type PeerInfo, type SyncMessage, SyncSession, decodeMessage, encodeMessage, memoryChannelPair } from '@schoolmesh/sync';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { DAY, eventually, testSchool } from './support/school.ts';
import {
  type TestDevice,
  attackerEnd,
  classroom,
  containsBytes,
  currentEpochId,
  openDevice,
  openEngine,
  openRelay,
  recording,
  relayAwareVerifier,
  relaySession,
  settle,
  storedBytes,
  syncWithRelay,
  types,
  untilReady,
} from './support/security.ts';

const utf8 = new TextEncoder();

const texts = async (engine: Engine, group: string, bucket?: number) => (await engine.messages(group, bucket)).map((m) => m.text);

const cloneEntry = (e: Entry): Entry => {
  const copy: Entry = { ...e, nonce: e.nonce.slice(), ciphertext: e.ciphertext.slice() };
  if (e.signature) copy.signature = e.signature.slice();
  else delete copy.signature;
  return copy;
};

/** The entries of one author in one bucket, as a peer would serve them (the head carries the signature). */
async function entriesOf(device: TestDevice, group: string, bucket: number, author = device.id): Promise<Entry[]> {
  return (await device.engine.replica.bucketEntries(group, bucket)).filter((e) => e.author === author).map(cloneEntry);
}

/** An entry sealed and signed by `author` under a key it made up (it holds no key of the group). */
async function forgedEntry(author: DeviceIdentity, group: string, epoch: string, bucket: number): Promise<Entry> {
  const key = await aeadKey(randomBytes(32));
  const plaintext = utf8.encode('Ich bin auch in der 7a');
  const { entry } = await sealEntry(author, key, { kind: 'single', group, bucket, seq: 1, epoch, plaintext, prev: chainSeed(group, bucket, author.id) });
  return entry;
}

/** Two engines connected directly; the sessions are returned so tests can wait for catch-up. */
function pair(a: Engine, b: Engine) {
  const [ca, cb] = memoryChannelPair();
  const sa = a.connect(ca);
  const sb = b.connect(cb);
  return {
    sa,
    sb,
    close: () => {
      sa.close();
      sb.close();
    },
  };
}

/** `client` connects to `server`'s engine; both ends are recorded. Resolves when both sessions have closed. */
async function refusedHandshake(client: Engine, server: Engine) {
  const [a, b] = memoryChannelPair();
  const ra = recording(a);
  const opened: PeerInfo[] = [];
  const off = server.on((e) => {
    if (e.type === 'connection' && e.open) opened.push(e.peer);
  });
  const sc = client.connect(ra);
  const ss = server.connect(b);
  await eventually(() => sc.isClosed && ss.isClosed);
  off();
  return { client: sc, server: ss, toClient: ra.received.map(decodeMessage), opened };
}

const CONTENT_TYPES = ['groups', 'membership', 'summary', 'vector', 'plan', 'entries'];

function expectUnauthenticatedError(frames: SyncMessage[]): void {
  const error = frames.find((m) => m.type === 'error');
  expect(error).toMatchObject({ type: 'error', code: ErrorCode.Unauthenticated });
  expect(types(frames).filter((t) => CONTENT_TYPES.includes(t))).toEqual([]);
}

// ================================================================================================ membership of writers

describe('only devices of the group write', () => {
  it('an entry from a device that is not a member of the group is rejected by a relay and by a device, also over a sync session', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const relay = await openRelay(s);
    await syncWithRelay(s, relay, c.teacher);
    expect(relay.replica.knowsGroup(c.group)).toBe(true);
    const eve = await openDevice(s, 'eve', 'pupil');
    const bucket = bucketOf(s.clock.now());
    const entry = await forgedEntry(eve.identity, c.group, currentEpochId(c.teacher, c.group), bucket);

    for (const replica of [relay.replica, c.teacher.engine.replica]) {
      const result = await replica.applyEntries([entry]);
      expect(result.accepted).toHaveLength(0);
      expect(result.rejected).toBe(1);
      expect(result.reason).toMatch(/not a device of the group/);
      expect(replica.chain(c.group, bucket, eve.id)).toBeUndefined();
    }

    // Over the wire: eve authenticates (her certificate is genuine) and pushes the entry; both peers ack a rejection.
    const now = () => s.clock.now();
    const eveReplica = await Replica.open({ storage: new MemoryStorage(), trust: eve.trust, clock: now });
    const targets: ((ch: ReturnType<typeof memoryChannelPair>[1]) => void)[] = [
      (ch) => void new SyncSession({ channel: ch, replica: relay.replica, credential: relay.credential, verifier: relayAwareVerifier(relay.trust, now) }).start().catch(() => {}),
      (ch) => void c.teacher.engine.connect(ch),
    ];
    for (const open of targets) {
      const [ce, ct] = memoryChannelPair();
      const rec = recording(ce);
      const es = new SyncSession({ channel: rec, replica: eveReplica, credential: deviceCredential(eve.identity), verifier: relayAwareVerifier(eve.trust, now) });
      open(ct);
      await es.start();
      await es.caughtUp();
      // The push is not taken as delivered: the peer's ACK reports the entry rejected.
      await expect(es.pushEntries([entry])).rejects.toMatchObject({ code: 'remote' });
      const ack = rec.received.map(decodeMessage).find((m) => m.type === 'ack');
      expect(ack).toMatchObject({ accepted: 0, rejected: 1 });
      es.close();
    }
    expect(relay.replica.chain(c.group, bucket, eve.id)).toBeUndefined();
    expect(c.teacher.engine.replica.chain(c.group, bucket, eve.id)).toBeUndefined();
    // Nor was she given the group: neither the relay nor the teacher's device offered it to a non-member.
    expect(eveReplica.knowsGroup(c.group)).toBe(false);
  });

  it('a member who may read but not post (pupil in an announcement group) cannot post: its correctly keyed, signed entry is rejected', async () => {
    const s = await testSchool();
    const teacher = await openDevice(s, 'schmidt', 'teacher');
    const ben = await openDevice(s, 'ben', 'pupil');
    const relay = await openRelay(s);
    const group = await teacher.engine.createGroup({ kind: 'announcement', name: 'Schulleitung informiert', members: [{ account: ben.ref, role: 'member' }] });
    const link = pair(teacher.engine, ben.engine);
    await untilReady(teacher, ben, group);
    link.close();
    await syncWithRelay(s, relay, teacher);
    await expect(ben.engine.post(group, { text: 'Hitzefrei!' })).rejects.toMatchObject({ code: 'forbidden' });
    const bucket = bucketOf(s.clock.now());
    const epoch = currentEpochId(teacher, group);
    const key = (await ben.engine.keys.aead(group, epoch))!;
    const { entry } = await sealEntry(ben.identity, key, {
      kind: 'single',
      group,
      bucket,
      seq: 1,
      epoch,
      plaintext: new Uint8Array([0]),
      prev: chainSeed(group, bucket, ben.id),
    });
    for (const replica of [relay.replica, teacher.engine.replica]) {
      const result = await replica.applyEntries([entry]);
      expect(result.accepted).toHaveLength(0);
      expect(result.reason).toMatch(/may not post/);
    }
  });
});

// ================================================================================================ integrity of entries

describe('entries cannot be forged or relabelled', () => {
  it('an entry with a forged signature, tampered ciphertext or nonce, or a relabelled group, bucket, seq, epoch, author or kind is rejected by a relay and by a device', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    // A second group that ben also belongs to (target of the group relabelling), and a second epoch in the class.
    const club = await c.teacher.engine.createGroup({ kind: 'club', name: 'Schach-AG', members: [{ account: c.ben.ref, role: 'member' }] });
    const oldEpoch = currentEpochId(c.teacher, c.group);
    await c.teacher.engine.rotateKey(c.group);
    const link = pair(c.teacher.engine, c.ben.engine);
    await untilReady(c.teacher, c.ben, club);
    await untilReady(c.teacher, c.ben, c.group);
    link.close();
    await settle();
    const relay = await openRelay(s);
    await syncWithRelay(s, relay, c.teacher);

    // Ben writes while offline; nobody else holds these entries yet.
    const bucket = bucketOf(s.clock.now());
    await c.ben.engine.post(c.group, { text: 'Ich habe die Hausaufgabe' });
    await c.ben.engine.post(c.group, { text: 'Seite 42 war schwer' });
    const genuine = await entriesOf(c.ben, c.group, bucket);
    expect(genuine.map((e) => e.seq)).toEqual([1, 2]);
    const [e1, e2] = genuine as [Entry, Entry];
    const flip = (b: Uint8Array, i = 0) => {
      const out = b.slice();
      out[i]! ^= 1;
      return out;
    };
    const variants: Record<string, Entry[]> = {
      'forged signature': [e1, { ...e2, signature: flip(e2.signature!, 5) }],
      'signature of another author': [e1, { ...e2, signature: (await c.teacher.identity.signing.sign(new Uint8Array(32))) }],
      'tampered ciphertext at the head': [e1, { ...e2, ciphertext: flip(e2.ciphertext, 3) }],
      'tampered ciphertext inside the run': [{ ...e1, ciphertext: flip(e1.ciphertext, 3) }, e2],
      'tampered nonce': [e1, { ...e2, nonce: flip(e2.nonce) }],
      'relabelled group': [e1, e2].map((e) => ({ ...e, group: club })),
      'relabelled bucket': [e1, e2].map((e) => ({ ...e, bucket: bucket - 1 })),
      'shifted seq': [e1, e2].map((e) => ({ ...e, seq: e.seq + 1 })),
      'head without its predecessor': [e2],
      'relabelled epoch': [e1, e2].map((e) => ({ ...e, epoch: oldEpoch })),
      'relabelled author': [e1, e2].map((e) => ({ ...e, author: c.mia.id })),
      'relabelled kind (claims to be packed)': [{ ...e2, kind: 'packed' as const }],
    };
    const targets = { relay: relay.replica, teacher: c.teacher.engine.replica };
    for (const [name, run] of Object.entries(variants)) {
      for (const [who, replica] of Object.entries(targets)) {
        const result = await replica.applyEntries(run.map(cloneEntry));
        expect({ variant: name, at: who, accepted: result.accepted.length, rejected: result.rejected > 0 }).toEqual({ variant: name, at: who, accepted: 0, rejected: true });
      }
    }
    for (const replica of Object.values(targets)) {
      for (const [g, b, a] of [[c.group, bucket, c.ben.id], [club, bucket, c.ben.id], [c.group, bucket - 1, c.ben.id], [c.group, bucket, c.mia.id]] as const)
        expect(replica.chain(g, b, a)).toBeUndefined();
    }
    // Control: the untouched run is accepted by both, and the teacher reads it.
    for (const replica of Object.values(targets)) expect((await replica.applyEntries(genuine.map(cloneEntry))).accepted).toHaveLength(2);
    await eventually(async () => (await texts(c.teacher.engine, c.group)).includes('Seite 42 war schwer'));
  });
});

// ================================================================================================ certificates

describe('revoked, expired and foreign certificates', () => {
  it('an entry from a device whose certificate was revoked (revocation list applied to the TrustStore) is rejected by a relay and by a device', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const relay = await openRelay(s);
    await syncWithRelay(s, relay, c.teacher);
    const list = await issueRevocationList(s.school.authority, s.school.authorityCert, { sequence: 1, issuedAt: s.clock.now(), revokedDevices: [c.ben.id] });
    for (const trust of [relay.trust, c.teacher.trust]) await trust.applyRevocationList(list);
    // Ben's own device has not applied the list and writes on.
    await c.ben.engine.post(c.group, { text: 'nach dem Widerruf' });
    const run = await entriesOf(c.ben, c.group, bucketOf(s.clock.now()));
    for (const replica of [relay.replica, c.teacher.engine.replica]) {
      const result = await replica.applyEntries(run);
      expect(result.accepted).toHaveLength(0);
      expect(result.reason).toMatch(/revoked/);
    }
  });

  it('a device whose certificate was revoked cannot complete the sync handshake with a device or a relay (unauthenticated error)', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const relay = await openRelay(s);
    await syncWithRelay(s, relay, c.teacher);
    const list = await issueRevocationList(s.school.authority, s.school.authorityCert, { sequence: 1, issuedAt: s.clock.now(), revokedDevices: [c.ben.id] });
    for (const trust of [relay.trust, c.teacher.trust]) await trust.applyRevocationList(list);

    const h = await refusedHandshake(c.ben.engine, c.teacher.engine);
    expect(h.server.closeReason).toMatch(/credential refused: .*revoked/);
    expect(h.client.closeReason).toMatch(new RegExp(`revoked|peer error ${ErrorCode.Unauthenticated}`));
    expect(h.opened).toEqual([]);
    expectUnauthenticatedError(h.toClient);

    const r = relaySession(s, relay, c.ben);
    const results = await r.results;
    expect(results.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    expect(r.relay.closeReason).toMatch(/credential refused: .*revoked/);
    expectUnauthenticatedError(r.toDevice.received.map(decodeMessage));
  });

  it('an entry from a device whose certificate has expired is rejected by a relay and by a device', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const lena = await openDevice(s, 'lena', 'pupil', { validDays: 2 });
    await c.teacher.engine.addMember(c.group, lena.ref);
    const link = pair(c.teacher.engine, lena.engine);
    await untilReady(c.teacher, lena, c.group);
    link.close();
    const relay = await openRelay(s);
    await syncWithRelay(s, relay, c.teacher);
    expect(relay.replica.state(c.group)!.devices.has(lena.id)).toBe(true);
    // Three days later her certificate (valid two days) has expired; her device still writes.
    s.clock.advance(3 * DAY);
    await expect(c.teacher.trust.verifyDevice(lena.identity.certificate)).rejects.toMatchObject({ code: 'expired' });
    // Sealed by hand with her real device key and the group's real key (an engine may refuse to write by itself).
    const bucket = bucketOf(s.clock.now());
    const epoch = currentEpochId(c.teacher, c.group);
    const key = (await lena.engine.keys.aead(c.group, epoch))!;
    const plaintext = utf8.encode('mit abgelaufenem Zertifikat');
    const { entry } = await sealEntry(lena.identity, key, { kind: 'single', group: c.group, bucket, seq: 1, epoch, plaintext, prev: chainSeed(c.group, bucket, lena.id) });
    const run = [entry];
    for (const [who, replica] of [['relay', relay.replica], ['teacher', c.teacher.engine.replica]] as const) {
      const result = await replica.applyEntries(run);
      expect({ at: who, accepted: result.accepted.length }).toEqual({ at: who, accepted: 0 });
    }
  });

  it('a device whose certificate has expired cannot complete the sync handshake with a device or a relay (unauthenticated error)', async () => {
    const s = await testSchool();
    const teacher = await openDevice(s, 'schmidt', 'teacher');
    const lena = await openDevice(s, 'lena', 'pupil', { validDays: 2 });
    const relay = await openRelay(s);
    s.clock.advance(3 * DAY);
    const h = await refusedHandshake(lena.engine, teacher.engine);
    expect(h.server.closeReason).toMatch(/credential refused: .*expired/);
    expect(h.opened).toEqual([]);
    expectUnauthenticatedError(h.toClient);
    const r = relaySession(s, relay, lena);
    expect((await r.results).map((x) => x.status)).toEqual(['rejected', 'rejected']);
    expect(r.relay.closeReason).toMatch(/credential refused: .*expired/);
    expectUnauthenticatedError(r.toDevice.received.map(decodeMessage));
  });

  it('a device of a school that is not trusted cannot connect to a device or a relay (unauthenticated error)', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const relay = await openRelay(s);
    await syncWithRelay(s, relay, c.teacher);
    const other = await testSchool('Gymnasium Süd', s.clock);
    // The foreign device trusts both schools, so the refusal under test is ours.
    const max = await openDevice(other, 'max', 'pupil', { trust: other.trust([s.school]) });
    const h = await refusedHandshake(max.engine, c.teacher.engine);
    expect(h.server.closeReason).toMatch(/credential refused: .*not trusted/);
    expect(h.opened).toEqual([]);
    expectUnauthenticatedError(h.toClient);
    const r = relaySession(s, relay, max);
    expect((await r.results).map((x) => x.status)).toEqual(['rejected', 'rejected']);
    expect(r.relay.closeReason).toMatch(/credential refused: .*not trusted/);
    expectUnauthenticatedError(r.toDevice.received.map(decodeMessage));
    expect(max.engine.replica.knowsGroup(c.group)).toBe(false);
  });
});

// ================================================================================================ the handshake

describe('sync handshake', () => {
  /** Runs one real session between ben and the teacher and returns ben's HELLO and AUTH frames as sent. */
  async function recordedSession(c: Awaited<ReturnType<typeof classroom>>) {
    const [a, b] = memoryChannelPair();
    const ra = recording(a);
    const sb = c.ben.engine.connect(ra);
    const st = c.teacher.engine.connect(b);
    await eventually(() => types(ra.sent).includes('auth') && types(ra.received).includes('groups'));
    sb.close();
    st.close();
    await settle();
    const hello = ra.sent.find((f) => decodeMessage(f).type === 'hello')!;
    const auth = ra.sent.find((f) => decodeMessage(f).type === 'auth')!;
    return { hello, auth };
  }

  function watchOpened(engine: Engine): PeerInfo[] {
    const opened: PeerInfo[] = [];
    engine.on((e) => {
      if (e.type === 'connection' && e.open) opened.push(e.peer);
    });
    return opened;
  }

  it('the AUTH signature of one session does not authenticate another (replayed HELLO and AUTH are refused)', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const recorded = await recordedSession(c);
    const opened = watchOpened(c.teacher.engine);
    const [m, t] = memoryChannelPair();
    const mallory = attackerEnd(m);
    const session = c.teacher.engine.connect(t);
    mallory.send(recorded.hello);
    await eventually(() => types(mallory.got).includes('auth'));
    mallory.send(recorded.auth);
    await eventually(() => session.isClosed);
    expect(session.closeReason).toMatch(/handshake signature does not verify/);
    expect(types(mallory.got)).toEqual(['hello', 'auth', 'error']);
    expectUnauthenticatedError(mallory.got);
    expect(opened).toEqual([]);
  });

  it('a peer that replays a member device\'s HELLO but cannot sign AUTH receives nothing of the group (no live entries before authentication)', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const recorded = await recordedSession(c);
    const opened = watchOpened(c.teacher.engine);
    const [m, t] = memoryChannelPair();
    const mallory = attackerEnd(m);
    c.teacher.engine.connect(t);
    mallory.send(recorded.hello);
    await eventually(() => types(mallory.got).includes('auth'));
    // The teacher writes while the impostor's session waits for an AUTH that never comes.
    await c.teacher.engine.post(c.group, { text: 'nur für die 7a' });
    await c.teacher.engine.addMember(c.group, s.ref('lena'));
    await c.teacher.engine.idle();
    await settle(100);
    expect(types(mallory.got).filter((x) => CONTENT_TYPES.includes(x))).toEqual([]);
    expect(opened).toEqual([]);
  });

  it('a reflected handshake (a device\'s own HELLO and AUTH sent back to it) does not authenticate', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    await c.teacher.engine.post(c.group, { text: 'nur für die 7a' });
    const opened = watchOpened(c.teacher.engine);
    const [m, t] = memoryChannelPair();
    const mallory = attackerEnd(m);
    c.teacher.engine.connect(t);
    await eventually(() => mallory.raw.length >= 1);
    mallory.send(mallory.raw[0]!); // the teacher's own HELLO, back to it
    await eventually(() => types(mallory.got).includes('auth') || mallory.closed());
    const auth = mallory.raw.find((f) => decodeMessage(f).type === 'auth');
    if (auth) mallory.send(auth); // the teacher's own AUTH, back to it
    await settle(50);
    // Having "authenticated", the impostor would now ask for the group's entries.
    mallory.send(encodeMessage({ type: 'vector', group: c.group, bucket: bucketOf(s.clock.now()), vector: [] }));
    await settle(100);
    expect(opened).toEqual([]);
    expect(types(mallory.got).filter((x) => CONTENT_TYPES.includes(x))).toEqual([]);
  });
});

// ================================================================================================ membership operations

describe('membership operations need an entitled signer', () => {
  it('a membership op signed by an unentitled account has no effect: a pupil adding a member to a class, a member changing the policy, promoting itself or removing the owner', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const relay = await openRelay(s);
    await syncWithRelay(s, relay, c.teacher);
    const eve = await openDevice(s, 'eve', 'pupil');
    const before = c.teacher.engine.state(c.group)!;
    const policyBefore = { ...before.policy };
    const heads = c.ben.engine.replica.log(c.group)!.heads();
    const now = s.clock.now();
    const ops = [
      await createOp(c.ben.identity, c.group, heads, { type: 'add', account: eve.ref, role: 'member' }, now),
      await createOp(c.ben.identity, c.group, heads, { type: 'set-policy', policy: { ...policyBefore, retentionDays: 3650, historyForNewMembers: 'retained' } }, now),
      await createOp(c.ben.identity, c.group, heads, { type: 'set-role', account: c.ben.ref, role: 'owner' }, now),
      await createOp(c.ben.identity, c.group, heads, { type: 'remove', account: c.teacher.ref }, now),
      await createOp(c.ben.identity, c.group, heads, { type: 'rename', name: 'Klasse 7a (gehackt)' }, now),
    ];
    // Ben's own engine refuses to sign such an op in the first place.
    await expect(c.ben.engine.setPolicy(c.group, { ...policyBefore, retentionDays: 3650 })).rejects.toMatchObject({ code: 'forbidden' });
    for (const [who, replica] of [['relay', relay.replica], ['teacher', c.teacher.engine.replica], ['mia', c.mia.engine.replica]] as const) {
      await replica.addOps(c.group, ops.map((o) => o.bytes));
      const state = replica.state(c.group)!;
      expect({ who, eve: state.members.has(eve.ref) }).toEqual({ who, eve: false });
      expect(state.policy).toEqual(policyBefore);
      expect(state.members.get(c.ben.ref)).toBe('member');
      expect(state.members.get(c.teacher.ref)).toBe('owner');
      expect(state.name).toBe('Klasse 7a');
      const ignored = new Set(state.ignored.map((i) => i.op));
      for (const op of ops) expect(ignored.has(op.id)).toBe(true);
    }
    // Eve, not a member, connects to the teacher's device and is given nothing of the group.
    const p = pair(eve.engine, c.teacher.engine);
    await Promise.all([p.sa.caughtUp(), p.sb.caughtUp()]);
    await settle();
    expect(eve.engine.replica.knowsGroup(c.group)).toBe(false);
    expect(eve.engine.canRead(c.group)).toBe(false);
    p.close();
  });

  it('a relay-minted certificate for an account that already has a device in the group can neither join it, post, nor get keys or entries', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const relay = await openRelay(s);
    await c.teacher.engine.post(c.group, { text: 'nur für die 7a' });
    await syncWithRelay(s, relay, c.teacher);
    const now = s.clock.now();
    // The relay holds the authority key and certifies a device of its own for ben.
    const signing = await generateSigningKeyPair();
    const agreement = await generateAgreementKeyPair();
    const cert = await issueDeviceCertificate(s.school.authority, s.school.authorityCert, {
      account: 'ben',
      displayName: 'ben',
      role: 'pupil',
      deviceKey: signing.publicKey,
      agreementKey: agreement.publicKey,
      notBefore: now - DAY,
      notAfter: now + 30 * DAY,
    });
    const mintedIdentity = deviceIdentity(signing, agreement, cert);
    await expect(c.teacher.trust.verifyDevice(cert)).resolves.toMatchObject({ accountRef: c.ben.ref });
    const minted = await openDevice(s, 'ben', 'pupil', { identity: mintedIdentity });

    // It adds itself to the group: refused (ben's account has a device; only that device or a moderator may add one).
    const join = await createOp(mintedIdentity, c.group, c.teacher.engine.replica.log(c.group)!.heads(), { type: 'add-device', certificate: cert }, now);
    for (const replica of [relay.replica, c.teacher.engine.replica, c.mia.engine.replica]) {
      await replica.addOps(c.group, [join.bytes]);
      expect(replica.state(c.group)!.devices.has(minted.id)).toBe(false);
    }

    // It connects to the teacher's device and to the relay: it may see the membership log (its account is a
    // member), but receives no key and no entry.
    const p = pair(minted.engine, c.teacher.engine);
    await Promise.all([p.sa.caughtUp(), p.sb.caughtUp()]);
    await minted.engine.idle();
    await c.teacher.engine.idle();
    await settle(50);
    p.close();
    await syncWithRelay(s, relay, minted);
    const state = minted.engine.state(c.group)!;
    expect(state.devices.has(minted.id)).toBe(false);
    expect(c.teacher.engine.state(c.group)!.devices.has(minted.id)).toBe(false);
    expect(minted.engine.canRead(c.group)).toBe(false);
    expect(minted.engine.keys.epochs(c.group)).toEqual([]);
    for (const epoch of state.epochs) {
      expect(state.sealedKeys.get(epoch)!.has(minted.id)).toBe(false);
      await expect(openEpochKey(state, epoch, mintedIdentity)).rejects.toThrow();
    }
    expect(minted.engine.replica.liveBuckets(c.group)).toEqual([]);

    // It cannot post.
    await expect(minted.engine.post(c.group, { text: 'Ich bin Ben' })).rejects.toMatchObject({ code: 'forbidden' });
    const entry = await forgedEntry(mintedIdentity, c.group, currentEpochId(c.teacher, c.group), bucketOf(now));
    for (const replica of [relay.replica, c.teacher.engine.replica]) {
      const result = await replica.applyEntries([entry]);
      expect(result.accepted).toHaveLength(0);
      expect(result.reason).toMatch(/not a device of the group/);
    }
  });
});

// ================================================================================================ keys

describe('keys follow membership and retention', () => {
  it('a removed member cannot decrypt entries written after the removal (the key was rotated), even when given all ciphertext', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const relay = await openRelay(s);
    await c.teacher.engine.post(c.group, { text: 'vorher' });
    await syncWithRelay(s, relay, c.teacher);
    await syncWithRelay(s, relay, c.ben);
    await eventually(async () => (await texts(c.ben.engine, c.group)).includes('vorher'));
    const epochBefore = currentEpochId(c.teacher, c.group);

    await c.teacher.engine.removeMember(c.group, c.ben.ref);
    const newEpoch = currentEpochId(c.teacher, c.group);
    expect(newEpoch).not.toBe(epochBefore);
    const after = await c.teacher.engine.post(c.group, { text: 'nachher: Klassenfahrt nach Zürich' });
    await syncWithRelay(s, relay, c.teacher);
    const seqBefore = c.ben.engine.replica.chain(c.group, after.bucket, c.teacher.id)!.seq;

    // The relay serves the group to ben no more.
    await syncWithRelay(s, relay, c.ben);
    expect(c.ben.engine.replica.chain(c.group, after.bucket, c.teacher.id)!.seq).toBe(seqBefore);

    // A curious relay hands ben every membership op and every entry it stores.
    await c.ben.engine.replica.addOps(c.group, relay.replica.membershipFor(c.group, []));
    for (const bucket of relay.replica.liveBuckets(c.group)) await c.ben.engine.replica.applyEntries(await relay.replica.bucketEntries(c.group, bucket));
    await c.ben.engine.idle();
    await settle();
    const state = c.ben.engine.state(c.group)!;
    expect(state.members.has(c.ben.ref)).toBe(false);
    expect(c.ben.engine.canRead(c.group)).toBe(false);
    expect(c.ben.engine.holdsKey(c.group, newEpoch)).toBe(false);
    await expect(openEpochKey(state, state.currentEpoch!, c.ben.identity)).rejects.toThrow();
    const written = (await relay.replica.bucketEntries(c.group, after.bucket)).filter((e) => e.epoch === newEpoch);
    expect(written.length).toBeGreaterThan(0);
    for (const entry of written)
      for (const epoch of c.ben.engine.keys.epochs(c.group)) await expect(openEntry(entry, (await c.ben.engine.keys.aead(c.group, epoch))!)).rejects.toThrow();
    const read = await texts(c.ben.engine, c.group);
    expect(read).toContain('vorher');
    expect(read).not.toContain('nachher: Klassenfahrt nach Zürich');
  });

  it("a removed member's device can no longer post after the day of the rotation: its entry, sealed with the old epoch key it still holds, is rejected by a relay and by a device", async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const relay = await openRelay(s);
    const oldEpoch = currentEpochId(c.teacher, c.group);
    await c.teacher.engine.removeMember(c.group, c.ben.ref);
    await syncWithRelay(s, relay, c.teacher);
    expect(c.ben.engine.holdsKey(c.group, oldEpoch)).toBe(true);
    const key = (await c.ben.engine.keys.aead(c.group, oldEpoch))!;
    const seal = async (bucket: number) =>
      (await sealEntry(c.ben.identity, key, { kind: 'single', group: c.group, bucket, seq: 1, epoch: oldEpoch, plaintext: utf8.encode('Ich bin noch da'), prev: chainSeed(c.group, bucket, c.ben.id) }))
        .entry;
    // Documented limit (docs/threat-model.md): entries are dated by day, so on the day of the rotation an entry
    // under the old key cannot be told from one written before the removal, and is accepted everywhere alike.
    const sameDay = await seal(bucketOf(s.clock.now()));
    s.clock.advance(DAY);
    const nextDay = await seal(bucketOf(s.clock.now()));
    for (const replica of [relay.replica, c.teacher.engine.replica, c.mia.engine.replica]) {
      if (replica !== relay.replica) await replica.addOps(c.group, c.teacher.engine.replica.membershipFor(c.group, []));
      const result = await replica.applyEntries([cloneEntry(nextDay)]);
      expect(result.accepted).toHaveLength(0);
      expect(result.reason).toMatch(/outside epoch/);
    }
    expect((await c.teacher.engine.replica.applyEntries([cloneEntry(sameDay)])).accepted).toHaveLength(1);
  });

  it('retention: after a bucket expired and expire() ran, a saved copy of its ciphertext can no longer be decrypted, by the device nor by a fresh engine on the same storage; current messages still can', async () => {
    const s = await testSchool();
    const teacher = await openDevice(s, 'schmidt', 'teacher');
    const group = await teacher.engine.createGroup({ kind: 'class', name: 'Klasse 7a' }); // 14 days retention, weekly rotation
    const old = await teacher.engine.post(group, { text: 'alt: Elternabend am Dienstag' });
    const saved = (await teacher.engine.replica.bucketEntries(group, old.bucket)).map(cloneEntry);
    const oldEpoch = saved[0]!.epoch;
    const oldKey = teacher.engine.keys.raw(group, oldEpoch)!.slice();
    expect(containsBytes(await storedBytes(teacher.backing), oldKey)).toBe(true);

    // A week later the device restarts; the epoch is older than keyRotationDays and is rotated at open.
    s.clock.advance(8 * DAY);
    await teacher.engine.close();
    let engine = await openEngine(s, teacher.identity, teacher.trust, teacher.storage, teacher.logs);
    expect(engine.state(group)!.epochs).toHaveLength(2);
    s.clock.advance(12 * DAY);
    await engine.post(group, { text: 'neu: Wandertag' });
    const result = await engine.expire();
    expect(result.buckets).toBeGreaterThanOrEqual(1);
    expect(result.erasedKeys).toBeGreaterThanOrEqual(1);

    const unreadable = async (e: Engine) => {
      expect(e.holdsKey(group, oldEpoch)).toBe(false);
      expect(e.keys.epochs(group)).not.toContain(oldEpoch);
      for (const entry of saved) for (const epoch of e.keys.epochs(group)) await expect(openEntry(entry, (await e.keys.aead(group, epoch))!)).rejects.toThrow();
      expect(await texts(e, group, old.bucket)).toEqual([]);
      expect(await texts(e, group)).toEqual(['neu: Wandertag']);
    };
    await unreadable(engine);
    expect(containsBytes(await storedBytes(teacher.backing), oldKey)).toBe(false);
    // Handing the saved copy back is refused: the bucket has expired.
    const replay = await engine.replica.applyEntries(saved.map(cloneEntry));
    expect(replay.accepted).toHaveLength(0);
    expect(replay.reason).toMatch(/expired/);

    await engine.close();
    engine = await openEngine(s, teacher.identity, teacher.trust, teacher.storage, teacher.logs);
    await unreadable(engine);
  });

  it('retention: a device that keeps running and posting every day still rotates the key every keyRotationDays, so the key of an expired bucket is erased at most keyRotationDays after the bucket expired', async () => {
    const s = await testSchool();
    const teacher = await openDevice(s, 'schmidt', 'teacher');
    const group = await teacher.engine.createGroup({ kind: 'class', name: 'Klasse 7a' }); // 14 days retention, weekly rotation
    const { retentionDays, keyRotationDays } = teacher.engine.state(group)!.policy;
    const old = await teacher.engine.post(group, { text: 'alt: Elternabend am Dienstag' });
    const saved = (await teacher.engine.replica.bucketEntries(group, old.bucket)).map(cloneEntry);
    const oldEpoch = saved[0]!.epoch;
    // No restart and no membership change: only the policy's rotation period can retire the first epoch.
    for (let day = 1; day <= keyRotationDays + retentionDays + 1; day++) {
      s.clock.advance(DAY);
      await teacher.engine.post(group, { text: `Tag ${day}` });
      await teacher.engine.idle();
    }
    await teacher.engine.expire();
    expect(teacher.engine.liveBuckets(group)).not.toContain(old.bucket);
    expect(teacher.engine.state(group)!.epochs.length).toBeGreaterThan(1);
    expect(teacher.engine.holdsKey(group, oldEpoch)).toBe(false);
    for (const entry of saved)
      for (const epoch of teacher.engine.keys.epochs(group)) await expect(openEntry(entry, (await teacher.engine.keys.aead(group, epoch))!)).rejects.toThrow();
  });
});

// ================================================================================================ relays and content

describe("the school's manager account (the directory sync) reads nothing", () => {
  it('a manager that creates and runs a class is sealed no key: given every op and every entry the relay stores, it decrypts nothing, and the relay does not count it as a reader', async () => {
    const s = await testSchool();
    const manager = await openDevice(s, 'verwaltung', 'admin');
    const teacher = await openDevice(s, 'schmidt', 'teacher');
    const ben = await openDevice(s, 'ben', 'pupil');
    const relay = await openRelay(s);
    const group = await manager.engine.createGroup({
      kind: 'class',
      name: 'Klasse 7a',
      members: [{ account: teacher.ref, role: 'moderator' }, { account: ben.ref, role: 'member' }],
      creatorRole: 'manager',
    });
    const round = async () => {
      for (const d of [manager, teacher, ben]) await syncWithRelay(s, relay, d);
    };
    const ready = (d: typeof teacher) => {
      const epoch = d.engine.state(group)?.currentEpoch;
      return !!epoch && epoch === teacher.engine.state(group)?.currentEpoch && d.engine.canRead(group) && d.engine.holdsKey(group, currentEpochId(d, group));
    };
    for (let i = 0; i < 20 && !(ready(teacher) && ready(ben)); i++) await round();
    expect(ready(teacher) && ready(ben)).toBe(true);
    await teacher.engine.post(group, { text: 'Elternabend am Dienstag' });
    await ben.engine.post(group, { text: 'Danke!' });
    await round();
    await round();

    // The relay holds the entries, and does not treat the manager's device as a reader of the group.
    const bucket = bucketOf(s.clock.now());
    const stored = await relay.replica.bucketEntries(group, bucket);
    expect(new Set(stored.map((e) => e.author))).toEqual(new Set([teacher.id, ben.id]));
    expect(relay.replica.mayRead({ kind: 'device', id: manager.id, school: s.school.id, account: manager.ref }, group)).toBe(false);
    expect(relay.replica.mayRead({ kind: 'device', id: ben.id, school: s.school.id, account: ben.ref }, group)).toBe(true);

    // A curious operator of the manager's device hands it everything the relay has: it opens nothing.
    await manager.engine.replica.addOps(group, relay.replica.membershipFor(group, []));
    await manager.engine.replica.applyEntries(stored);
    await manager.engine.idle();
    const state = manager.engine.state(group)!;
    expect(state.members.get(manager.ref)).toBe('manager');
    expect(state.epochs.length).toBeGreaterThan(0);
    for (const epoch of state.epochs) await expect(openEpochKey(state, epoch, manager.identity)).rejects.toMatchObject({ code: 'not-sealed-to-device' });
    expect(manager.engine.keys.epochs(group)).toEqual([]);
    expect(manager.engine.canRead(group)).toBe(false);
    expect((await manager.engine.messages(group)).map((m) => m.text)).toEqual([]);
    const relayBytes = await storedBytes(manager.backing);
    for (const text of ['Elternabend am Dienstag', 'Danke!']) expect(containsBytes(relayBytes, utf8.encode(text))).toBe(false);
  });

  it('a manager cannot give itself a key: its own rotation and a share to it are refused by a relay, and it cannot make itself a reader', async () => {
    const s = await testSchool();
    const manager = await openDevice(s, 'verwaltung', 'admin');
    const ben = await openDevice(s, 'ben', 'pupil');
    const relay = await openRelay(s);
    const group = await manager.engine.createGroup({ kind: 'class', name: 'Klasse 7b', members: [{ account: ben.ref, role: 'member' }], creatorRole: 'manager' });
    for (let i = 0; i < 6 && !ben.engine.state(group)?.currentEpoch; i++) for (const d of [manager, ben]) await syncWithRelay(s, relay, d);
    await syncWithRelay(s, relay, ben);
    const epoch = ben.engine.state(group)!.currentEpoch!;
    expect(relay.replica.state(group)!.epochs).toEqual([epoch]);
    const heads = relay.replica.log(group)!.heads();
    const box = { box: randomBytes(80) };
    const ownRotation = await createOp(manager.identity, group, heads, { type: 'rotate-key', sealed: [{ device: manager.id, ...box }, { device: ben.id, ...box }] }, s.clock.now());
    const shareToManager = await createOp(ben.identity, group, heads, { type: 'share-key', epoch, sealed: [{ device: manager.id, ...box }] }, s.clock.now());
    const result = await relay.replica.addOps(group, [ownRotation.bytes, shareToManager.bytes]);
    expect(result.rejected).toBe(2);
    expect(relay.replica.state(group)!.epochs).toEqual([epoch]);
    // Its own role: every change refused, so it never becomes a reader.
    await expect(manager.engine.setRole(group, manager.ref, 'member')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(manager.engine.post(group, { text: 'hallo' })).rejects.toMatchObject({ code: 'forbidden' });
    expect(manager.engine.state(group)!.members.get(manager.ref)).toBe('manager');
  });

  it('a device revoked by its school gets no key from the next writer, though nobody removed it from the group', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const before = currentEpochId(c.teacher, c.group);
    expect(c.ben.engine.holdsKey(c.group, before)).toBe(true);
    const list = await issueRevocationList(s.school.authority, s.school.authorityCert, { sequence: 1, issuedAt: s.clock.now(), revokedDevices: [c.ben.id] });
    await c.teacher.trust.applyRevocationList(list);
    expect(c.teacher.engine.state(c.group)!.devices.has(c.ben.id)).toBe(true);
    const posted = await c.teacher.engine.post(c.group, { text: 'nach dem Widerruf' });
    const entry = (await c.teacher.engine.replica.bucketEntries(c.group, posted.bucket)).filter((e) => e.author === c.teacher.id).at(-1)!;
    expect(entry.epoch).not.toBe(before);
    for (const epoch of c.ben.engine.keys.epochs(c.group)) await expect(openEntry(entry, (await c.ben.engine.keys.aead(c.group, epoch))!)).rejects.toThrow();
    await c.ben.engine.replica.addOps(c.group, c.teacher.engine.replica.membershipFor(c.group, []));
    await c.ben.engine.idle();
    expect(c.ben.engine.holdsKey(c.group, entry.epoch)).toBe(false);
  });
});

describe('relays and content', () => {
  it('relays see no plaintext: the stored bytes of a relay replica never contain a posted message (UTF-8)', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const relay = await openRelay(s);
    const secrets = ['Treffpunkt für die Klassenfahrt: Gleis 7, 7:45 Uhr', 'Meine Mutter ist krank, ich komme später', 'Notenspiegel der Mathearbeit: 2,4'];
    await c.teacher.engine.post(c.group, { text: secrets[0]! });
    await c.ben.engine.post(c.group, { text: secrets[1]! });
    const draft = await c.mia.engine.post(c.group, { text: 'Entwurf: Notenspiegel' });
    await c.mia.engine.edit(c.group, draft.bucket, draft.key, secrets[2]!);
    for (const d of [c.teacher, c.ben, c.mia]) await syncWithRelay(s, relay, d);
    const bucket = bucketOf(s.clock.now());
    expect((await relay.replica.vector(c.group, bucket)).size).toBe(3);

    // Positive control: the plaintext Yjs update does contain the message's UTF-8 bytes, so the search can find them.
    const own = await entriesOf(c.teacher, c.group, bucket);
    const key = (await c.teacher.engine.keys.aead(c.group, own[0]!.epoch))!;
    expect(containsBytes(await openEntry(own[0]!, key), utf8.encode(secrets[0]!))).toBe(true);

    const stored = await storedBytes(relay.backing);
    for (const text of [...secrets, 'Entwurf: Notenspiegel', 'Klassenfahrt', 'Mutter ist krank']) expect({ text, found: containsBytes(stored, utf8.encode(text)) }).toEqual({ text, found: false });

    // The relay carried the real thing: a member's fresh device catching up from the relay alone reads it all.
    const tablet = await openDevice(s, 'mia', 'pupil');
    await syncWithRelay(s, relay, tablet);
    expect(tablet.engine.replica.knowsGroup(c.group)).toBe(true);
  });

  it("content authorship: a member device cannot overwrite or delete another member's message; its crafted Yjs update, sealed and signed as its own entry, is refused by receiving devices", async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const bucket = bucketOf(s.clock.now());
    const original = 'Hausaufgabe: Seite 42, Nummer 3';
    const victim = await c.teacher.engine.post(c.group, { text: original });
    await c.ben.engine.post(c.group, { text: 'ok' });
    const l1 = pair(c.teacher.engine, c.ben.engine);
    const l2 = pair(c.teacher.engine, c.mia.engine);
    await eventually(async () => (await texts(c.ben.engine, c.group)).includes(original) && (await texts(c.teacher.engine, c.group)).includes('ok'));
    await eventually(async () => (await texts(c.mia.engine, c.group)).includes(original) && (await texts(c.mia.engine, c.group)).includes('ok'));
    l1.close();
    l2.close();
    await settle();

    const docName = docNameFor(c.group, bucket);
    const benDoc = await c.ben.engine.openBucket(c.group, bucket);
    /** A Yjs update made by ben's own client id on top of what ben's device holds. */
    const craft = (change: (m: Y.Map<unknown>) => void): Uint8Array => {
      const doc = new Y.Doc();
      Y.applyUpdate(doc, Y.encodeStateAsUpdate(benDoc.doc));
      doc.clientID = clientIdFor(c.ben.id, docName);
      let update: Uint8Array | undefined;
      doc.on('update', (u: Uint8Array, _origin: unknown, _doc: Y.Doc, tr: Y.Transaction) => {
        if (tr.local) update = u;
      });
      doc.transact(() => change(doc.getMap('m')));
      if (!update) throw new Error('no update');
      return update;
    };
    const now = s.clock.now();
    const teacherPrefix = authorPrefix(clientIdFor(c.teacher.id, docName));
    const updates = [
      craft((m) => m.set(victim.key, { t: 'Keine Hausaufgabe heute!', ts: now })),
      craft((m) => m.delete(victim.key)),
      craft((m) => m.set(`${teacherPrefix}/m/zz`, { t: 'Die Arbeit fällt aus', ts: now })),
    ];
    // Sealed with the group's real key, chained and signed by ben's real device: valid at the ciphertext level.
    const epoch = currentEpochId(c.teacher, c.group);
    const key = (await c.ben.engine.keys.aead(c.group, epoch))!;
    const chain = c.ben.engine.replica.chain(c.group, bucket, c.ben.id)!;
    let seq = chain.seq;
    let prev = chain.head;
    const entries: Entry[] = [];
    for (const plaintext of updates) {
      seq++;
      const sealed = await sealEntry(c.ben.identity, key, { kind: 'single', group: c.group, bucket, seq, epoch, plaintext, prev });
      prev = sealed.head;
      entries.push(sealed.entry);
    }
    for (const target of [c.teacher, c.mia]) {
      const result = await target.engine.replica.applyEntries(entries.map(cloneEntry));
      expect(result.accepted).toHaveLength(3); // a relay cannot judge content; every device does
    }
    for (const target of [c.teacher, c.mia]) {
      await eventually(async () => {
        await target.engine.messages(c.group);
        return target.logs.filter((l) => l.level === 'warn' && /refused/.test(l.message)).length >= 3;
      });
      const messages = await target.engine.messages(c.group);
      const msg = messages.find((x) => x.key === victim.key);
      expect(msg).toMatchObject({ text: original, deleted: false, author: c.teacher.id });
      expect(msg!.editedAt).toBeUndefined();
      expect(messages.map((x) => x.text)).not.toContain('Keine Hausaufgabe heute!');
      expect(messages.map((x) => x.text)).not.toContain('Die Arbeit fällt aus');
    }
  });
});

// ================================================================================================ manifests

/**
 * Ben writes three messages on one day and one on the next while offline, packs the finished days and signs his
 * manifest; the relay takes his chains over a real session. What the relay would then serve a fresh device, and a
 * fresh receiver (the membership of the class, no entries) to feed honest and tampered versions to.
 */
async function manifestScene() {
  const s = await testSchool();
  const c = await classroom(s);
  const relay = await openRelay(s);
  await syncWithRelay(s, relay, c.teacher);
  const b0 = bucketOf(s.clock.now());
  for (let i = 0; i < 3; i++) await c.ben.engine.post(c.group, { text: `Tag 1, Nachricht ${i}` });
  s.clock.advance(DAY);
  const b1 = b0 + 1;
  await c.ben.engine.post(c.group, { text: 'Tag 2, die einzige' });
  s.clock.advance(2 * DAY);
  // The engine packs by itself when the days end (autoPack); the explicit call is then a no-op.
  await c.ben.engine.packFinishedBuckets();
  expect(c.ben.engine.replica.chain(c.group, b0, c.ben.id)?.packed).toBe(true);
  const manifest = c.ben.engine.replica.manifest(c.group, c.ben.id)!;
  expect(manifest.chains.map((x) => [x.bucket, x.seq])).toEqual([[b0, 3], [b1, 1]]);
  await syncWithRelay(s, relay, c.ben);
  expect(relay.replica.manifest(c.group, c.ben.id)?.issued).toBe(manifest.issued);
  const run0 = (await relay.replica.entriesFor(c.group, b0, new Map())).filter((e) => e.author === c.ben.id);
  const run1 = (await relay.replica.entriesFor(c.group, b1, new Map())).filter((e) => e.author === c.ben.id);
  const receiver = async () => {
    const r = await Replica.open({ storage: new MemoryStorage(), trust: s.trust(), clock: () => s.clock.now() });
    await r.addOps(c.group, relay.replica.membershipFor(c.group, []));
    return r;
  };
  return { s, c, relay, b0, b1, manifest, run0, run1, receiver };
}

const flipped = (b: Uint8Array, i = 0) => {
  const out = b.slice();
  out[i]! ^= 1;
  return out;
};
const cloneManifest = (m: Manifest): Manifest => ({ ...m, chains: m.chains.map((x) => ({ ...x, head: x.head.slice() })), signature: m.signature.slice() });

describe('manifests: a relay cannot forge, relabel, reorder or hide what they vouch for', () => {
  it('a relay serves the chains a manifest lists without signatures and sends the manifest ahead; a fresh device accepts them by that one signature and reads them', async () => {
    const { s, c, relay, b0, b1, manifest } = await manifestScene();
    const session = relaySession(s, relay, c.mia);
    await session.results;
    await Promise.all([session.relay.caughtUp(), session.device.caughtUp()]);
    await c.mia.engine.idle();
    session.close();
    const frames = session.toDevice.received.map(decodeMessage);
    const manifestAt = frames.findIndex((m) => m.type === 'manifest' && m.manifest.author === c.ben.id);
    const bensEntries = frames.flatMap((m, i) => (m.type === 'entries' ? m.entries.filter((e) => e.author === c.ben.id).map((e) => ({ e, i })) : []));
    expect(manifestAt).toBeGreaterThanOrEqual(0);
    expect(bensEntries.map(({ e }) => [e.bucket, e.kind, e.seq])).toEqual(expect.arrayContaining([[b0, 'packed', 3], [b1, 'single', 1]]));
    for (const { e, i } of bensEntries) {
      expect(e.signature).toBeUndefined();
      expect(i).toBeGreaterThan(manifestAt);
    }
    expect(c.mia.engine.replica.manifest(c.group, c.ben.id)?.issued).toBe(manifest.issued);
    expect(c.mia.engine.replica.chain(c.group, b0, c.ben.id)).toMatchObject({ seq: 3, packed: true });
    expect(c.mia.engine.replica.chain(c.group, b0, c.ben.id)?.signature).toBeUndefined();
    await eventually(async () => (await texts(c.mia.engine, c.group, b1)).includes('Tag 2, die einzige'));
    expect(await texts(c.mia.engine, c.group, b0)).toEqual(['Tag 1, Nachricht 0', 'Tag 1, Nachricht 1', 'Tag 1, Nachricht 2']);
    // And Mia can serve them on with the same manifest: a second fresh device catches up from her alone.
    expect(c.mia.engine.replica.manifestsFor(await c.mia.engine.replica.entriesFor(c.group, b0, new Map()))).toHaveLength(1);
  });

  it('a run served without its signature is refused when its manifest is withheld, or arrives after the run (reordered); the same run is accepted once the manifest came first', async () => {
    const { c, b0, b1, manifest, run0, run1, receiver } = await manifestScene();
    expect([...run0, ...run1].every((e) => !e.signature)).toBe(true);
    const r = await receiver();
    const before = await r.applyEntries([...run0, ...run1].map(cloneEntry));
    expect(before.accepted).toHaveLength(0);
    expect(before.rejected).toBe(2);
    expect(before.reason).toMatch(/no manifest lists its head/);
    expect(r.chain(c.group, b0, c.ben.id)).toBeUndefined();
    expect(await r.applyManifest(cloneManifest(manifest))).toEqual({ accepted: true, reason: '' });
    expect((await r.applyEntries([...run0, ...run1].map(cloneEntry))).accepted).toHaveLength(2);
    expect(r.chain(c.group, b1, c.ben.id)?.seq).toBe(1);
  });

  it('a relay that drops a run a manifest lists is caught: the receiver lists the chain as withheld', async () => {
    const { c, b0, manifest, run1, receiver } = await manifestScene();
    const r = await receiver();
    await r.applyManifest(cloneManifest(manifest));
    expect((await r.applyEntries(run1.map(cloneEntry))).accepted).toHaveLength(1);
    expect(r.unheldListed(c.group)).toEqual([{ author: c.ben.id, bucket: b0, seq: 3, held: 0 }]);
  });

  it('a forged or relabelled manifest is refused, and the runs it would vouch for with it', async () => {
    const { s, c, relay, b0, manifest, run0, run1, receiver } = await manifestScene();
    // A packed entry the relay made up (ben's header, other bytes): the head a forger would want listed.
    const fake = { ...cloneEntry(run0[0]!), ciphertext: flipped(run0[0]!.ciphertext, 7) };
    const fakeHead = chainHash(chainSeed(c.group, b0, c.ben.id), fake);
    const outsider = await generateSigningKeyPair();
    const outsiderId = Buffer.from(outsider.publicKey).toString('base64url');
    const variants: Record<string, Manifest> = {
      'flipped signature': { ...cloneManifest(manifest), signature: flipped(manifest.signature, 9) },
      'relabelled author (another writer of the group)': { ...cloneManifest(manifest), author: c.mia.id },
      'relabelled bucket of a chain': { ...cloneManifest(manifest), chains: manifest.chains.map((x) => ({ ...x, bucket: x.bucket + 10 })) },
      'changed seq of a chain': { ...cloneManifest(manifest), chains: manifest.chains.map((x) => ({ ...x, seq: x.seq + 1 })) },
      'head of a forged entry': { ...cloneManifest(manifest), chains: [{ bucket: b0, seq: 3, head: fakeHead }, manifest.chains[1]!] },
      'changed time (to pass as newer)': { ...cloneManifest(manifest), issued: manifest.issued + 1 },
      'signed by another member in the author\'s name': { ...(await signManifest(c.mia.identity, { group: c.group, issued: manifest.issued + 5, chains: manifest.chains })), author: c.ben.id },
      'signed by the relay\'s own key': await signManifest({ id: outsiderId, signing: outsider }, { group: c.group, issued: manifest.issued + 5, chains: manifest.chains }),
      "signed by the school authority's key": await signManifest({ id: Buffer.from(s.school.authorityCert.authorityKey).toString('base64url'), signing: s.school.authority }, { group: c.group, issued: 1, chains: manifest.chains }),
    };
    for (const [name, forged] of Object.entries(variants)) {
      for (const target of [await receiver(), relay.replica]) {
        const verdict = await target.applyManifest(forged);
        expect({ variant: name, accepted: verdict.accepted }).toEqual({ variant: name, accepted: false });
      }
      const r = await receiver();
      await r.applyManifest(forged);
      const runs = name === 'head of a forged entry' ? [fake] : [...run0, ...run1];
      expect({ variant: name, accepted: (await r.applyEntries(runs.map(cloneEntry))).accepted.length }).toEqual({ variant: name, accepted: 0 });
      expect(r.chain(c.group, b0, c.ben.id)).toBeUndefined();
    }
    // The relay still holds the genuine manifest only.
    expect(relay.replica.manifest(c.group, c.ben.id)?.signature).toEqual(manifest.signature);
  });

  it('a run relabelled or tampered under a genuine manifest is refused: other bucket, seq, epoch, kind, author, group, ciphertext, nonce', async () => {
    const { c, b0, b1, manifest, run0, run1, receiver } = await manifestScene();
    const club = await c.teacher.engine.createGroup({ kind: 'club', name: 'Schach-AG', members: [{ account: c.ben.ref, role: 'member' }] });
    const p = run0[0]!;
    const variants: Record<string, Entry> = {
      'packed run moved to the next day': { ...cloneEntry(p), bucket: b1 },
      'single run moved to the day before': { ...cloneEntry(run1[0]!), bucket: b0 },
      'other seq': { ...cloneEntry(p), seq: 2 },
      'other epoch': { ...cloneEntry(p), epoch: 'AAAAAAAAAAA' },
      'claims to be single': { ...cloneEntry(p), kind: 'single', seq: 1 },
      'other author (a writer too)': { ...cloneEntry(p), author: c.mia.id },
      'other group': { ...cloneEntry(p), group: club },
      'tampered ciphertext': { ...cloneEntry(p), ciphertext: flipped(p.ciphertext, 11) },
      'tampered nonce': { ...cloneEntry(p), nonce: flipped(p.nonce, 2) },
    };
    for (const [name, entry] of Object.entries(variants)) {
      const r = await receiver();
      await r.addOps(club, c.teacher.engine.replica.membershipFor(club, []));
      await r.applyManifest(cloneManifest(manifest));
      const result = await r.applyEntries([entry]);
      expect({ variant: name, accepted: result.accepted.length, rejected: result.rejected }).toEqual({ variant: name, accepted: 0, rejected: 1 });
    }
  });

  it('an older manifest of the same author (a relay rolling back) does not replace the newest one', async () => {
    const { c, manifest, receiver } = await manifestScene();
    const r = await receiver();
    const older = await signManifest(c.ben.identity, { group: c.group, issued: manifest.issued - 1000, chains: manifest.chains.slice(1) });
    expect((await r.applyManifest(cloneManifest(manifest))).accepted).toBe(true);
    expect((await r.applyManifest(older)).accepted).toBe(true);
    expect(r.manifest(c.group, c.ben.id)?.issued).toBe(manifest.issued);
  });

  it("a manifest over today's still-growing chain vouches only for the prefix it lists: entries past it need their own signature or a newer manifest", async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const today = bucketOf(s.clock.now());
    for (let i = 0; i < 3; i++) await c.ben.engine.post(c.group, { text: `früh ${i}` });
    await c.ben.engine.packFinishedBuckets(); // signs the manifest, today's chain included
    const early = cloneManifest(c.ben.engine.replica.manifest(c.group, c.ben.id)!);
    expect(early.chains.map((x) => [x.bucket, x.seq])).toEqual([[today, 3]]);
    for (let i = 0; i < 2; i++) await c.ben.engine.post(c.group, { text: `später ${i}` });
    const chain = (await c.ben.engine.replica.bucketEntries(c.group, today)).filter((e) => e.author === c.ben.id);
    expect(chain.map((e) => [e.seq, e.signature !== undefined])).toEqual([[1, false], [2, false], [3, false], [4, false], [5, true]]);
    const unsigned = (entries: Entry[]) => entries.map(({ signature: _, ...e }) => e as Entry);
    const receiver = async () => {
      const r = await Replica.open({ storage: new MemoryStorage(), trust: s.trust(), clock: () => s.clock.now() });
      await r.addOps(c.group, c.teacher.engine.replica.membershipFor(c.group, []));
      expect((await r.applyManifest(cloneManifest(early))).accepted).toBe(true);
      return r;
    };
    // The whole chain without its signature: the manifest lists seq 3, not 5.
    const whole = await receiver();
    expect((await whole.applyEntries(unsigned(chain))).rejected).toBe(5);
    // The listed prefix goes unsigned; what follows it does not.
    const r = await receiver();
    expect((await r.applyEntries(unsigned(chain.slice(0, 3)))).accepted).toHaveLength(3);
    expect((await r.applyEntries(unsigned(chain.slice(3)))).rejected).toBe(2);
    expect(r.chain(c.group, today, c.ben.id)?.seq).toBe(3);
    // A replica holding the unsigned prefix serves it only with the manifest, never past it.
    expect((await r.entriesFor(c.group, today, new Map())).map((e) => [e.seq, e.signature])).toEqual([[1, undefined], [2, undefined], [3, undefined]]);
    expect(r.manifestsFor(await r.entriesFor(c.group, today, new Map()))).toHaveLength(1);
    // A newer manifest over the longer chain: this replica keeps the older one while it holds just the prefix it
    // lists, and drops it once it holds the chain beyond (then nothing needs it).
    await c.ben.engine.packFinishedBuckets();
    const later = cloneManifest(c.ben.engine.replica.manifest(c.group, c.ben.id)!);
    expect(later.chains.map((x) => [x.bucket, x.seq])).toEqual([[today, 5]]);
    expect((await r.applyManifest(later)).accepted).toBe(true);
    expect(r.manifestListing(c.group, today, c.ben.id, 3, early.chains[0]!.head)?.issued).toBe(early.issued);
    expect((await r.applyEntries(chain.slice(3))).accepted).toHaveLength(2); // with the signature of seq 5
    const newest = await signManifest(c.ben.identity, { group: c.group, issued: later.issued + 1, chains: later.chains });
    expect((await r.applyManifest(newest)).accepted).toBe(true);
    expect(r.manifestListing(c.group, today, c.ben.id, 3, early.chains[0]!.head)).toBeUndefined();
  });
});
