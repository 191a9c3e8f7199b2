/**
 * The group's history as members see it (`Engine.history`): every change of members, roles, devices, policy and name
 * that took effect, the same on every replica, and none that did not.
 */
import { defaultGroupPolicy } from '@schoolmesh/model';
import { describe, expect, it } from 'vitest';
import { eventually, link, testSchool } from '../../../test/support/school.ts';
import type { GroupEvent } from '../src/index.ts';

/** The events without ids and times, which the test cannot know in advance. */
const shape = (events: GroupEvent[]) => events.map(({ id: _id, time: _time, byDevice: _device, ...rest }) => rest);

describe('engine: group history', () => {
  it('lists who created, added, removed, promoted, renamed, changed the policy and added a further device, alike on every replica', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const ben = await s.engine(await s.device('ben', 'pupil'));
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    link(teacher, ben);
    await eventually(() => teacher.state(group)?.devices.has(ben.deviceId) === true);
    // Ben's second device (a laptop at home), approved by his first: the group sees it.
    const homeIdentity = await s.device('ben', 'pupil');
    const benHome = await s.engine(homeIdentity);
    link(teacher, benHome);
    expect(await ben.approveDevice(homeIdentity.certificate)).toBe(1);
    await eventually(() => teacher.state(group)?.devices.has(benHome.deviceId) === true);
    await teacher.addMember(group, s.ref('mia'), 'member');
    await teacher.setRole(group, s.ref('mia'), 'moderator');
    await teacher.rename(group, 'Klasse 7a (Schuljahr 26/27)');
    await teacher.setPolicy(group, { ...defaultGroupPolicy('class'), retentionDays: 7 });
    await teacher.removeMember(group, s.ref('mia'));
    await teacher.removeDevice(group, benHome.deviceId);

    const expected = [
      { by: s.ref('schmidt'), type: 'created', name: 'Klasse 7a' },
      { by: s.ref('ben'), type: 'device-added', account: s.ref('ben'), device: benHome.deviceId },
      { by: s.ref('schmidt'), type: 'added', account: s.ref('mia'), role: 'member' },
      { by: s.ref('schmidt'), type: 'role', account: s.ref('mia'), role: 'moderator' },
      { by: s.ref('schmidt'), type: 'renamed', name: 'Klasse 7a (Schuljahr 26/27)' },
      { by: s.ref('schmidt'), type: 'policy', changed: [{ field: 'retentionDays', value: 7 }] },
      { by: s.ref('schmidt'), type: 'removed', account: s.ref('mia') },
      { by: s.ref('schmidt'), type: 'device-removed', account: s.ref('ben'), device: benHome.deviceId },
    ];
    expect(shape(teacher.history(group))).toEqual(expected);
    // Ben's first device, which received the ops in its own order, shows the same.
    await eventually(() => ben.history(group).length === expected.length);
    expect(ben.history(group)).toEqual(teacher.history(group));
    expect(teacher.history('unknown')).toEqual([]);
  });

  it('leaves out what had no effect: an owner removed by a concurrent op added nobody', async () => {
    const s = await testSchool();
    const schmidt = await s.engine(await s.device('schmidt', 'teacher'));
    const weber = await s.engine(await s.device('weber', 'teacher'));
    const group = await schmidt.createGroup({ kind: 'club', name: 'AG Theater', members: [{ account: s.ref('weber'), role: 'owner' }] });
    const first = link(schmidt, weber);
    await eventually(() => weber.state(group)?.devices.has(weber.deviceId) === true && schmidt.state(group)?.devices.has(weber.deviceId) === true);
    first.close();
    // Apart: Frau Schmidt removes Frau Weber while Frau Weber adds Lukas.
    await schmidt.removeMember(group, s.ref('weber'));
    await weber.addMember(group, s.ref('lukas'), 'member');
    const added = weber.history(group).find((e) => e.type === 'added' && e.account === s.ref('lukas'));
    expect(added).toBeDefined();
    link(schmidt, weber);
    // Frau Schmidt's device gets the add (it is in the log, without effect); Frau Weber's learns of her removal.
    await eventually(() => schmidt.replica.log(group)!.has(added!.id) && weber.groups().some((g) => g.id === group && g.removed === true));
    for (const engine of [schmidt, weber]) {
      expect(engine.state(group)?.members.has(s.ref('lukas'))).toBe(false);
      expect(engine.history(group).some((e) => e.type === 'added' && e.account === s.ref('lukas'))).toBe(false);
      expect(shape(engine.history(group)).at(-1)).toEqual({ by: s.ref('schmidt'), type: 'removed', account: s.ref('weber') });
    }
  });
});
