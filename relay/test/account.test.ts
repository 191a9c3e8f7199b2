/**
 * The account protocol (/schoolmesh/account/1) at a real relay process: a device lists, renames and revokes the
 * devices of its own account and asks for a short-lived one-time code that enrolls another device of the same
 * account. It can do none of that to another account's devices; an unenrolled peer and malformed requests get a
 * clear ERROR, and the relay keeps running.
 */
import type { Libp2p } from '@libp2p/interface';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { type EnrollError, enroll } from '@schoolmesh/client';
import { ACCOUNT_PROTOCOL, type AccountRequest, accountCall, decodeAccountResponse, encodeAccountRequest } from '@schoolmesh/client/account';
import { decodeDeviceCertificate, deviceIdOf } from '@schoolmesh/identity';
import { streamChannel } from '@schoolmesh/net-libp2p';
import { fromBase64Url, toBase64Url } from '@schoolmesh/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelayDevice, enrolledDevice, until } from './support/devices.ts';
import { rawNode } from './support/raw-peer.ts';
import { type RelayProcess, removeSetup, setupRelay, startRelay } from './support/relay-process.ts';

describe('account protocol at a relay process', () => {
  let relay: RelayProcess;
  let addrs: Multiaddr[];
  let laptop: RelayDevice;
  let phone: RelayDevice;
  let mia: RelayDevice;
  const extra: RelayDevice[] = [];
  const nodes: Libp2p[] = [];

  const call = (device: RelayDevice, request: AccountRequest) => accountCall(device.connection!.node, addrs, request);
  const list = async (device: RelayDevice) => {
    const r = await call(device, { type: 'list' });
    if (r.type !== 'devices') throw new Error(`unexpected answer ${r.type}`);
    return r.devices;
  };
  /** Sends raw bytes as one request frame and returns the decoded answer. */
  const raw = async (node: Libp2p, payload: Uint8Array) => {
    const stream = await node.dialProtocol(addrs, ACCOUNT_PROTOCOL);
    const channel = streamChannel(stream);
    const frame = await new Promise<Uint8Array>((resolve, reject) => {
      channel.onFrame(resolve);
      channel.onClose((reason) => reject(new Error(`closed: ${reason}`)));
      channel.send(payload);
    });
    channel.close();
    return decodeAccountResponse(frame);
  };

  beforeAll(async () => {
    relay = await startRelay(await setupRelay('Realschule Süd'));
    addrs = relay.info.relay.tcp.map((a) => multiaddr(a));
    laptop = await enrolledDevice(relay, 'ben', 'pupil', 'Ben Müller');
    phone = await enrolledDevice(relay, 'ben', 'pupil', 'Ben Müller');
    mia = await enrolledDevice(relay, 'mia', 'pupil', 'Mia Schneider');
    await Promise.all([laptop.online(), phone.online(), mia.online()]);
  });

  afterAll(async () => {
    for (const d of [laptop, phone, mia, ...extra]) await d?.close();
    for (const n of nodes) await n.stop();
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
  });

  it("lists this account's devices, and only those", async () => {
    const devices = await list(laptop);
    expect(devices.map((d) => d.device).sort()).toEqual([laptop.identity.id, phone.identity.id].sort());
    const me = devices.find((d) => d.device === laptop.identity.id)!;
    expect(me).toMatchObject({ current: true, online: true, via: 'code', revoked: false, name: '' });
    expect(devices.find((d) => d.device === phone.identity.id)).toMatchObject({ current: false, online: true });
    expect(me.lastSeen).toBeGreaterThan(0);
    expect(devices.some((d) => d.device === mia.identity.id)).toBe(false);
    // Each with the certificate the relay issued: what the laptop needs to approve the phone into its groups.
    expect(me.certificate).toBe(toBase64Url(laptop.identity.certificate.bytes));
    const phoneCert = decodeDeviceCertificate(fromBase64Url(devices.find((d) => d.device === phone.identity.id)!.certificate!));
    expect(deviceIdOf(phoneCert.deviceKey)).toBe(phone.identity.id);
    expect(phoneCert.bytes).toEqual(phone.identity.certificate.bytes);
  });

  it("lists the school's people a device may write to, found however the name is typed, without the caller", async () => {
    const teacher = await enrolledDevice(relay, 'schaefer', 'teacher', 'Frau Schäfer');
    extra.push(teacher);
    const found = await call(laptop, { type: 'people', query: '' });
    if (found.type !== 'found') throw new Error(`unexpected answer ${found.type}`);
    // Enrolled accounts (no directory configured here), sorted by name; Ben's own account is not among them.
    expect(found.people.map((p) => p.account)).toEqual(['schaefer', 'mia']);
    expect(found.people[0]).toEqual({ account: 'schaefer', displayName: 'Frau Schäfer', role: 'teacher' });
    expect(found.total).toBe(2);
    const typed = await call(laptop, { type: 'people', query: 'schae' });
    expect(typed.type === 'found' && typed.people.map((p) => p.account)).toEqual(['schaefer']);
    const none = await call(laptop, { type: 'people', query: 'Zeugnis' });
    expect(none).toMatchObject({ type: 'found', total: 0, people: [] });
    await expect(call(laptop, { type: 'people', query: 'x'.repeat(101) })).rejects.toMatchObject({ code: 'bad-request' });
  });

  it('renames a device of its own account, not one of another account', async () => {
    await call(laptop, { type: 'rename', device: phone.identity.id, name: '  Handy  ' });
    expect((await list(phone)).find((d) => d.device === phone.identity.id)?.name).toBe('Handy');
    await expect(call(laptop, { type: 'rename', device: mia.identity.id, name: 'gekapert' })).rejects.toMatchObject({ code: 'not-yours' });
    await expect(call(laptop, { type: 'rename', device: phone.identity.id, name: 'x'.repeat(65) })).rejects.toMatchObject({ code: 'bad-request' });
    expect((await list(mia))[0]!.name).toBe('');
  });

  it("cannot revoke another account's device: the device stays in", async () => {
    const miaSession = mia.connection!.link.session!;
    await expect(call(laptop, { type: 'revoke', device: mia.identity.id })).rejects.toMatchObject({ code: 'not-yours' });
    // An unknown device id gets the same answer: the protocol does not tell which devices exist.
    await expect(call(laptop, { type: 'revoke', device: 'A'.repeat(43) })).rejects.toMatchObject({ code: 'not-yours' });
    const admin = (await (
      await fetch(`${relay.http}/api/admin/devices`, { headers: { authorization: `Bearer ${relay.setup.keys.adminToken}` } })
    ).json()) as { devices: { device: string; revoked: boolean }[] };
    expect(admin.devices.find((d) => d.device === mia.identity.id)?.revoked).toBe(false);
    expect(miaSession.isClosed).toBe(false);
    expect((await list(mia))[0]).toMatchObject({ device: mia.identity.id, revoked: false, online: true });
  });

  it('revokes a lost device of its own account: the relay drops it within seconds and refuses it from then on', async () => {
    const session = phone.connection!.link.session!;
    const laptopSession = laptop.connection!.link.session!;
    await call(laptop, { type: 'revoke', device: phone.identity.id });
    await until(() => session.isClosed, 5_000, "the phone's session dropped");
    expect(session.closeReason).toMatch(/revoked/);
    expect(laptopSession.isClosed).toBe(false);
    const revoked = (await list(laptop)).find((d) => d.device === phone.identity.id);
    expect(revoked).toMatchObject({ revoked: true, online: false });
    // A revoked device's certificate is not handed out any more (nobody should approve it).
    expect(revoked?.certificate).toBeUndefined();
    // The revoked phone can no longer use the account protocol either.
    const phoneNode = await rawNode(phone.identity.signing.seed);
    nodes.push(phoneNode);
    expect(await raw(phoneNode, encodeAccountRequest({ type: 'list' }))).toMatchObject({ type: 'error', code: 'not-enrolled' });
  });

  it('approves a new device of the same account with a short-lived one-time code', async () => {
    const issued = await call(laptop, { type: 'code' });
    if (issued.type !== 'issued') throw new Error('no code');
    expect(issued.code).toMatch(/^[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}$/);
    // Ten minutes, not the admin codes' fourteen days.
    expect(issued.expiresAt - Date.now()).toBeLessThanOrEqual(10 * 60_000);
    expect(issued.expiresAt - Date.now()).toBeGreaterThan(5 * 60_000);
    const { identity } = await enroll(relay.http, { code: issued.code });
    expect(identity.certificate.account).toBe('ben');
    expect(identity.certificate.displayName).toBe('Ben Müller');
    expect(identity.certificate.role).toBe('pupil');
    // With the web app's origin, the answer carries the enrollment link and its QR code.
    const linked = await call(laptop, { type: 'code', origin: 'http://127.0.0.1:8787' });
    if (linked.type !== 'issued') throw new Error('no code');
    expect(linked.url).toBe(`http://127.0.0.1:8787/#enroll=${linked.code}`);
    expect(linked.qrSvg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    await expect(call(laptop, { type: 'code', origin: 'javascript:alert(1)' })).rejects.toMatchObject({ code: 'bad-request' });
    // One time only.
    await expect(enroll(relay.http, { code: issued.code })).rejects.toMatchObject({ code: 'unknown-code' } satisfies Partial<EnrollError>);
    const devices = await list(laptop);
    expect(devices.find((d) => d.device === identity.id)).toMatchObject({ via: 'approval', online: false, revoked: false });
    // Asking for codes is limited per account.
    await expect(
      (async () => {
        for (let i = 0; i < 10; i++) await call(laptop, { type: 'code' });
      })(),
    ).rejects.toMatchObject({ code: 'too-many-codes' });
  });

  it('answers peers that are not enrolled devices, and malformed requests, with a clear error; the relay keeps running', async () => {
    const stranger = await rawNode();
    nodes.push(stranger);
    expect(await raw(stranger, encodeAccountRequest({ type: 'code' }))).toMatchObject({ type: 'error', code: 'not-enrolled' });
    const miaNode = await rawNode(mia.identity.signing.seed);
    nodes.push(miaNode);
    const bad = [
      new Uint8Array([]),
      new Uint8Array([9, 1, 123, 125]), // unknown version
      new Uint8Array([1, 77, 123, 125]), // unknown type
      new Uint8Array([1, 2, 0xff, 0xfe]), // not UTF-8
      new Uint8Array([1, 2, ...new TextEncoder().encode('[1,2]')]),
      encodeAccountRequest({ type: 'rename', device: 'not-a-device', name: 'x' }),
      new Uint8Array([1, 3, ...new TextEncoder().encode('{"device":{"$gt":""}}')]),
    ];
    for (const payload of bad) {
      const answer = await raw(miaNode, payload).catch((e: Error) => e);
      // An empty frame may be refused by closing; everything else gets ERROR bad-request.
      if (payload.length === 0) continue;
      expect(answer, String(payload)).toMatchObject({ type: 'error', code: 'bad-request' });
    }
    // A request larger than 64 KiB is cut off, not buffered: the stream ends without an answer.
    await expect(raw(miaNode, new Uint8Array(200 * 1024).fill(32))).rejects.toThrow(/closed/);
    expect(relay.child.exitCode).toBeNull();
    expect((await list(mia)).length).toBe(1);
  });
});
