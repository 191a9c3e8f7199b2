/**
 * Device certificate renewal in the engine: a device whose certificate is renewed lists the new one in its groups,
 * so what it writes after the old certificate's end is accepted by the other members; without the renewal it would
 * be refused.
 */
import { issueDeviceCertificate, deviceIdentity, renewalDue } from '@schoolmesh/identity';
import { describe, expect, it } from 'vitest';
import { DAY, eventually, link, testSchool } from '../../../test/support/school.ts';

describe('engine: certificate renewal', () => {
  it('a renewed device keeps writing after its old certificate ended; an unrenewed one cannot', async () => {
    const s = await testSchool();
    const teacherId = await s.device('schmidt', 'teacher');
    // Ben's and Mia's devices hold certificates valid for 3 days from now.
    const ben = await s.device('ben', 'pupil');
    const benShort = deviceIdentity(ben.signing, ben.agreement, await issueDeviceCertificate(s.school.authority, s.school.authorityCert, {
      account: 'ben', displayName: 'Ben', role: 'pupil', deviceKey: ben.signing.publicKey, agreementKey: ben.agreement.publicKey,
      notBefore: s.clock.now() - DAY, notAfter: s.clock.now() + 3 * DAY,
    }));
    const mia = await s.device('mia', 'pupil');
    const miaShort = deviceIdentity(mia.signing, mia.agreement, await issueDeviceCertificate(s.school.authority, s.school.authorityCert, {
      account: 'mia', displayName: 'Mia', role: 'pupil', deviceKey: mia.signing.publicKey, agreementKey: mia.agreement.publicKey,
      notBefore: s.clock.now() - DAY, notAfter: s.clock.now() + 3 * DAY,
    }));
    const teacher = await s.engine(teacherId);
    const benEngine = await s.engine(benShort);
    const miaEngine = await s.engine(miaShort);
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }, { account: s.ref('mia'), role: 'member' }] });
    const links = [link(teacher, benEngine), link(teacher, miaEngine)];
    await eventually(() => benEngine.canRead(group) && miaEngine.canRead(group));

    // Day 2: Ben's certificate is due (less than a third of its validity left); the school renews it: same keys,
    // starting where the old one started.
    s.clock.advance(2 * DAY);
    expect(renewalDue(benShort.certificate, s.clock.now())).toBe(true);
    const renewed = deviceIdentity(ben.signing, ben.agreement, await issueDeviceCertificate(s.school.authority, s.school.authorityCert, {
      account: 'ben', displayName: 'Ben', role: 'pupil', deviceKey: ben.signing.publicKey, agreementKey: ben.agreement.publicKey,
      notBefore: benShort.certificate.notBefore, notAfter: s.clock.now() + 30 * DAY,
    }));
    expect(await benEngine.renewIdentity(renewed)).toBe(1);
    expect(benEngine.identity.certificate.notAfter).toBe(renewed.certificate.notAfter);
    await eventually(() => teacher.state(group)?.devices.get(benEngine.deviceId)?.certificate.notAfter === renewed.certificate.notAfter);

    // Day 5: both old certificates have ended. Ben's posts are accepted; Mia's (not renewed) are refused by the others.
    s.clock.advance(3 * DAY);
    // (The teacher may rotate the key when it sees Mia's certificate end; Ben posts once he holds the new key.)
    await eventually(() => benEngine.post(group, { text: 'Nach der Verlängerung' }).then(() => true, () => false));
    await miaEngine.post(group, { text: 'Mit abgelaufenem Zertifikat' }).catch(() => {});
    await eventually(async () => (await teacher.messages(group)).some((m) => m.text === 'Nach der Verlängerung'));
    // Give Mia's entry the time Ben's took, then check it never arrived.
    await new Promise((r) => setTimeout(r, 200));
    expect((await teacher.messages(group)).map((m) => m.text)).not.toContain('Mit abgelaufenem Zertifikat');
    for (const l of links) l.close();
  });

  it('refuses an identity with other keys or another account', async () => {
    const s = await testSchool();
    const ben = await s.engine(await s.device('ben', 'pupil'));
    await expect(ben.renewIdentity(await s.device('ben', 'pupil'))).rejects.toThrow(/keep the device keys/);
  });
});
