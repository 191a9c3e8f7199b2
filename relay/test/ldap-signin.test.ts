/**
 * Password sign-in through the school's LDAP directory, end to end: a real slapd, a real relay process whose config
 * names the directory, and a device that enrolls with user name and password and then connects.
 */
import { enroll } from '@schoolmesh/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERIC, SERVICE_DN, SERVICE_PASSWORD, SUFFIX, generateSchool, passwordOf, writeTrees } from '../../packages/directory/test/support/fixture.ts';
import { type Slapd, slapdAvailable, startSlapd } from '../../packages/directory/test/support/slapd.ts';
import { type RelayProcess, removeSetup, setupRelay, startRelay } from './support/relay-process.ts';

describe.skipIf(!slapdAvailable)('LDAP password sign-in at the relay', () => {
  let slapd: Slapd;
  let relay: RelayProcess;
  const school = generateSchool(7, 60);

  beforeAll(async () => {
    const trees = writeTrees(school);
    slapd = await startSlapd({
      suffix: SUFFIX,
      rootPassword: 'root-secret',
      ldif: trees.ldif,
      databaseConfig: ['access to attrs=userPassword by anonymous auth by * none', `access to * by dn.exact="${SERVICE_DN}" read by * none`].join('\n'),
    });
    relay = await startRelay(
      await setupRelay('Gymnasium mit LDAP', {
        directory: { url: slapd.url, allowPlaintext: true, bindDn: SERVICE_DN, bindPassword: SERVICE_PASSWORD, schoolYear: '2026/27', preset: { name: 'inetorgperson', base: GENERIC } },
      }),
    );
  });

  afterAll(async () => {
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
    await slapd?.stop();
  });

  it('certifies a device for the account the password proves, and refuses wrong passwords and injection', async () => {
    const info = (await (await fetch(`${relay.http}/api/school`)).json()) as { methods: string[] };
    expect(info.methods).toContain('ldap');
    const teacher = school.directory.people.find((p) => p.role === 'teacher')!;
    const { identity } = await enroll(relay.http, { method: 'ldap', username: teacher.id, password: passwordOf(teacher.id) });
    expect([identity.certificate.account, identity.certificate.role, identity.certificate.displayName]).toEqual([teacher.id, 'teacher', teacher.displayName]);
    await expect(enroll(relay.http, { method: 'ldap', username: teacher.id, password: 'falsch' })).rejects.toMatchObject({ code: 'wrong-credentials', status: 403 });
    await expect(enroll(relay.http, { method: 'ldap', username: '*)(uid=*', password: 'x' })).rejects.toMatchObject({ status: 403 });
    expect(relay.logs.some((l) => l.includes('sign-in refused') && l.includes('wrong-password'))).toBe(true);
    expect(relay.logs.join('\n')).not.toContain('falsch');
  });
});
