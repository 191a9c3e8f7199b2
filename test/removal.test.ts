/**
 * A removed member's device learns of its removal through the real sync protocol: the relay (a Replica behind a
 * SyncSession, as in test/support/security.ts) answers the group the device still offers with the op that removed
 * it and the ops that op depends on, and nothing the group did afterwards.
 */
import { EngineError, type EngineEvent } from '@schoolmesh/engine';
import { bucketOf } from '@schoolmesh/model';
import { describe, expect, it } from 'vitest';
import { eventually, link, testSchool } from './support/school.ts';
import { classroom, openDevice, openEngine, openRelay, settle, syncWithRelay } from './support/security.ts';

describe('removed members learn of their removal', () => {
  it('the relay sends a removed device the op that removed it; its engine keeps the group read-only, says so, and learns nothing later', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const relay = await openRelay(s);
    const today = bucketOf(s.clock.now());
    await c.teacher.engine.post(c.group, { text: 'vorher' });
    for (const d of [c.teacher, c.ben, c.mia]) await syncWithRelay(s, relay, d);
    expect((await c.ben.engine.messages(c.group, today)).map((m) => m.text)).toContain('vorher');

    // Ben is offline while the teacher removes him, renames the class and writes on.
    await c.teacher.engine.removeMember(c.group, c.ben.ref);
    const removal = c.teacher.engine.state(c.group)!;
    await c.teacher.engine.rename(c.group, 'Klasse 7a (neu)');
    await c.teacher.engine.post(c.group, { text: 'nachher' });
    await syncWithRelay(s, relay, c.teacher);
    expect(relay.replica.state(c.group)?.name).toBe('Klasse 7a (neu)');

    const events: EngineEvent[] = [];
    c.ben.engine.on((e) => events.push(e));
    await syncWithRelay(s, relay, c.ben);

    expect(events).toContainEqual({ type: 'removed', group: c.group, by: c.teacher.ref });
    const state = c.ben.engine.state(c.group)!;
    expect(state.members.has(c.ben.ref)).toBe(false);
    expect(c.ben.engine.canRead(c.group)).toBe(false);
    // Up to the removal and not past it: the rename came after it.
    expect(state.name).toBe('Klasse 7a');
    expect(state.currentEpoch).not.toBe(removal.currentEpoch);
    expect(c.ben.engine.replica.heads(c.group)).not.toEqual(relay.replica.heads(c.group));
    // The group stays in the list, marked, its old messages readable until retention; writing is refused.
    expect(c.ben.engine.groups().find((g) => g.id === c.group)).toMatchObject({ removed: true, name: 'Klasse 7a' });
    expect((await c.ben.engine.messages(c.group, today)).map((m) => m.text)).toEqual(['vorher']);
    await expect(c.ben.engine.post(c.group, { text: 'hallo?' })).rejects.toBeInstanceOf(EngineError);

    // Told once: a second session sends nothing more, and no second event comes.
    await syncWithRelay(s, relay, c.ben);
    expect(events.filter((e) => e.type === 'removed')).toHaveLength(1);
    // A fresh engine on the same store knows it too; a member's does not mark the group.
    const reopened = await openEngine(s, c.ben.identity, c.ben.trust, c.ben.storage, []);
    expect(reopened.groups().find((g) => g.id === c.group)?.removed).toBe(true);
    expect(c.mia.engine.groups().find((g) => g.id === c.group)?.removed).toBeUndefined();
  });

  it('a removed device connected at that moment is told live, once, and gets nothing the group does afterwards', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const l = link(c.teacher.engine, c.ben.engine);
    // The session is past its handshake (so the removal cannot travel with it): a post made now arrives live.
    const today = bucketOf(s.clock.now());
    await c.teacher.engine.post(c.group, { text: 'live' });
    await eventually(async () => (await c.ben.engine.messages(c.group, today)).some((m) => m.text === 'live'));
    const events: EngineEvent[] = [];
    c.ben.engine.on((e) => events.push(e));
    await c.teacher.engine.removeMember(c.group, c.ben.ref);
    await eventually(() => events.some((e) => e.type === 'removed'));
    await c.teacher.engine.rename(c.group, 'Klasse 7a (neu)');
    await c.teacher.engine.post(c.group, { text: 'nachher' });
    await c.teacher.engine.idle();
    await settle(100);
    expect(events.filter((e) => e.type === 'removed')).toEqual([{ type: 'removed', group: c.group, by: c.teacher.ref }]);
    expect(c.ben.engine.state(c.group)?.name).toBe('Klasse 7a');
    expect(c.ben.engine.groups().find((g) => g.id === c.group)?.removed).toBe(true);
    l.close();
  });

  it('a group the device learned of in the middle of a session: its removal is told live too', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const l = link(c.teacher.engine, c.ben.engine);
    await eventually(() => c.ben.engine.canRead(c.group));
    // Created after the handshake: the device never listed it in its GROUPS.
    const club = await c.teacher.engine.createGroup({ kind: 'club', name: 'AG Fotografie', members: [{ account: c.ben.ref, role: 'member' }] });
    await eventually(() => c.ben.engine.canRead(club));
    const events: EngineEvent[] = [];
    c.ben.engine.on((e) => events.push(e));
    await c.teacher.engine.removeMember(club, c.ben.ref);
    await eventually(() => events.some((e) => e.type === 'removed'));
    expect(events.filter((e) => e.type === 'removed')).toEqual([{ type: 'removed', group: club, by: c.teacher.ref }]);
    expect(c.ben.engine.groups().find((g) => g.id === club)?.removed).toBe(true);
    l.close();
  });

  it('only a device that was removed gets the removal: a device of an account that never was a member gets nothing', async () => {
    const s = await testSchool();
    const c = await classroom(s);
    const relay = await openRelay(s);
    await syncWithRelay(s, relay, c.teacher);
    await c.teacher.engine.removeMember(c.group, c.ben.ref);
    await syncWithRelay(s, relay, c.teacher);
    const outsider = await openDevice(s, 'lena', 'pupil');
    const asPeer = (d: { id: string; ref: string }) => ({ kind: 'device' as const, id: d.id, account: d.ref, school: s.school.id });
    expect(relay.replica.removalFor(asPeer(outsider), c.group, [])).toEqual([]);
    expect(relay.replica.removalFor(asPeer(c.mia), c.group, [])).toEqual([]); // still a member: she syncs normally
    const forBen = relay.replica.removalFor(asPeer(c.ben), c.group, []);
    const removalOp = relay.replica.removalOf(c.group, c.ben.id, c.ben.ref)!;
    expect(removalOp.body).toEqual({ type: 'remove', account: c.ben.ref });
    expect(forBen.at(-1)).toEqual(removalOp.bytes);
    // What ben holds already is left out.
    expect(relay.replica.removalFor(asPeer(c.ben), c.group, c.ben.engine.replica.heads(c.group)).length).toBeLessThan(forBen.length);
  });
});
