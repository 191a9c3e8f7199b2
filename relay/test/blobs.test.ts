/**
 * Attachments on a real relay process (loopback): a member uploads a sealed blob and another member downloads and
 * verifies it; a device that is not a member is refused both ways; an over-size blob is refused with a clear
 * error; unadmitted peers and garbage frames get nothing and the relay stays up; retention deletes blob files from
 * disk; a group shared by two schools gets the blob across both relays.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Libp2p } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { trustFor } from '@schoolmesh/client';
import { connectToRelay } from '@schoolmesh/client/node';
import { generateAgreementKeyPair, generateSigningKeyPair, paddedLength, randomBytes, sealBlob } from '@schoolmesh/crypto';
import { AttachmentError, Engine, ManualClock } from '@schoolmesh/engine';
import { deviceIdentity, issueDeviceCertificate } from '@schoolmesh/identity';
import { BUCKET_MS, bucketOf, defaultGroupPolicy } from '@schoolmesh/model';
import { peerIdOfKey, rawKeyOfPeer, streamChannel } from '@schoolmesh/net-libp2p';
import { BLOB_PROTOCOL, type BlobFrame, BlobFrameReader, BlobErrorCode, encodeBlobFrame, getBlob, openBlobChannel, putBlob } from '@schoolmesh/net-libp2p/blob';
import { epochIdOf } from '@schoolmesh/replica';
import { loadRelayKeys, renewAuthority } from '@schoolmesh/relay';
import { MemoryStorage } from '@schoolmesh/storage';
import { toBase64Url } from '@schoolmesh/wire';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelayDevice, enrolledDevice, until } from './support/devices.ts';
import { rawNode } from './support/raw-peer.ts';
import { type RelayProcess, type RelaySetup, removeSetup, rewriteConfig, setupRelay, startRelay } from './support/relay-process.ts';

const DAY = BUCKET_MS;
const LIMIT = 200_000;
/** Upload budget per device and minute in the first suite: the 120 KB image fits, two more blobs of 150 KB do not. */
const BUDGET = 300_000;

function holdsCurrentKey(d: RelayDevice, group: string): boolean {
  const epoch = d.engine.state(group)?.currentEpoch;
  return !!epoch && d.engine.canRead(group) && d.engine.holdsKey(group, epochIdOf(epoch));
}

function relayPeer(relay: RelayProcess) {
  return peerIdOfKey(rawKeyOfPeer(relay.info.relay.peerId)!);
}

/** Paths of every blob file under the relay's data directory. */
async function blobFiles(setup: RelaySetup): Promise<string[]> {
  const root = join(setup.dir, 'blobs');
  const out: string[] = [];
  for (const g of await readdir(root).catch(() => [] as string[])) {
    if (g.startsWith('.')) continue;
    for (const b of await readdir(join(root, g)).catch(() => [] as string[])) {
      for (const id of await readdir(join(root, g, b)).catch(() => [] as string[])) out.push(join(root, g, b, id));
    }
  }
  return out;
}

function testImage(size: number): Uint8Array {
  // Not compressible into a pattern the search below could mistake: random, with a marker at the start.
  const bytes = randomBytes(size);
  bytes.set(new TextEncoder().encode('SCHOOLMESH-PLAINTEXT-MARKER'), 0);
  return bytes;
}

/** Frames a hostile member might send after its request: data of any size, answers it has no business sending. */
function arbFrameAfter(group: string): fc.Arbitrary<BlobFrame> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 3000 }).map((bytes) => ({ type: 'data' as const, bytes })),
    fc.nat({ max: 1 << 20 }).map((size) => ({ type: 'ok' as const, size })),
    fc.string({ maxLength: 40 }).map((message) => ({ type: 'error' as const, code: 7, message })),
    fc.nat({ max: 1 << 20 }).map((size) => ({ type: 'put' as const, group, bucket: 1, id: toBase64Url(new Uint8Array(32)), size })),
  );
}
const sequences: { frames: BlobFrame[]; size: number; get: boolean }[] = [];

async function alive(relay: RelayProcess): Promise<boolean> {
  if (relay.child.exitCode !== null) return false;
  const health = (await (await fetch(`${relay.http}/healthz`)).json()) as { status: string };
  return health.status === 'ok';
}

describe('blobs on one relay', () => {
  let setup: RelaySetup;
  let relay: RelayProcess;
  let teacher: RelayDevice;
  let ben: RelayDevice;
  let mia: RelayDevice;
  let group: string;

  beforeAll(async () => {
    setup = await setupRelay('Gesamtschule Blob', { limits: { blobBytes: LIMIT, blobBytesPerMinutePerDevice: BUDGET } });
    relay = await startRelay(setup);
    teacher = await enrolledDevice(relay, 'weber', 'teacher', 'Frau Weber');
    ben = await enrolledDevice(relay, 'ben', 'pupil', 'Ben');
    mia = await enrolledDevice(relay, 'mia', 'pupil', 'Mia');
    group = await teacher.engine.createGroup({ kind: 'class', name: 'Klasse 8b', members: [{ account: ben.ref, role: 'member' }] });
    await Promise.all([teacher.online(), ben.online(), mia.online()]);
    await until(() => holdsCurrentKey(ben, group), 30_000, 'ben holds the key');
  });

  afterAll(async () => {
    for (const d of [teacher, ben, mia]) await d?.close();
    await relay?.stop();
    if (setup) await removeSetup(setup);
  });

  it('a member uploads an image; another member downloads it and gets the same bytes; the relay holds only ciphertext', async () => {
    const image = testImage(120_000);
    const posted = await ben.engine.postWithAttachments(group, { text: 'Tafelbild' }, [{ name: 'tafel.jpg', mime: 'image/jpeg', bytes: image }]);
    await posted.acked;
    await until(async () => (await teacher.engine.messages(group)).some((m) => m.text === 'Tafelbild'), 20_000, 'the teacher has the message');
    const message = (await teacher.engine.messages(group)).find((m) => m.text === 'Tafelbild')!;
    const att = message.attachments[0]!;
    expect(att).toMatchObject({ name: 'tafel.jpg', mime: 'image/jpeg', size: image.length });
    const bytes = await teacher.engine.attachment(group, posted.bucket, att);
    expect(Buffer.compare(bytes, image)).toBe(0);
    // On disk: one file, at <group>/<bucket>/<id>, of the sealed size, without the plaintext.
    const files = await blobFiles(setup);
    expect(files).toEqual([join(setup.dir, 'blobs', group, String(posted.bucket).padStart(10, '0'), att.id)]);
    const onDisk = await readFile(files[0]!);
    expect(onDisk.length).toBe(paddedLength(image.length) + 40);
    expect(onDisk.indexOf(Buffer.from('SCHOOLMESH-PLAINTEXT-MARKER'))).toBe(-1);
    expect(onDisk.indexOf(Buffer.from(image.subarray(5000, 5064)))).toBe(-1);
    expect(await relay.metrics()).toMatch(/schoolmesh_blob_requests_total\{op="put",outcome="ok"\} 1\b/);
  });

  it('a device that is not a member can neither upload nor download', async () => {
    const node = mia.connection!.node;
    const existing = (await blobFiles(setup))[0]!.split('/').slice(-3);
    const ref = { group, bucket: Number(existing[1]), id: existing[2]! };
    const put = putBlob(await openBlobChannel(node, relayPeer(relay)), { group, bucket: bucketOf(Date.now()), id: toBase64Url(sealBlob(new Uint8Array(10)).id) }, sealBlob(new Uint8Array(10)).sealed);
    await expect(put).rejects.toMatchObject({ name: 'BlobError', code: BlobErrorCode.Forbidden, message: 'this device may not post in this group' });
    const get = getBlob(await openBlobChannel(node, relayPeer(relay)), ref, LIMIT);
    await expect(get).rejects.toMatchObject({ name: 'BlobError', code: BlobErrorCode.Forbidden, message: 'not a reader of this group' });
    // The member on the same relay still can.
    const ok = await getBlob(await openBlobChannel(ben.connection!.node, relayPeer(relay)), ref, LIMIT);
    expect(ok.length).toBeGreaterThan(0);
  });

  it('an over-size blob is refused with a clear error, and nothing is stored or posted', async () => {
    const before = (await blobFiles(setup)).length;
    const error = await ben.engine
      .postWithAttachments(group, { text: 'zu groß' }, [{ name: 'riesig.pdf', mime: 'application/pdf', bytes: testImage(LIMIT) }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttachmentError);
    expect((error as AttachmentError).message).toBe(`upload refused: blob of ${paddedLength(LIMIT) + 40} bytes exceeds this relay's limit of ${LIMIT} bytes`);
    expect((await blobFiles(setup)).length).toBe(before);
    expect((await ben.engine.messages(group)).map((m) => m.text)).not.toContain('zu groß');
  });

  it('a blob that does not match its address is refused', async () => {
    const blob = sealBlob(new Uint8Array(1000));
    const put = putBlob(await openBlobChannel(ben.connection!.node, relayPeer(relay)), { group, bucket: bucketOf(Date.now()), id: toBase64Url(new Uint8Array(32)) }, blob.sealed);
    await expect(put).rejects.toMatchObject({ code: BlobErrorCode.Mismatch });
  });

  it('peers without an admitted sync session get nothing; garbage frames do not take the relay down', async () => {
    // A stranger: a libp2p node with a key no school certified.
    const stranger: Libp2p = await rawNode();
    try {
      const conn = await stranger.dial(relay.info.relay.tcp.map((a) => multiaddr(a)), { signal: AbortSignal.timeout(10_000) });
      const ref = (await blobFiles(setup))[0]!.split('/').slice(-3);
      const get = conn
        .newStream(BLOB_PROTOCOL)
        .then((s) => getBlob(streamChannel(s), { group: ref[0]!, bucket: Number(ref[1]), id: ref[2]! }, LIMIT));
      await expect(get).rejects.toMatchObject({ code: BlobErrorCode.Unauthenticated, message: 'no admitted sync session on this connection' });
    } finally {
      await stranger.stop();
    }
    // An admitted device sends garbage: random bytes, random frames, a PUT that promises more than it sends.
    const node = mia.connection!.node;
    for (let i = 0; i < 60; i++) {
      const stream = await node.getConnections(relayPeer(relay))[0]!.newStream(BLOB_PROTOCOL);
      const channel = streamChannel(stream);
      if (i % 3 === 0) stream.send(randomBytes(1 + (i % 50)));
      else if (i % 3 === 1) channel.send(randomBytes(1 + i));
      else {
        channel.send(encodeBlobFrame({ type: 'put', group, bucket: bucketOf(Date.now()), id: toBase64Url(randomBytes(32)), size: 1 << 30 }));
        channel.send(encodeBlobFrame({ type: 'data', bytes: randomBytes(100) }));
      }
      channel.close('done');
    }
    // A member (whose PUT passes the checks, so the relay reads its data): random frame sequences after a PUT or GET.
    const member = ben.connection!.node;
    const answers: string[] = [];
    fc.assert(
      fc.property(fc.array(arbFrameAfter(group), { minLength: 1, maxLength: 6 }), fc.nat({ max: 2000 }), fc.boolean(), (frames, size, get) => {
        sequences.push({ frames, size, get });
      }),
      { numRuns: 40, seed: 42 },
    );
    for (const { frames, size, get } of sequences) {
      const channel = streamChannel(await member.getConnections(relayPeer(relay))[0]!.newStream(BLOB_PROTOCOL));
      const reader = new BlobFrameReader(channel);
      const ref = { group, bucket: bucketOf(Date.now()), id: toBase64Url(randomBytes(32)) };
      channel.send(encodeBlobFrame(get ? { type: 'get', ...ref } : { type: 'put', ...ref, size }));
      for (const f of frames) channel.send(encodeBlobFrame(f));
      // A last frame the relay never accepts in the middle of an upload, so every request ends in its answer.
      channel.send(encodeBlobFrame({ type: 'ok', size: 0 }));
      const answer = await reader.next().catch((e: Error) => ({ type: 'closed', message: e.message }) as const);
      answers.push(answer.type === 'error' ? `error ${answer.code}` : answer.type);
      channel.close('done');
    }
    expect(answers.filter((a) => a === 'ok')).toEqual([]);
    expect(new Set(answers)).toContain(`error ${BlobErrorCode.NotFound}`);
    expect(new Set(answers)).toContain(`error ${BlobErrorCode.Protocol}`);
    expect(await alive(relay)).toBe(true);
    const ref = (await blobFiles(setup))[0]!.split('/').slice(-3);
    const bytes = await getBlob(await openBlobChannel(ben.connection!.node, relayPeer(relay)), { group: ref[0]!, bucket: Number(ref[1]), id: ref[2]! }, LIMIT);
    expect(bytes.length).toBe(paddedLength(120_000) + 40);
    expect(await alive(relay)).toBe(true);
  });

  it('a device over its upload budget is refused at once with a clear error', async () => {
    // Ben has spent at least 120 KB of his 300 KB per minute (the first test's image); it refills at 5 KB per second,
    // so of four 150 KB uploads in a row at least one must find it spent.
    const outcomes: (string | number)[] = [];
    for (let i = 0; i < 4; i++) {
      const blob = sealBlob(randomBytes(150_000));
      const ref = { group, bucket: bucketOf(Date.now()), id: toBase64Url(blob.id) };
      outcomes.push(await putBlob(await openBlobChannel(ben.connection!.node, relayPeer(relay)), ref, blob.sealed).then(() => 'ok', (e: { code: number; message: string }) => (e.code === BlobErrorCode.RateLimited ? e.message : e.code)));
    }
    expect(outcomes).toContain('this device uploads more than the relay accepts per minute');
    expect(outcomes.filter((o) => o !== 'ok' && o !== 'this device uploads more than the relay accepts per minute')).toEqual([]);
    expect(await relay.metrics()).toMatch(/schoolmesh_blob_requests_total\{op="put",outcome="rate-limited"\} [1-4]\b/);
  });

  it('blob limits change on SIGHUP without a restart: a larger blob and budget are accepted, smaller ones refuse', async () => {
    const put = async (size: number) => {
      const blob = sealBlob(randomBytes(size));
      const ref = { group, bucket: bucketOf(Date.now()), id: toBase64Url(blob.id) };
      return putBlob(await openBlobChannel(ben.connection!.node, relayPeer(relay)), ref, blob.sealed).then(
        () => 'ok',
        (e: { code: number; message: string }) => `${e.code} ${e.message}`,
      );
    };
    const pid = relay.child.pid;
    // Raised: a blob over the old limit, and more than the old budget (which the test before spent) in one go.
    await rewriteConfig(setup, { limits: { blobBytes: 4 * LIMIT, blobBytesPerMinutePerDevice: 10 * BUDGET } });
    expect(await relay.reload()).toMatch(/"msg":"config reloaded"/);
    expect(await put(2 * LIMIT)).toBe('ok');
    expect(await put(LIMIT)).toBe('ok');
    // Lowered budget: an upload above it refuses as over budget at once.
    await rewriteConfig(setup, { limits: { blobBytes: 4 * LIMIT, blobBytesPerMinutePerDevice: 50_000 } });
    expect(await relay.reload()).toMatch(/"msg":"config reloaded"/);
    expect(await put(60_000)).toBe(`${BlobErrorCode.RateLimited} this device uploads more than the relay accepts per minute`);
    // Lowered size limit: refused with the new limit in the message.
    await rewriteConfig(setup, { limits: { blobBytes: 1_000, blobBytesPerMinutePerDevice: 10 * BUDGET } });
    expect(await relay.reload()).toMatch(/"msg":"config reloaded"/);
    expect(await put(2_000)).toBe(`${BlobErrorCode.TooLarge} blob of ${paddedLength(2_000) + 40} bytes exceeds this relay's limit of 1000 bytes`);
    expect(await put(500)).toBe('ok');
    expect(relay.child.pid).toBe(pid);
  });
});

describe('blob retention on the relay', () => {
  let setup: RelaySetup;
  let relay: RelayProcess;

  afterAll(async () => {
    await relay?.stop();
    if (setup) await removeSetup(setup);
  });

  it('deletes the blob files of expired buckets from disk, and keeps live ones', async () => {
    setup = await setupRelay('Grundschule Blob', { retention: { sweepMinutes: 0.02 } });
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
    // The device writes two days back; the group keeps three days.
    const clock = new ManualClock(Date.now() - 2 * DAY);
    const engine = await Engine.open({ storage: new MemoryStorage(), identity, trust: trustFor(relay.info, () => clock.now()), clock });
    const connection = await connectToRelay(engine, identity, relay.info.relay, { loopbackOnly: true });
    try {
      const group = await engine.createGroup({ kind: 'class', name: 'Klasse 2b', policy: { ...defaultGroupPolicy('class'), retentionDays: 3 } });
      await connection.link.caughtUp();
      // The relay knows the group once it acknowledged an entry of it (catch-up can end before it stored the ops).
      await (await engine.post(group, { text: 'Hallo' })).acked;
      const old = await engine.postWithAttachments(group, { text: 'vorgestern' }, [{ name: 'alt.jpg', mime: 'image/jpeg', bytes: testImage(5000) }]);
      await old.acked;
      clock.set(Date.now());
      const fresh = await engine.postWithAttachments(group, { text: 'heute' }, [{ name: 'neu.jpg', mime: 'image/jpeg', bytes: testImage(5000) }]);
      await fresh.acked;
      expect(old.bucket).toBe(bucketOf(Date.now()) - 2);
      const files = await blobFiles(setup);
      expect(files).toHaveLength(2);
      const oldFile = files.find((f) => f.includes(`/${String(old.bucket).padStart(10, '0')}/`))!;
      expect((await stat(oldFile)).isFile()).toBe(true);
      // The owner shortens retention to one day: two days ago is past it; the next sweep deletes the old blob.
      await engine.setPolicy(group, { ...engine.state(group)!.policy, retentionDays: 1 });
      await until(async () => (await blobFiles(setup)).length === 1, 20_000, 'the expired blob gone from disk');
      expect(await blobFiles(setup)).toEqual(files.filter((f) => f !== oldFile));
      await until(async () => /schoolmesh_expired_blobs_total 1\b/.test(await relay.metrics()), 10_000, 'the metric');
    } finally {
      await connection.stop();
      await engine.close();
    }
  }, 120_000);
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

function partnerOf(setup: RelaySetup, name: string) {
  const peerId = peerIdOfKey(setup.keys.authority.publicKey).toString();
  return { name, root: setup.keys.schoolId, addrs: [`/ip4/127.0.0.1/tcp/${setup.config.tcpPort}/p2p/${peerId}`], http: `http://127.0.0.1:${setup.config.httpPort}` };
}

describe('blobs across two federated relays', () => {
  let setupA: RelaySetup;
  let setupB: RelaySetup;
  let relayA: RelayProcess;
  let relayB: RelayProcess;
  let devices: RelayDevice[] = [];

  afterAll(async () => {
    for (const d of devices) await d.close();
    for (const r of [relayA, relayB]) await r?.stop();
    for (const s of [setupA, setupB]) if (s) await removeSetup(s);
  });

  it("a pupil at school B gets the image a pupil at school A sent, through B's relay", async () => {
    setupA = await setupRelay('Gymnasium Nord', { tcpPort: await freePort(), httpPort: await freePort() });
    setupB = await setupRelay('Realschule Süd', { tcpPort: await freePort(), httpPort: await freePort() });
    await rewriteConfig(setupA, { federation: { partners: [partnerOf(setupB, 'Realschule Süd')] } });
    await rewriteConfig(setupB, { federation: { partners: [partnerOf(setupA, 'Gymnasium Nord')] } });
    [relayA, relayB] = await Promise.all([startRelay(setupA), startRelay(setupB)]);
    const teacherA = await enrolledDevice(relayA, 'schmidt', 'teacher', 'Frau Schmidt');
    const pupilA = await enrolledDevice(relayA, 'ben', 'pupil', 'Ben');
    const pupilB = await enrolledDevice(relayB, 'lea', 'pupil', 'Lea');
    devices = [teacherA, pupilA, pupilB];
    const group = await teacherA.engine.createGroup({
      kind: 'custom',
      name: 'Projekt 7a + 7c',
      members: [
        { account: pupilA.ref, role: 'member' },
        { account: pupilB.ref, role: 'member' },
      ],
    });
    await Promise.all(devices.map((d) => d.online()));
    for (const d of [pupilA, pupilB]) await until(() => holdsCurrentKey(d, group), 30_000, `${d.account} holds the key`);
    const image = testImage(50_000);
    const posted = await pupilA.engine.postWithAttachments(group, { text: 'Unser Plakat' }, [{ name: 'plakat.png', mime: 'image/png', bytes: image }]);
    await posted.acked;
    await until(async () => (await pupilB.engine.messages(group)).some((m) => m.text === 'Unser Plakat'), 30_000, 'lea has the message');
    expect(await blobFiles(setupB)).toEqual([]);
    const att = (await pupilB.engine.messages(group)).find((m) => m.text === 'Unser Plakat')!.attachments[0]!;
    const bytes = await pupilB.engine.attachment(group, posted.bucket, att);
    expect(Buffer.compare(bytes, image)).toBe(0);
    // Relay B fetched it from relay A and now keeps its own copy.
    expect((await blobFiles(setupB)).map((f) => f.split('/').slice(-3).join('/'))).toEqual([`${group}/${String(posted.bucket).padStart(10, '0')}/${att.id}`]);
    expect(await relayB.metrics()).toMatch(/schoolmesh_blob_requests_total\{op="fetch",outcome="ok"\} 1\b/);
  }, 120_000);
});
