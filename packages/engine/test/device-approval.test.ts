/**
 * A further device of an account joins the account's groups only when one of its devices approves it
 * (`Engine.approveDevice`); it then gets the keys and reads what the account may read.
 */
import { MemoryStorage } from '@schoolmesh/storage';
import { describe, expect, it } from 'vitest';
import { eventually, link, outliving, testSchool } from '../../../test/support/school.ts';

describe('engine: approving a further device of the account', () => {
  it('lists the device in every group of the account, which then reads old and new messages; nothing without it', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const benIdentity = await s.device('ben', 'pupil');
    // Ben's laptop keeps its store across a restart (as IndexedDB outlives a closed tab).
    const benStore = outliving(new MemoryStorage());
    let ben = await s.engine(benIdentity, benStore);
    const klasse = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    const ag = await teacher.createGroup({ kind: 'club', name: 'AG Schach', members: [{ account: s.ref('ben'), role: 'member' }] });
    const other = await teacher.createGroup({ kind: 'club', name: 'AG Chor' });
    let benLink = link(teacher, ben);
    await eventually(() => ben.canRead(klasse) && ben.canRead(ag));
    await teacher.post(klasse, { text: 'Vor dem neuen Gerät' });

    const phoneIdentity = await s.device('ben', 'pupil');
    const phone = await s.engine(phoneIdentity);
    const phoneLink = link(teacher, phone);
    // Without approval: the phone knows the groups exist (its account is a member) but is not listed and reads nothing.
    await eventually(() => phone.state(klasse) !== undefined);
    await phone.idle();
    expect(phone.state(klasse)!.devices.has(phone.deviceId)).toBe(false);
    expect(phone.canRead(klasse)).toBe(false);

    expect(await ben.approveDevice(phoneIdentity.certificate)).toBe(2);
    await eventually(() => phone.canRead(klasse) && phone.canRead(ag), 20_000);
    expect(phone.state(other)).toBeUndefined();
    await eventually(async () => (await phone.messages(klasse)).some((m) => m.text === 'Vor dem neuen Gerät'));
    await phone.post(klasse, { text: 'Vom Handy' });
    await eventually(async () => (await teacher.messages(klasse)).some((m) => m.text === 'Vom Handy'));
    // A group created later gets both of Ben's devices (each lists the other it vouches for), whichever joins first.
    const later = await teacher.createGroup({ kind: 'club', name: 'AG Robotik', members: [{ account: s.ref('ben'), role: 'member' }] });
    await eventually(() => ben.canRead(later) && phone.canRead(later), 20_000);
    expect(teacher.state(later)!.devices.has(ben.deviceId) && teacher.state(later)!.devices.has(phone.deviceId)).toBe(true);
    // Also after the laptop restarted, with the phone offline: it remembers whom it vouches for.
    phoneLink.close();
    benLink.close();
    await ben.close();
    ben = await s.engine(benIdentity, benStore);
    benLink = link(teacher, ben);
    const theater = await teacher.createGroup({ kind: 'club', name: 'AG Theater', members: [{ account: s.ref('ben'), role: 'member' }] });
    await eventually(() => teacher.state(theater)?.devices.has(phone.deviceId) === true, 20_000);
    expect(teacher.state(theater)!.devices.has(ben.deviceId)).toBe(true);
    // Approving again changes nothing; a device of another account is refused.
    expect(await ben.approveDevice(phoneIdentity.certificate)).toBe(0);
    const mia = await s.device('mia', 'pupil');
    await expect(ben.approveDevice(mia.certificate)).rejects.toMatchObject({ code: 'forbidden' });
  });
});
