import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DnError,
  FailureLimiter,
  LdapConfigError,
  dnKey,
  escapeDnValue,
  escapeFilterValue,
  formatDn,
  globMatch,
  isLocked,
  isUnder,
  parseDn,
  resolveLdapConfig,
} from '../src/index.ts';

describe('RFC 4515 filter values', () => {
  it('escapes the filter metacharacters and NUL, keeps UTF-8', () => {
    expect(escapeFilterValue('*)(uid=*')).toBe('\\2a\\29\\28uid=\\2a');
    expect(escapeFilterValue('admin)(|(uid=*')).toBe('admin\\29\\28|\\28uid=\\2a');
    expect(escapeFilterValue('a\\b\0c')).toBe('a\\5cb\\00c');
    expect(escapeFilterValue('Jörg Groß')).toBe('Jörg Groß');
  });
});

describe('RFC 4514 distinguished names', () => {
  it('escapes special characters, leading # and spaces, trailing spaces', () => {
    expect(escapeDnValue('Müller, Jörg')).toBe('Müller\\, Jörg');
    expect(escapeDnValue('Groß+Klein')).toBe('Groß\\+Klein');
    expect(escapeDnValue("O'Brien")).toBe("O'Brien");
    expect(escapeDnValue('#1 "a";<b>=c\\')).toBe('\\#1 \\"a\\"\\;\\<b\\>\\=c\\\\');
    expect(escapeDnValue(' lead and trail ')).toBe('\\ lead and trail\\ ');
    expect(escapeDnValue('nul\0')).toBe('nul\\00');
  });

  it('parses escapes, hex pairs (also UTF-8 bytes), multi-valued RDNs, spaces around separators', () => {
    expect(parseDn('cn=M\\c3\\bcller\\2C J\\C3\\B6rg + uid=mj , ou=people,DC=schule;dc=test')).toEqual([
      [
        { type: 'cn', value: 'Müller, Jörg' },
        { type: 'uid', value: 'mj' },
      ],
      [{ type: 'ou', value: 'people' }],
      [{ type: 'DC', value: 'schule' }],
      [{ type: 'dc', value: 'test' }],
    ]);
    expect(parseDn('')).toEqual([]);
    expect(parseDn('1.3.6.1.4.1.1466.0=#04024869,cn=x')[0]![0]).toEqual({ type: '1.3.6.1.4.1.1466.0', value: '#04024869' });
    expect(parseDn('cn=\\ x\\ ')[0]![0]!.value).toBe(' x ');
  });

  it('refuses malformed DNs with a DnError', () => {
    for (const bad of ['cn', 'cn=a,', '=a', 'cn=a"b', 'cn=a\\', 'cn=a\\zz', 'c n=a', 'cn=\\ff\\fe', 'cn=#0']) expect(() => parseDn(bad), bad).toThrow(DnError);
  });

  it('gives one key for every spelling of the same DN', () => {
    const a = 'cn=Müller\\, Jörg,ou=People,dc=schule,dc=test';
    expect(dnKey('CN=M\\C3\\BCller\\2c J\\c3\\b6rg, OU=people, DC=Schule, DC=Test')).toBe(dnKey(a));
    expect(dnKey('cn=Mu\u0308ller\\, Jo\u0308rg,ou=people,dc=schule,dc=test')).toBe(dnKey(a));
    expect(dnKey('uid=x+cn=y,dc=t')).toBe(dnKey('cn=y+uid=x,dc=t'));
    expect(dnKey('cn=Groß\\+Klein,dc=t')).not.toBe(dnKey('cn=Groß+cn=Klein,dc=t'));
    expect(isUnder('cn=a,ou=People,dc=t', 'ou=people,DC=t')).toBe(true);
    expect(isUnder('cn=a\\,ou=people,dc=t', 'ou=people,dc=t')).toBe(false);
    expect(isUnder('cn=a,dc=t', '')).toBe(true);
  });

  it('escape then parse gives back any value (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), (value) => {
        const dn = formatDn([[{ type: 'cn', value }], [{ type: 'dc', value: 'test' }]]);
        expect(parseDn(dn)[0]![0]!.value).toBe(value);
      }),
      { numRuns: 500, seed: 4514 },
    );
  });
});

describe('mapping helpers', () => {
  it('globs match case-insensitively, * for anything, everything else literally', () => {
    expect(globMatch('student:school:*', 'Student:School:gym1')).toBe(true);
    expect(globMatch('schüler*', 'SCHÜLERIN')).toBe(true);
    expect(globMatch('a.b', 'axb')).toBe(false);
    expect(globMatch('teacher', 'teacher_and_staff')).toBe(false);
  });

  it('lock rules: presence, values, pattern, AD bit, expiries', () => {
    const now = Date.UTC(2026, 8, 1);
    const e = (attrs: Record<string, string | string[]>) => ({ dn: 'cn=x', ...attrs });
    expect(isLocked(e({ pwdAccountLockedTime: '000001010000Z' }), [{ attribute: 'pwdAccountLockedTime', present: true }], now)).toBe(true);
    expect(isLocked(e({}), [{ attribute: 'pwdAccountLockedTime', present: true }], now)).toBe(false);
    expect(isLocked(e({ sophomorixStatus: 'l' }), [{ attribute: 'sophomorixStatus', values: ['L', 'D'] }], now)).toBe(true);
    expect(isLocked(e({ sophomorixStatus: 'U' }), [{ attribute: 'sophomorixStatus', values: ['L', 'D'] }], now)).toBe(false);
    expect(isLocked(e({ sambaAcctFlags: '[UD         ]' }), [{ attribute: 'sambaAcctFlags', pattern: 'D' }], now)).toBe(true);
    expect(isLocked(e({ userAccountControl: '514' }), [{ attribute: 'userAccountControl', bitmask: 2 }], now)).toBe(true);
    expect(isLocked(e({ userAccountControl: '512' }), [{ attribute: 'userAccountControl', bitmask: 2 }], now)).toBe(false);
    const days = [{ attribute: 'shadowExpire', expires: 'days' as const }];
    expect(isLocked(e({ shadowExpire: '1' }), days, now)).toBe(true);
    expect(isLocked(e({ shadowExpire: '-1' }), days, now)).toBe(false);
    expect(isLocked(e({ shadowExpire: String(Math.floor(now / 86_400_000) + 10) }), days, now)).toBe(false);
    const ft = [{ attribute: 'accountExpires', expires: 'filetime' as const }];
    expect(isLocked(e({ accountExpires: '9223372036854775807' }), ft, now)).toBe(false);
    expect(isLocked(e({ accountExpires: '0' }), ft, now)).toBe(false);
    expect(isLocked(e({ accountExpires: String((BigInt(now) - 1000n + 11_644_473_600_000n) * 10_000n) }), ft, now)).toBe(true);
    const gt = [{ attribute: 'x', expires: 'generalized' as const }];
    expect(isLocked(e({ x: '20260801000000Z' }), gt, now)).toBe(true);
    expect(isLocked(e({ x: '20261001000000Z' }), gt, now)).toBe(false);
  });

  it('the failure limiter blocks after max failures, per key, until the window ends, and stays bounded', () => {
    let t = 0;
    const l = new FailureLimiter(3, 1000, 100, () => t);
    for (let i = 0; i < 3; i++) {
      expect(l.blockedFor('a')).toBe(0);
      l.fail('a');
    }
    expect(l.blockedFor('a')).toBe(1000);
    expect(l.blockedFor('b')).toBe(0);
    t = 999;
    expect(l.blockedFor('a')).toBe(1);
    t = 1000;
    expect(l.blockedFor('a')).toBe(0);
    for (let i = 0; i < 1000; i++) l.fail(`k${i}`);
    expect(l.size).toBe(100);
  });
});

describe('LDAP configuration', () => {
  const conn = { url: 'ldaps://ldap.schule.de', bindDn: 'cn=sync,dc=schule,dc=de', bindPassword: 'geheim' };

  it('resolves a preset with overrides; null switches a section off', () => {
    const c = resolveLdapConfig({ ...conn, preset: { name: 'inetorgperson', base: 'dc=schule,dc=de' }, people: { login: 'mail' }, clubs: null });
    expect(c.people).toMatchObject({ base: 'ou=people,dc=schule,dc=de', id: 'uid', login: 'mail', scope: 'sub' });
    expect(c.classes!.leaders).toEqual([{ attribute: 'owner', kind: 'dn' }]);
    expect(c.clubs).toBeUndefined();
    expect(c.pageSize).toBe(250);
    expect(c.login.maxFailuresPerUser).toBe(5);
    const lmn = resolveLdapConfig({ ...conn, preset: { name: 'linuxmuster', base: 'OU=SCHOOLS,DC=linuxmuster,DC=lan' } });
    expect(lmn.people.base).toBe('OU=default-school,OU=SCHOOLS,DC=linuxmuster,DC=lan');
    expect(lmn.clubs!.filter).toBe('(&(objectClass=group)(sophomorixType=project)(cn=p_ag_*))');
    const ucs = resolveLdapConfig({ ...conn, preset: { name: 'ucsschool', base: 'dc=ucs,dc=test', school: 'gym1' } });
    expect(ucs.people.role!.map[0]).toEqual(['student:school:gym1', 'pupil']);
    expect(resolveLdapConfig(c)).toEqual(c);
  });

  it('refuses clear-text passwords, unknown fields and a missing role mapping', () => {
    const p = { preset: { name: 'inetorgperson', base: 'dc=t' } };
    expect(() => resolveLdapConfig({ ...conn, ...p, url: 'ldap://ldap.schule.de' })).toThrow(/clear text/);
    expect(resolveLdapConfig({ ...conn, ...p, url: 'ldap://ldap.schule.de', startTls: true }).startTls).toBe(true);
    expect(() => resolveLdapConfig({ ...conn, ...p, bindPasword: 'x' })).toThrow(LdapConfigError);
    expect(() => resolveLdapConfig({ ...conn, people: { base: 'dc=t' } })).toThrow(/people.role/);
    expect(() => resolveLdapConfig({ ...conn, ...p, url: 'http://x' })).toThrow(LdapConfigError);
    expect(() => resolveLdapConfig({ ...conn, ...p, people: { locked: [{ attribute: 'x', pattern: '(' }] } })).toThrow(/regular expression/);
  });
});
