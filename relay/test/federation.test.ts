/**
 * Federation between two real relay processes on loopback: a group spanning a class at school A and a class at
 * school B works end to end; the link going down and coming back converges; a partner removed from the config
 * gets nothing more.
 */
import { createServer } from 'node:net';
import { TrustStore } from '@schoolmesh/identity';
import { dialSync, libp2pPrivateKey, peerIdOfKey } from '@schoolmesh/net-libp2p';
import { createDeviceNode } from '@schoolmesh/net-libp2p/node';
import { Replica, epochIdOf } from '@schoolmesh/replica';
import { MemoryStorage } from '@schoolmesh/storage';
import { SyncSession } from '@schoolmesh/sync';
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelayDevice, enrolledDevice, until } from './support/devices.ts';
import { type RelayProcess, type RelaySetup, removeSetup, rewriteConfig, setupRelay, startRelay } from './support/relay-process.ts';

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

/** The device is listed in the group and holds the current epoch key (it can read and write). */
function holdsCurrentKey(d: RelayDevice, group: string): boolean {
  const epoch = d.engine.state(group)?.currentEpoch;
  return !!epoch && d.engine.canRead(group) && d.engine.holdsKey(group, epochIdOf(epoch));
}

const texts = async (d: RelayDevice, group: string) => (await d.engine.messages(group)).map((m) => m.text).sort();

describe('federation of two schools', () => {
  let setupA: RelaySetup;
  let setupB: RelaySetup;
  let relayA: RelayProcess;
  let relayB: RelayProcess;
  let teacherA: RelayDevice;
  let pupilA: RelayDevice;
  let teacherB: RelayDevice;
  let pupilB: RelayDevice;
  let group: string;

  beforeAll(async () => {
    setupA = await setupRelay('Gymnasium Nord', { tcpPort: await freePort(), httpPort: await freePort(), partnerRevocationMinutes: 0.02 });
    setupB = await setupRelay('Realschule Süd', { tcpPort: await freePort(), httpPort: await freePort(), partnerRevocationMinutes: 0.02 });
    await rewriteConfig(setupA, { federation: { partners: [partnerOf(setupB, 'Realschule Süd')] } });
    await rewriteConfig(setupB, { federation: { partners: [partnerOf(setupA, 'Gymnasium Nord')] } });
    [relayA, relayB] = await Promise.all([startRelay(setupA), startRelay(setupB)]);
    teacherA = await enrolledDevice(relayA, 'schmidt', 'teacher', 'Frau Schmidt');
    pupilA = await enrolledDevice(relayA, 'ben', 'pupil', 'Ben');
    teacherB = await enrolledDevice(relayB, 'yilmaz', 'teacher', 'Herr Yilmaz');
    pupilB = await enrolledDevice(relayB, 'lea', 'pupil', 'Lea');
  });

  afterAll(async () => {
    for (const d of [teacherA, pupilA, teacherB, pupilB]) await d?.close();
    for (const r of [relayA, relayB]) await r?.stop();
    for (const s of [setupA, setupB]) if (s) await removeSetup(s);
  });

  it('a group spanning a class at each school converges end to end', async () => {
    group = await teacherA.engine.createGroup({
      kind: 'custom',
      name: 'Projekt Klimaschutz 7a + 7c',
      members: [
        { account: pupilA.ref, role: 'member' },
        { account: teacherB.ref, role: 'moderator' },
        { account: pupilB.ref, role: 'member' },
      ],
    });
    await Promise.all([teacherA.online(), pupilA.online(), teacherB.online(), pupilB.online()]);
    for (const d of [pupilA, teacherB, pupilB]) await until(() => holdsCurrentKey(d, group), 30_000, `${d.account} holds the key`);
    await (await teacherA.engine.post(group, { text: 'Willkommen im gemeinsamen Projekt!' })).acked;
    await (await pupilB.engine.post(group, { text: 'Hallo aus der Realschule' })).acked;
    await (await teacherB.engine.post(group, { text: 'Treffen am Donnerstag?' })).acked;
    const expected = ['Hallo aus der Realschule', 'Treffen am Donnerstag?', 'Willkommen im gemeinsamen Projekt!'];
    for (const d of [teacherA, pupilA, teacherB, pupilB]) await until(async () => (await texts(d, group)).length === 3, 30_000, `${d.account} has 3`);
    for (const d of [teacherA, pupilA, teacherB, pupilB]) expect(await texts(d, group)).toEqual(expected);
    expect(await relayA.metrics()).toMatch(/schoolmesh_federation_links 1/);
  });

  it('converges after the link drops and returns', async () => {
    await relayB.stop();
    // While school B's relay is down, school A writes; school B's devices are cut off.
    await (await teacherA.engine.post(group, { text: 'Neue Aufgabe während der Störung' })).acked;
    await (await pupilA.engine.post(group, { text: 'Ich übernehme Teil 2' })).acked;
    relayB = await startRelay(setupB);
    await Promise.all([teacherB.online(relayB), pupilB.online(relayB)]);
    await (await pupilB.engine.post(group, { text: 'Wieder da!' })).acked;
    for (const d of [teacherA, pupilA, teacherB, pupilB]) await until(async () => (await texts(d, group)).length === 6, 30_000, `${d.account} has 6`);
    const all = await Promise.all([teacherA, pupilA, teacherB, pupilB].map((d) => texts(d, group)));
    for (const t of all) expect(t).toEqual(all[0]);
  });

  it("a device the partner school revokes is dropped here too", async () => {
    // A pupil of school B with a device of its own, connected straight to school A's relay (allowed: a device of a
    // partner school, for the groups it shares).
    const extra = await enrolledDevice(relayB, 'lea', 'pupil', 'Lea (Tablet)');
    try {
      await extra.online(relayA);
      expect(extra.connection?.link.state).toBe('connected');
      await relayB.revoke([extra.identity.id]);
      // Relay A fetches B's signed list (every partnerRevocationMinutes) and drops the session.
      await until(() => extra.connection?.link.state !== 'connected', 30_000, 'relay A drops the revoked partner device');
      await until(() => relayA.logs.some((l) => l.includes('dropping session') && l.includes(extra.identity.id)), 30_000, 'relay A logs the drop');
    } finally {
      await extra.close();
    }
  });

  it('a partner removed from the config gets nothing more (applied by SIGHUP, no restart)', async () => {
    await rewriteConfig(setupA, { federation: { partners: [] } });
    // A config that does not validate is refused and changes nothing.
    const valid = setupA.config;
    await rewriteConfig(setupA, { recheckSeconds: -1 });
    expect(await relayA.reload()).toMatch(/config reload refused/);
    const partnersOf = async () => ((await (await fetch(`${relayA.http}/api/school`)).json()) as { partners: unknown[] }).partners.length;
    expect(await partnersOf()).toBe(1);
    await rewriteConfig(setupA, { ...valid });
    expect(await relayA.reload()).toMatch(/"removed":1/);
    expect(await partnersOf()).toBe(0);
    await until(async () => /schoolmesh_federation_links 0/.test(await relayA.metrics()), 10_000, 'the link to B is gone');
    // Whichever side used to dial, relay B's authority is refused by A now: try it explicitly, as relay B would.
    const node = await createDeviceNode({ privateKey: await libp2pPrivateKey(setupB.keys.authority.seed), loopbackOnly: true });
    try {
      const trust = new TrustStore(Date.now);
      trust.addSchool(setupA.keys.rootPublicKey);
      trust.addSchool(setupB.keys.rootPublicKey);
      const opened = await dialSync(node, relayA.info.relay.tcp.map((a) => multiaddr(a)));
      const session = new SyncSession({
        channel: opened.channel,
        replica: await Replica.open({ storage: new MemoryStorage(), trust, clock: Date.now }),
        credential: { kind: 'authority', bytes: setupB.keys.authorityCert.bytes, sign: (m) => setupB.keys.authority.sign(m) },
        verifier: { verify: async () => { throw new Error('not needed'); } },
      });
      await expect(session.start()).rejects.toThrow();
    } finally {
      await node.stop();
    }
    await until(() => relayA.logs.some((l) => l.includes('session refused')), 30_000, 'relay A refuses relay B');
    await (await teacherA.engine.post(group, { text: 'Nur noch für Schule A' })).acked;
    await until(async () => (await texts(pupilA, group)).includes('Nur noch für Schule A'), 20_000, 'pupil A sees it');
    // Give a would-be leak the time a normal delivery takes (a few seconds above), then check it never came.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await texts(pupilB, group)).not.toContain('Nur noch für Schule A');
    expect(await texts(teacherB, group)).not.toContain('Nur noch für Schule A');
    expect(await relayA.metrics()).toMatch(/schoolmesh_federation_links 0/);
  });
});
