/** Unit tests of the relay's small parts: config validation, enrollment codes, keys on disk, rate limits. */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateAgreementKeyPair, generateSigningKeyPair } from '@schoolmesh/crypto';
import { TrustStore, deviceIdOf } from '@schoolmesh/identity';
import { MemoryStorage } from '@schoolmesh/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.ts';
import { Enrollment, EnrollmentError, newCode, normalizeCode } from '../src/enrollment.ts';
import { KeystoreError, initSchool, loadRelayKeys } from '../src/keystore.ts';
import { DeviceRateLimiter } from '../src/rate-limit.ts';

describe('config', () => {
  it('fills defaults and resolves the data directory against the config file', () => {
    const c = parseConfig({ dataDir: 'data' }, {}, '/etc/schoolmesh');
    expect(c.dataDir).toBe('/etc/schoolmesh/data');
    expect(c.httpPort).toBe(8787);
    expect(c.limits.maxConnections).toBeGreaterThanOrEqual(2_000);
    expect(c.limits.inboundConnectionsPerHostPerSecond).toBeGreaterThan(5);
    expect(c.store.fsync).toBe(true);
  });

  it('applies environment overrides', () => {
    const c = parseConfig({ dataDir: '/d' }, { PORT: '9000', SCHOOLMESH_HOST: '0.0.0.0', SCHOOLMESH_LOG_LEVEL: 'debug' });
    expect([c.httpPort, c.host, c.log.level]).toEqual([9000, '0.0.0.0', 'debug']);
  });

  it('lists every problem with its path', () => {
    let error: unknown;
    try {
      parseConfig({ dataDir: '', httpPort: 'x', federation: { partners: [{ name: 'B', root: 'short', addrs: [] }] }, typo: 1 }, { PORT: undefined });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const part of ['dataDir', 'httpPort', 'federation.partners.0.root', 'federation.partners.0.addrs', 'typo']) expect(message).toContain(part);
  });

  it('refuses a bad PORT', () => {
    expect(() => parseConfig({ dataDir: '/d' }, { PORT: '99999' })).toThrow(/PORT=99999/);
  });
});

describe('enrollment codes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'schoolmesh-units-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('are 15 unambiguous symbols in three groups, normalized from what people type', () => {
    const code = newCode();
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/);
    expect(normalizeCode(` ${code.toLowerCase()} `)).toBe(code.replace(/-/g, ''));
    expect(normalizeCode('o0-il')).toBe('0011');
  });

  it('certify a device once, expire, and revoke into the trust store', async () => {
    let now = Date.UTC(2026, 10, 23, 9);
    const keys = await initSchool(join(dir, 'school'), 'Grundschule Mitte', now);
    const trust = new TrustStore(() => now);
    trust.addSchool(keys.rootPublicKey, keys.schoolName);
    const storage = new MemoryStorage();
    const enrollment = await Enrollment.open(storage, keys, trust, { codeDays: 14, deviceCertDays: 30, clock: () => now });
    const { code } = await enrollment.issueCode({ account: 'ben', displayName: 'Ben', role: 'pupil' });
    const device = { deviceKey: (await generateSigningKeyPair()).publicKey, agreementKey: (await generateAgreementKeyPair()).publicKey };
    const cert = await enrollment.redeemCode(code.toLowerCase(), device);
    expect([cert.account, cert.role, cert.school]).toEqual(['ben', 'pupil', keys.schoolId]);
    expect((await trust.verifyDevice(cert)).accountRef).toBe(`ben@${keys.schoolId}`);
    await expect(enrollment.redeemCode(code, device)).rejects.toMatchObject({ code: 'unknown-code' });

    const late = await enrollment.issueCode({ account: 'mia', displayName: 'Mia', role: 'pupil' });
    now += 15 * 24 * 3600_000;
    await expect(enrollment.redeemCode(late.code, device)).rejects.toMatchObject({ code: 'expired-code' });
    await expect(enrollment.redeemCode('nonsense', device)).rejects.toBeInstanceOf(EnrollmentError);
    await expect(enrollment.issueCode({ account: 'ben', displayName: 'Ben', role: 'king' as never })).rejects.toMatchObject({ code: 'bad-request' });

    now -= 15 * 24 * 3600_000;
    await enrollment.revoke([deviceIdOf(cert.deviceKey)]);
    await expect(trust.verifyDevice(cert)).rejects.toMatchObject({ code: 'revoked' });
    // The list survives a restart of the relay.
    const trust2 = new TrustStore(() => now);
    trust2.addSchool(keys.rootPublicKey, keys.schoolName);
    await Enrollment.open(storage, keys, trust2, { codeDays: 14, deviceCertDays: 30, clock: () => now });
    await expect(trust2.verifyDevice(cert)).rejects.toMatchObject({ code: 'revoked' });
  });

  it('password sign-in goes through a registered authenticator', async () => {
    const now = Date.UTC(2026, 10, 23, 9);
    const keys = await initSchool(join(dir, 'school-ldap'), 'Gymnasium Ost', now);
    const trust = new TrustStore(() => now);
    trust.addSchool(keys.rootPublicKey);
    const enrollment = await Enrollment.open(new MemoryStorage(), keys, trust, { codeDays: 14, deviceCertDays: 30, clock: () => now });
    enrollment.addAuthenticator({
      name: 'ldap',
      authenticate: async (u, p) => (u === 'lehrer1' && p === 'geheim' ? { account: 'lehrer1', displayName: 'Frau Ost', role: 'teacher' } : undefined),
    });
    const device = { deviceKey: (await generateSigningKeyPair()).publicKey, agreementKey: (await generateAgreementKeyPair()).publicKey };
    expect((await enrollment.redeemPassword('ldap', 'lehrer1', 'geheim', device)).role).toBe('teacher');
    await expect(enrollment.redeemPassword('ldap', 'lehrer1', 'falsch', device)).rejects.toMatchObject({ code: 'wrong-credentials' });
    await expect(enrollment.redeemPassword('kerberos', 'x', 'y', device)).rejects.toMatchObject({ code: 'bad-request' });
  });
});

describe('keystore', () => {
  it('writes secret keys owner-only, refuses to overwrite a school, and loads what it wrote', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'schoolmesh-keys-'));
    try {
      const keys = await initSchool(dir, 'Oberschule West');
      expect((await stat(join(dir, 'keys', 'authority.key'))).mode & 0o077).toBe(0);
      expect((await stat(join(dir, 'keys', 'school-root.key'))).mode & 0o077).toBe(0);
      await expect(initSchool(dir, 'Oberschule West')).rejects.toBeInstanceOf(KeystoreError);
      const loaded = await loadRelayKeys(dir);
      expect(loaded.schoolId).toBe(keys.schoolId);
      await expect(loadRelayKeys(join(dir, 'nothing'))).rejects.toThrow(/schoolmesh-relay init/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('per-device rate limits', () => {
  it('allow a burst, then make the device wait, and refuse what would wait too long', async () => {
    let now = 0;
    const limiter = new DeviceRateLimiter({ entries: 60, bytes: 60_000 }, () => now, 5_000);
    expect(await limiter.take('a', 60, 1000)).toBe(true);
    expect(limiter.waitFor('a', 1, 10)).toBe(1000);
    expect(limiter.waitFor('b', 1, 10)).toBe(0);
    expect(await limiter.take('a', 30, 10)).toBe(false);
    now += 30_000;
    expect(await limiter.take('a', 30, 10)).toBe(true);
    expect(limiter.waitFor('a', 61, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(limiter.waitFor('a', 1, 60_001)).toBe(Number.POSITIVE_INFINITY);
  });

  it('a reload that raises a limit applies at once, also to a spent bucket; one that lowers it caps the bucket', async () => {
    const now = 0;
    const limiter = new DeviceRateLimiter({ entries: 10, bytes: 1_000 }, () => now, 0);
    expect(await limiter.take('a', 10, 1_000)).toBe(true);
    expect(await limiter.take('a', 1, 1)).toBe(false);
    limiter.setLimits({ entries: 20, bytes: 5_000 });
    expect(limiter.waitFor('a', 10, 4_000)).toBe(0);
    expect(await limiter.take('a', 10, 4_000)).toBe(true);
    expect(await limiter.take('a', 1, 1)).toBe(false);
    limiter.setLimits({ entries: 5, bytes: 100 });
    expect(limiter.waitFor('b', 5, 100)).toBe(0);
    expect(limiter.waitFor('b', 5, 101)).toBe(Number.POSITIVE_INFINITY);
  });
});
