/**
 * Presence for direct links, against a real relay process: a device learns exactly the announced devices that
 * share a group with it, nobody without an admitted session learns anything, bad bytes are refused without harm,
 * and the relay's circuit relay serves only announced link nodes.
 */
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { identify } from '@libp2p/identify';
import type { Libp2p } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { PRESENCE_PROTOCOL, type PresenceHandle, type PresencePeer, announcePresence, decodePresence, encodePresence, loopbackOnlyGater, streamChannel } from '@schoolmesh/net-libp2p';
import { createLibp2p } from 'libp2p';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelayDevice, enrolledDevice, until } from './support/devices.ts';
import { rawNode } from './support/raw-peer.ts';
import { type RelayProcess, removeSetup, setupRelay, startRelay } from './support/relay-process.ts';

interface Announcer {
  link: string;
  lists: PresencePeer[][];
  handle: PresenceHandle;
}

async function announce(device: RelayDevice, relay: RelayProcess, link?: string): Promise<Announcer> {
  const id = link ?? peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
  const lists: PresencePeer[][] = [];
  const handle = await announcePresence(device.connection!.node, relay.info.relay.tcp.map((a) => multiaddr(a)), id, (peers) => lists.push(peers));
  await handle.ready;
  return { link: id, lists, handle };
}

const latest = (a: Announcer) => (a.lists.at(-1) ?? []).map((p) => p.device).sort();

/** A node with the circuit-relay client that tries to reserve a slot on the relay (listening on its circuit address). */
async function reservingNode(relay: RelayProcess, privateKey?: Awaited<ReturnType<typeof generateKeyPair>>): Promise<Libp2p> {
  return createLibp2p({
    privateKey: privateKey ?? (await generateKeyPair('Ed25519')),
    addresses: { listen: [`${relay.info.relay.tcp[0]}/p2p-circuit`] },
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: loopbackOnlyGater(),
    services: { identify: identify() },
  });
}

describe('presence for direct links', () => {
  let relay: RelayProcess;
  let teacher: RelayDevice;
  let ben: RelayDevice;
  let mia: RelayDevice;
  let lea: RelayDevice;

  beforeAll(async () => {
    relay = await startRelay(await setupRelay('Gymnasium am See'));
    teacher = await enrolledDevice(relay, 'schmidt', 'teacher', 'Frau Schmidt');
    ben = await enrolledDevice(relay, 'ben', 'pupil', 'Ben');
    mia = await enrolledDevice(relay, 'mia', 'pupil', 'Mia');
    lea = await enrolledDevice(relay, 'lea', 'pupil', 'Lea');
    await teacher.engine.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: ben.ref, role: 'member' }, { account: mia.ref, role: 'member' }] });
    await teacher.engine.createGroup({ kind: 'class', name: 'Klasse 7b', members: [{ account: lea.ref, role: 'member' }] });
    for (const d of [teacher, ben, mia, lea]) await d.online();
    // Each pupil's device joins its class by itself (through the relay): wait until the relay knows them as readers.
    await until(() => ben.engine.groups().length === 1 && mia.engine.groups().length === 1 && lea.engine.groups().length === 1, 20_000, 'pupils see their class');
    await until(() => [ben, mia, lea].every((d) => d.engine.groups().every((g) => d.engine.state(g.id)?.devices.has(d.identity.id))), 20_000, 'pupil devices joined');
  });

  afterAll(async () => {
    for (const d of [teacher, ben, mia, lea]) await d?.close();
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
  });

  it('lists only announced devices that share a group, updates on arrival and departure', async () => {
    const b = await announce(ben, relay);
    expect(latest(b)).toEqual([]);
    const m = await announce(mia, relay);
    expect(latest(m)).toEqual([ben.identity.id]);
    await until(() => latest(b).join() === mia.identity.id, 10_000, 'ben hears of mia');
    expect(b.lists.at(-1)).toEqual([{ device: mia.identity.id, link: m.link }]);

    // Lea is in 7b: she and the 7a pupils never see each other.
    const l = await announce(lea, relay);
    expect(latest(l)).toEqual([]);
    const t = await announce(teacher, relay);
    expect(latest(t)).toEqual([ben.identity.id, lea.identity.id, mia.identity.id].sort());
    await until(() => latest(l).join() === teacher.identity.id, 10_000, 'lea hears of the teacher');
    await until(() => latest(b).length === 2, 10_000, 'ben hears of the teacher');
    expect(latest(b)).toEqual([mia.identity.id, teacher.identity.id].sort());
    for (const list of [...b.lists, ...m.lists]) expect(list.map((p) => p.device)).not.toContain(lea.identity.id);
    for (const list of l.lists) expect(list.map((p) => p.device)).not.toContain(ben.identity.id);

    // Mia closes her presence (her tab went away): Ben's list loses her.
    m.handle.close();
    await until(() => latest(b).length === 1, 10_000, 'mia withdrawn');
    expect(latest(b)).toEqual([teacher.identity.id]);
    // A device that goes offline altogether disappears too.
    await lea.offline();
    await until(() => latest(t).length === 1, 10_000, 'lea gone for the teacher');
    expect(latest(t)).toEqual([ben.identity.id]);
    for (const a of [b, t, l]) a.handle.close();
    await lea.online();
  });

  it('refuses presence without an admitted sync session: a stranger, or an enrolled device without a session', async () => {
    const idle = await enrolledDevice(relay, 'tom', 'pupil', 'Tom');
    for (const node of [await rawNode(), await rawNode(idle.identity.signing.seed)]) {
      try {
        const lists: PresencePeer[][] = [];
        const link = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
        const handle = await announcePresence(node, relay.info.relay.tcp.map((a) => multiaddr(a)), link, (p) => lists.push(p));
        await expect(handle.ready).rejects.toThrow(/admitted sync session/);
        expect(lists).toEqual([]);
      } finally {
        await node.stop();
      }
    }
    await idle.close();
  });

  it('answers bad bytes and announcement floods with an error and goes on serving others', async () => {
    const b = await announce(ben, relay);
    for (const bad of [new Uint8Array([9, 9, 9]), new Uint8Array([1, 5, 0x61]), new Uint8Array([1, 3, 0x61, 0x62, 0x63]), new Uint8Array([2, 0])]) {
      const stream = await mia.connection!.node.dialProtocol(relay.info.relay.tcp.map((a) => multiaddr(a)), PRESENCE_PROTOCOL);
      const channel = streamChannel(stream);
      const got: ReturnType<typeof decodePresence>[] = [];
      let closed = false;
      channel.onFrame((f) => got.push(decodePresence(f)));
      channel.onClose(() => (closed = true));
      channel.send(bad);
      await until(() => closed, 10_000, 'relay closed the bad stream');
      expect(got.map((g) => g.type)).toEqual(['error']);
    }
    // A device that announces over and over on one stream is cut off after a few.
    {
      const stream = await mia.connection!.node.dialProtocol(relay.info.relay.tcp.map((a) => multiaddr(a)), PRESENCE_PROTOCOL);
      const channel = streamChannel(stream);
      const got: ReturnType<typeof decodePresence>[] = [];
      let closed = false;
      channel.onFrame((f) => got.push(decodePresence(f)));
      channel.onClose(() => (closed = true));
      for (let i = 0; i < 20; i++) channel.send(encodePresence({ type: 'announce', link: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString() }));
      await until(() => closed, 10_000, 'relay closed the hammering stream');
      expect(got.at(-1)).toEqual({ type: 'error', message: 'too many announcements on one stream' });
    }
    const m = await announce(mia, relay);
    await until(() => latest(b).includes(mia.identity.id), 10_000, 'still serving');
    expect(latest(m)).toContain(ben.identity.id);
    const health = (await (await fetch(`${relay.http}/healthz`)).json()) as { status: string };
    expect(health.status).toBe('ok');
    b.handle.close();
    m.handle.close();
  });

  it('the circuit relay reserves slots only for announced link nodes', async () => {
    await expect(reservingNode(relay)).rejects.toThrow();
    const key = await generateKeyPair('Ed25519');
    const b = await announce(ben, relay, peerIdFromPrivateKey(key).toString());
    const node = await reservingNode(relay, key);
    try {
      expect(node.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit'))).toBe(true);
    } finally {
      await node.stop();
      b.handle.close();
    }
  });
});
