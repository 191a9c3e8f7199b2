/**
 * The sync account's device identity on the relay's box (relay/src/sync-device.ts): created once, kept, and renewed
 * with the same keys when the operator renews the relay's authority certificate, so the device keeps managing its
 * groups (the sync host lists the new certificate in each: Engine.renewIdentity).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, ManualClock } from '@schoolmesh/engine';
import { TrustStore } from '@schoolmesh/identity';
import { MemoryStorage } from '@schoolmesh/storage';
import { afterAll, describe, expect, it } from 'vitest';
import { initSchool, loadRelayKeys, renewAuthority } from '../src/keystore.ts';
import { outliving } from '../../test/support/school.ts';
import { loadOrCreateSyncDevice } from '../src/sync-device.ts';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2026, 8, 1, 8);
const account = { account: 'schoolmesh-sync', displayName: 'Schulverwaltung' };

describe('the sync device identity', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('is created once, kept, and renewed with the same keys after the authority certificate was renewed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'schoolmesh-sync-device-'));
    dirs.push(dir);
    const keys = await initSchool(dir, 'Gesamtschule Nord', T0);
    const first = await loadOrCreateSyncDevice(dir, keys, account, T0);
    expect(first).toMatchObject({ created: true, renewed: false });
    expect(first.identity.certificate.notAfter).toBe(keys.authorityCert.notAfter);
    const again = await loadOrCreateSyncDevice(dir, keys, account, T0 + DAY);
    expect(again).toMatchObject({ created: false, renewed: false });
    expect(again.identity.id).toBe(first.identity.id);

    // Ten months later the operator renews the authority certificate with the school's root key.
    const later = T0 + 300 * DAY;
    await renewAuthority(dir, join(dir, 'keys', 'school-root.key'), later);
    const renewedKeys = await loadRelayKeys(dir);
    expect(renewedKeys.authorityCert.notAfter).toBeGreaterThan(keys.authorityCert.notAfter);
    const renewed = await loadOrCreateSyncDevice(dir, renewedKeys, account, later);
    expect(renewed).toMatchObject({ created: false, renewed: true });
    expect(renewed.identity.id).toBe(first.identity.id);
    expect(renewed.identity.certificate).toMatchObject({ account: account.account, role: 'admin', notBefore: first.identity.certificate.notBefore, notAfter: renewedKeys.authorityCert.notAfter });
    // It verifies against the school's root, and the file now holds it.
    const trust = new TrustStore(() => later);
    trust.addSchool(renewedKeys.rootPublicKey, renewedKeys.schoolName);
    await expect(trust.verifyDevice(renewed.identity.certificate)).resolves.toBeDefined();
    expect(await loadOrCreateSyncDevice(dir, renewedKeys, account, later + DAY)).toMatchObject({ created: false, renewed: false });

    // The sync host's step: the renewed certificate is listed in every group the device manages.
    const clock = new ManualClock(T0 + DAY);
    const trustThen = new TrustStore(() => clock.now());
    trustThen.addSchool(keys.rootPublicKey, keys.schoolName);
    const storage = new MemoryStorage();
    const before = await Engine.open({ storage: outliving(storage), identity: first.identity, trust: trustThen, clock });
    // As the sync host runs it: the device manages the group (role manager, no keys).
    const group = await before.createGroup({ kind: 'class', name: 'Klasse 7a', creatorRole: 'manager' });
    await before.close();
    clock.set(later);
    const after = await Engine.open({ storage, identity: renewed.identity, trust: trustThen, clock });
    expect(await after.renewIdentity(renewed.identity)).toBe(1);
    expect(after.state(group)?.devices.get(first.identity.id)?.certificate.notAfter).toBe(renewedKeys.authorityCert.notAfter);
    await after.close();
  });

  it('refuses an identity of another account named in the config, with what to do', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'schoolmesh-sync-device-'));
    dirs.push(dir);
    const keys = await initSchool(dir, 'Gesamtschule Nord', T0);
    await loadOrCreateSyncDevice(dir, keys, account, T0);
    await expect(loadOrCreateSyncDevice(dir, keys, { account: 'verwaltung', displayName: 'V' }, T0)).rejects.toThrow(/keep the account, or move the file away/);
  });
});

