/**
 * What the web app shows of people: group info (roles, partner-school badges, own devices) and the people of
 * "Neuer Chat" (policy, existing direct chats), computed from real engines of two partner schools linked directly.
 */
import { createSchool, enrollDevice } from '@schoolmesh/identity';
import { defaultSchoolPolicy } from '@schoolmesh/model';
import { describe, expect, it } from 'vitest';
import { eventually, link, testSchool } from '../../test/support/school.ts';
import { directPartner, directWith, groupInfo, people } from '../src/worker/people.ts';

describe('people and group info from the engine', () => {
  it('lists members with roles and a badge for the partner school; people with the policy applied', async () => {
    const partner = await createSchool('Realschule Süd', Date.now());
    const a = await testSchool('Gymnasium Nord', undefined, [partner]);
    const teacher = await a.engine(await enrollDevice(a.school, { account: 'weiss', role: 'teacher', now: a.clock.now(), displayName: 'Frau Weiß' }));
    const ben = await a.engine(await enrollDevice(a.school, { account: 'ben', role: 'pupil', now: a.clock.now(), displayName: 'Ben Öztürk' }));
    const ada = await a.engine(await enrollDevice(partner, { account: 'ada', role: 'pupil', now: a.clock.now(), displayName: 'Ada Yılmaz' }));
    const adaRef = `ada@${partner.id}`;
    const group = await teacher.createGroup({
      kind: 'club',
      name: 'Robotik-AG',
      members: [
        { account: a.ref('ben'), role: 'moderator' },
        { account: adaRef, role: 'member' },
      ],
    });
    for (const device of [ben, ada, ben]) {
      const l = link(teacher, device);
      await eventually(() => device.canRead(group) && device.state(group)!.devices.size === teacher.state(group)!.devices.size);
      await teacher.idle();
      await device.idle();
      l.close();
    }
    const partnerName = (school: string) => (school === a.school.id ? undefined : school === partner.id ? 'Realschule Süd' : '?');

    const info = groupInfo(ben, group, 'Robotik-AG', partnerName);
    expect(info).toMatchObject({ kind: 'club', retentionDays: 30, whoMayPost: 'members', myDevices: 1 });
    expect(info.members.map((m) => [m.name, m.role, m.groupRole, m.partnerSchool ?? '', m.me])).toEqual([
      ['Frau Weiß', 'teacher', 'owner', '', false],
      ['Ben Öztürk', 'pupil', 'moderator', '', true],
      ['Ada Yılmaz', 'pupil', 'member', 'Realschule Süd', false],
    ]);

    // Pupils may not write to pupils at this school: Ada is listed, but not to be messaged; the teacher is.
    const noPupilDms = { ...defaultSchoolPolicy, pupilDirectMessages: false };
    expect(people(ben, 'pupil', partnerName, noPupilDms).map((p) => [p.name, p.mayMessage, p.partnerSchool ?? ''])).toEqual([
      ['Ada Yılmaz', false, 'Realschule Süd'],
      ['Frau Weiß', true, ''],
    ]);
    expect(people(ben, 'pupil', partnerName).find((p) => p.name === 'Ada Yılmaz')?.mayMessage).toBe(true);

    // A direct chat is found again, and named for the other person.
    expect(directWith(ben, teacher.account)).toBeUndefined();
    const dm = await ben.createGroup({ kind: 'direct', name: 'x', members: [{ account: teacher.account, role: 'member' }] });
    expect(directWith(ben, teacher.account)).toBe(dm);
    expect(directPartner(ben, dm)).toBe(teacher.account);
    expect(directPartner(ben, group)).toBeUndefined();
    expect(people(ben, 'pupil', partnerName).find((p) => p.account === teacher.account)?.direct).toBe(dm);
    for (const e of [teacher, ben, ada]) await e.close();
  });

  it("lists the school's directory sync account of a directory group as its manager, after everyone else", async () => {
    const a = await testSchool();
    const sync = await a.engine(await enrollDevice(a.school, { account: 'schoolmesh-sync', role: 'admin', now: a.clock.now(), displayName: 'Schulverwaltung' }));
    const ben = await a.engine(await enrollDevice(a.school, { account: 'ben', role: 'pupil', now: a.clock.now(), displayName: 'Ben Öztürk' }));
    const group = await sync.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: a.ref('ben'), role: 'member' }], creatorRole: 'manager' });
    const l = link(sync, ben);
    await eventually(() => ben.canRead(group) && ben.state(group)!.devices.size === 2);
    const info = groupInfo(ben, group, 'Klasse 7a', () => undefined);
    expect(info.members.map((m) => [m.name, m.groupRole])).toEqual([
      ['Ben Öztürk', 'member'],
      ['Schulverwaltung', 'manager'],
    ]);
    l.close();
    for (const e of [sync, ben]) await e.close();
  });
});
