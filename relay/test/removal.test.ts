/**
 * A removed member's device learns of its removal from a real relay process (libp2p on loopback): it was offline
 * while the teacher removed it; at its next session the relay sends it the removing op and nothing later.
 */
import type { EngineEvent } from '@schoolmesh/engine';
import { epochIdOf } from '@schoolmesh/replica';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelayDevice, enrolledDevice, until } from './support/devices.ts';
import { type RelayProcess, removeSetup, setupRelay, startRelay } from './support/relay-process.ts';

describe('a removed member learns of its removal through the relay', () => {
  let relay: RelayProcess;
  let teacher: RelayDevice;
  let ben: RelayDevice;

  beforeAll(async () => {
    relay = await startRelay(await setupRelay('Gymnasium am See'));
    teacher = await enrolledDevice(relay, 'schmidt', 'teacher', 'Frau Schmidt');
    ben = await enrolledDevice(relay, 'ben', 'pupil', 'Ben');
  });

  afterAll(async () => {
    for (const d of [teacher, ben]) await d?.close();
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
  });

  it('the removed device gets the removal at its next session, keeps the old messages and learns no later op', async () => {
    const group = await teacher.engine.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: ben.ref, role: 'member' }] });
    await teacher.online();
    await ben.online();
    await until(() => !!ben.engine.state(group)?.currentEpoch && ben.engine.holdsKey(group, epochIdOf(ben.engine.state(group)!.currentEpoch!)), 20_000, 'ben holds the key');
    await (await teacher.engine.post(group, { text: 'vorher' })).acked;
    await until(async () => (await ben.engine.messages(group)).some((m) => m.text === 'vorher'), 20_000, 'ben sees the post');
    await ben.offline();

    await teacher.engine.removeMember(group, ben.ref);
    await teacher.engine.rename(group, 'Klasse 7a (neu)');
    await (await teacher.engine.post(group, { text: 'nachher' })).acked;

    const events: EngineEvent[] = [];
    ben.engine.on((e) => events.push(e));
    await ben.online();
    await until(() => events.some((e) => e.type === 'removed'), 20_000, 'ben is told of the removal');
    expect(events.find((e) => e.type === 'removed')).toEqual({ type: 'removed', group, by: teacher.ref });
    expect(ben.engine.groups().find((g) => g.id === group)).toMatchObject({ removed: true, name: 'Klasse 7a' });
    expect((await ben.engine.messages(group)).map((m) => m.text)).toEqual(['vorher']);
    expect(ben.engine.state(group)?.name).toBe('Klasse 7a');
  });
});
