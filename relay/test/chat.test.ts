/**
 * Devices chat through a real relay process over libp2p (TCP, Noise, yamux) on loopback: live, and a device that
 * was offline catches up to exactly what the live device saw.
 */
import { epochIdOf } from '@schoolmesh/replica';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelayDevice, enrolledDevice, until } from './support/devices.ts';
import { type RelayProcess, removeSetup, setupRelay, startRelay } from './support/relay-process.ts';

describe('two devices chat through a relay', () => {
  let relay: RelayProcess;
  let teacher: RelayDevice;
  let ben: RelayDevice;
  let mia: RelayDevice;
  let group: string;

  beforeAll(async () => {
    relay = await startRelay(await setupRelay('Gymnasium am See'));
    teacher = await enrolledDevice(relay, 'schmidt', 'teacher', 'Frau Schmidt');
    ben = await enrolledDevice(relay, 'ben', 'pupil', 'Ben');
    mia = await enrolledDevice(relay, 'mia', 'pupil', 'Mia');
    group = await teacher.engine.createGroup({
      kind: 'class',
      name: 'Klasse 7a',
      members: [
        { account: ben.ref, role: 'member' },
        { account: mia.ref, role: 'member' },
      ],
    });
    await teacher.online();
    await ben.online();
  });

  afterAll(async () => {
    for (const d of [teacher, ben, mia]) await d?.close();
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
  });

  it('delivers live, and an offline device catches up to the same messages', async () => {
    // Ben's device joins the group by itself and gets the key from the teacher's device, all through the relay.
    await until(() => !!ben.engine.state(group)?.currentEpoch && ben.engine.holdsKey(group, epochIdOf(ben.engine.state(group)!.currentEpoch!)), 20_000, 'ben holds the key');
    const first = await teacher.engine.post(group, { text: 'Guten Morgen, 7a!' });
    await first.acked;
    await until(async () => (await ben.engine.messages(group)).some((m) => m.text === 'Guten Morgen, 7a!'), 20_000, 'ben sees the post');
    const reply = await ben.engine.post(group, { text: 'Morgen Frau Schmidt' });
    await reply.acked;
    await until(async () => (await teacher.engine.messages(group)).length === 2, 20_000, 'teacher sees the reply');
    for (let i = 0; i < 20; i++) await (await teacher.engine.post(group, { text: `Hausaufgabe ${i + 1}` })).acked;
    await until(async () => (await ben.engine.messages(group)).length === 22, 20_000, 'ben has 22');

    // Mia was offline for all of it; she comes back over WebSockets, as a browser does.
    await mia.online(relay, 'ws');
    await until(() => mia.engine.canRead(group), 20_000, 'mia can read');
    await until(async () => (await mia.engine.messages(group)).length === 22, 20_000, 'mia caught up');
    const live = (await ben.engine.messages(group)).map((m) => [m.key, m.author, m.text]);
    const caughtUp = (await mia.engine.messages(group)).map((m) => [m.key, m.author, m.text]);
    expect(caughtUp).toEqual(live);
    // And live again, from the WebSocket device to the TCP ones.
    await (await mia.engine.post(group, { text: 'Bin wieder da' })).acked;
    await until(async () => (await teacher.engine.messages(group)).some((m) => m.text === 'Bin wieder da'), 20_000, 'teacher sees mia');
    expect(await relay.metrics()).toMatch(/schoolmesh_entries_stored_total \d+/);
  });
});
