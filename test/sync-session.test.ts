import { describe, expect, it } from 'vitest';
import { DAY, eventually, testSchool } from './support/school.ts';
import { deviceCredential, trustStoreVerifier } from '@schoolmesh/engine';
import { createOp } from '@schoolmesh/membership';
import { ErrorCode, type FrameChannel, MAX_HEADS, MAX_OPS, PROTOCOL_VERSION, type SyncProgress, SyncError, SyncRefusal, type SyncReplica, SyncSession, decodeMessage, encodeMessage, memoryChannelPair } from '@schoolmesh/sync';

/** Wraps a channel and tracks, on the sending side, how many ENTRIES are out without their ACK. */
function windowWatch(sending: FrameChannel, receiving: FrameChannel) {
  const watch = { inFlight: 0, maxInFlight: 0, batches: [] as number[][] };
  const send = sending.send.bind(sending);
  sending.send = (frame) => {
    const m = decodeMessage(frame);
    if (m.type === 'entries') {
      watch.inFlight++;
      watch.maxInFlight = Math.max(watch.maxInFlight, watch.inFlight);
      watch.batches.push(m.entries.map((e) => e.seq));
    }
    send(frame);
  };
  receiving.onFrame(() => {});
  const sendBack = receiving.send.bind(receiving);
  receiving.send = (frame) => {
    if (decodeMessage(frame).type === 'ack') watch.inFlight--;
    sendBack(frame);
  };
  return watch;
}

/** A teacher's engine with a club Ben is in; `store` adds ops to its log, `serve` answers a device from its replica. */
async function teacherWithClub() {
  const s = await testSchool();
  const identity = await s.device('schmidt', 'teacher');
  const teacher = await s.engine(identity, undefined, { autoPack: false });
  const group = await teacher.createGroup({ kind: 'club', name: 'AG', members: [{ account: s.ref('ben'), role: 'member' }] });
  const store = (ops: Uint8Array[]) => teacher.replica.applyMembership(group, ops, { kind: 'device', id: identity.id, school: identity.certificate.school });
  const serve = (channel: FrameChannel) => {
    const session = new SyncSession({ channel, replica: teacher.replica, credential: deviceCredential(identity), verifier: trustStoreVerifier(s.trust()) });
    void session.start().catch(() => {});
    return session;
  };
  return { s, identity, teacher, group, store, serve };
}

describe('sync session: catch-up, backpressure, progress', () => {
  it('a device catches a fresh one up in batches, never more than the window in flight, runs kept whole, with progress n of m', async () => {
    const s = await testSchool();
    const teacherIdentity = await s.device('schmidt', 'teacher');
    // Unpacked: the test counts the entries of each run.
    const teacher = await s.engine(teacherIdentity, undefined, { autoPack: false });
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    // Six days of ten messages: six chains (runs) of one author.
    for (let day = 0; day < 6; day++) {
      for (let i = 0; i < 10; i++) await teacher.post(group, { text: `Tag ${day}, Nachricht ${i}` });
      s.clock.advance(DAY);
    }
    const buckets = teacher.liveBuckets(group);
    expect(buckets).toHaveLength(6);
    const bucket = buckets[buckets.length - 1]!;

    const pupil = await s.engine(await s.device('ben', 'pupil'));
    const [relayEnd, pupilEnd] = memoryChannelPair();
    const watch = windowWatch(relayEnd, pupilEnd);
    // The teacher's replica served by a bare session with a small batch size and window.
    const relaySession = new SyncSession({
      channel: relayEnd,
      replica: teacher.replica,
      credential: deviceCredential(teacherIdentity),
      verifier: trustStoreVerifier(s.trust()),
      batchEntries: 8,
      window: 2,
    });
    void relaySession.start().catch(() => {});
    const progress: SyncProgress[] = [];
    pupil.on((e) => {
      if (e.type === 'progress') progress.push(e.progress);
    });
    const session = pupil.connect(pupilEnd);
    await session.start();
    // The pupil's device joins (its first device in the group) and the teacher's key reaches it later; the relay
    // serves the ciphertext as soon as the device is listed.
    const synced = () => buckets.every((b) => pupil.replica.chain(group, b, teacher.deviceId)?.seq === teacher.replica.chain(group, b, teacher.deviceId)?.seq);
    await eventually(synced);
    const teacherChain = pupil.replica.chain(group, bucket, teacher.deviceId)!;
    expect(watch.maxInFlight).toBeLessThanOrEqual(2);
    expect(watch.batches.length).toBeGreaterThan(1);
    // A stored chain carries its signature on its last entry only: a run is never split across batches, so each
    // day's ten entries came whole in one ENTRIES message despite batchEntries 8.
    expect(watch.batches.filter((b) => b.length === 10)).toHaveLength(6);
    for (const b of watch.batches) expect(b).toEqual(b.map((_, i) => b[0]! + i));
    const last = progress[progress.length - 1]!;
    expect(last.caughtUp).toBe(true);
    expect(last.received).toBe(last.expected);
    expect(last.expected).toBeGreaterThanOrEqual(6 * teacherChain.seq);
    expect(progress.some((p) => p.received < p.expected)).toBe(true);
  });

  it('a membership log longer than one MEMBERSHIP message may carry reaches a fresh device in parts, parents first', async () => {
    const { s, identity, teacher, group, store, serve } = await teacherWithClub();
    // More ops than a decoder accepts in one message (MAX_OPS): 10,050 renames, each on the previous head.
    let heads = teacher.replica.heads(group);
    const ops: Uint8Array[] = [];
    const count = MAX_OPS + 50;
    for (let i = 1; i <= count; i++) {
      const op = await createOp(identity, group, heads, { type: 'rename', name: `AG ${i}` }, s.clock.now());
      ops.push(op.bytes);
      heads = [op.id];
    }
    expect((await store(ops)).applied).toBe(count);

    const pupil = await s.engine(await s.device('ben', 'pupil'), undefined, { autoPack: false });
    const [relayEnd, pupilEnd] = memoryChannelPair();
    const sizes: number[] = [];
    const send = relayEnd.send.bind(relayEnd);
    relayEnd.send = (frame) => {
      // The receiver's decoder judges the frame; this only counts what it can read.
      try {
        const m = decodeMessage(frame);
        if (m.type === 'membership' && m.group === group) sizes.push(m.ops.length);
      } catch {}
      send(frame);
    };
    const relaySession = serve(relayEnd);
    const session = pupil.connect(pupilEnd);
    await session.start();
    await eventually(() => pupil.state(group)?.name === `AG ${count}`, 120_000);
    expect(pupil.replica.heads(group)).toEqual(teacher.replica.heads(group));
    expect(sizes.length).toBeGreaterThan(1);
    for (const n of sizes) expect(n).toBeLessThanOrEqual(MAX_OPS);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(count);
    session.close();
    relaySession.close();
  }, 180_000);

  it('a group with more concurrent heads than GROUPS may list still syncs, both ways, and a reconnect changes nothing', async () => {
    const { s, identity, teacher, group, store, serve } = await teacherWithClub();
    // MAX_HEADS + 6 concurrent renames of the same parent: the log has that many heads.
    const parents = teacher.replica.heads(group);
    const ops: Uint8Array[] = [];
    for (let i = 0; i < MAX_HEADS + 6; i++) ops.push((await createOp(identity, group, parents, { type: 'rename', name: `AG ${i}` }, s.clock.now())).bytes);
    await store(ops);
    expect(teacher.replica.heads(group).length).toBe(MAX_HEADS + 6);

    const pupil = await s.engine(await s.device('ben', 'pupil'), undefined, { autoPack: false });
    const listed: number[] = [];
    const connect = async () => {
      const [relayEnd, pupilEnd] = memoryChannelPair();
      for (const end of [relayEnd, pupilEnd]) {
        const send = end.send.bind(end);
        end.send = (frame) => {
          try {
            const m = decodeMessage(frame);
            if (m.type === 'groups') for (const g of m.groups) listed.push(g.heads.length);
            if (m.type === 'heads') listed.push(m.heads.length);
          } catch {}
          send(frame);
        };
      }
      const relaySession = serve(relayEnd);
      const session = pupil.connect(pupilEnd);
      await session.start();
      await session.caughtUp();
      return () => {
        session.close();
        relaySession.close();
      };
    };
    const close = await connect();
    await eventually(() => pupil.replica.heads(group).length === MAX_HEADS + 6);
    expect([...pupil.replica.heads(group)].sort()).toEqual([...teacher.replica.heads(group)].sort());
    expect(pupil.state(group)?.name).toBe(teacher.state(group)?.name);
    close();
    // The pupil now lists the group itself: cut to MAX_HEADS, the other side sends ops it holds, nothing breaks.
    const again = await connect();
    expect(Math.max(...listed)).toBe(MAX_HEADS);
    expect([...pupil.replica.heads(group)].sort()).toEqual([...teacher.replica.heads(group)].sort());
    again();
  }, 60_000);

  it('protocol version 2 (manifests) refuses a peer that speaks only version 1 with ERROR 2, and sends it nothing else', async () => {
    expect(PROTOCOL_VERSION).toBe(2);
    const s = await testSchool();
    const identity = await s.device('schmidt', 'teacher');
    const teacher = await s.engine(identity);
    await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [] });
    const [ours, theirs] = memoryChannelPair();
    const got: ReturnType<typeof decodeMessage>[] = [];
    let closed = false;
    theirs.onFrame((f) => got.push(decodeMessage(f)));
    theirs.onClose(() => {
      closed = true;
    });
    const session = teacher.connect(ours);
    void session.start().catch(() => {});
    const old = await s.device('ben', 'pupil');
    theirs.send(encodeMessage({ type: 'hello', version: 1, minVersion: 1, credentialKind: 'device', credential: old.certificate.bytes, nonce: new Uint8Array(32).fill(1), agent: 'v1' }));
    await eventually(() => closed);
    expect(got.map((m) => m.type)).toEqual(['hello', 'error']);
    expect(got[1]).toMatchObject({ type: 'error', code: ErrorCode.Version });
  });
});

describe('sync session: how it ends', () => {
  it('caughtUp() rejects with SyncError("closed") when the session closes before catching up', async () => {
    const s = await testSchool();
    const teacherIdentity = await s.device('schmidt', 'teacher');
    const teacher = await s.engine(teacherIdentity);
    const pupil = await s.engine(await s.device('ben', 'pupil'));
    const [a, b] = memoryChannelPair();
    // The far end never answers: no catch-up can complete.
    b.onFrame(() => {});
    const session = pupil.connect(a);
    const waiting = session.caughtUp();
    session.close('test closes it');
    await expect(waiting).rejects.toBeInstanceOf(SyncError);
    await expect(session.caughtUp()).rejects.toMatchObject({ code: 'closed' });
    void teacher;
  });

  it('a replica that refuses with SyncRefusal ends the session with that ERROR code, not Internal', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const benIdentity = await s.device('ben', 'pupil');
    const pupil = await s.engine(benIdentity);
    await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    const [teacherEnd, pupilEnd] = memoryChannelPair();
    const errors: { code: number; message: string }[] = [];
    const send = pupilEnd.send.bind(pupilEnd);
    pupilEnd.send = (frame) => {
      const m = decodeMessage(frame);
      if (m.type === 'error') errors.push({ code: m.code, message: m.message });
      send(frame);
    };
    // The pupil's side is a bare session over its replica, wrapped like a relay wraps its replica, refusing what the
    // teacher sends (as a relay refuses a device over its rate).
    const refusing = new Proxy(pupil.replica as unknown as SyncReplica, {
      get(target, prop) {
        if (prop === 'applyMembership')
          return async () => {
            throw new SyncRefusal(ErrorCode.RateLimited, 'rate limit: too much');
          };
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const bare = new SyncSession({ channel: pupilEnd, replica: refusing, credential: deviceCredential(benIdentity), verifier: trustStoreVerifier(s.trust()) });
    void bare.start().catch(() => {});
    const session = teacher.connect(teacherEnd);
    await eventually(() => bare.isClosed && session.isClosed);
    expect(errors).toEqual([{ code: ErrorCode.RateLimited, message: 'rate limit: too much' }]);
  });
});
