import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateAgreementKeyPair, generateSigningKeyPair } from '@schoolmesh/crypto';
import { type DeviceIdentity, decodeDeviceIdentity, deviceIdentity, encodeDeviceIdentity, issueDeviceCertificate } from '@schoolmesh/identity';
import { KeystoreError, type RelayKeys } from './keystore.ts';

const DAY = 24 * 60 * 60 * 1000;

/** Where the sync device's secret identity lives: next to the authority key, mode 0600. */
export const syncIdentityPath = (dataDir: string) => join(dataDir, 'keys', 'sync-device.identity');

/**
 * The school's sync account's device on the relay's box: loaded from `keys/sync-device.identity`, or created (its
 * keys generated here, certified by the relay's authority as an `admin` of the school) on first start. The
 * certificate lasts as long as the authority certificate. When the authority certificate was renewed since (the
 * operator's `renewAuthority` with the root key), or the device's certificate has ended, the same keys get a new
 * certificate up to the new authority's end, keeping `notBefore` (`renewed: true`): the sync host then lists it in
 * every group it manages (`Engine.renewIdentity`), so it keeps managing them without a new identity.
 */
export async function loadOrCreateSyncDevice(
  dataDir: string,
  keys: RelayKeys,
  account: { account: string; displayName: string },
  now = Date.now(),
): Promise<{ identity: DeviceIdentity; created: boolean; renewed: boolean }> {
  const path = syncIdentityPath(dataDir);
  const existing = await stat(path).catch(() => undefined);
  if (existing) {
    let identity: DeviceIdentity;
    try {
      identity = await decodeDeviceIdentity(new Uint8Array(await readFile(path)));
    } catch (error) {
      throw new KeystoreError(`cannot load the sync device's identity ${path}: ${(error as Error).message}`);
    }
    const cert = identity.certificate;
    if (cert.school !== keys.schoolId) throw new KeystoreError(`${path} belongs to another school`);
    if (cert.account !== account.account)
      throw new KeystoreError(`${path} is the device of "${cert.account}", the config names "${account.account}": keep the account, or move the file away to start a new sync account`);
    if (cert.notAfter >= keys.authorityCert.notAfter && cert.notAfter > now) return { identity, created: false, renewed: false };
    if (keys.authorityCert.notAfter <= now) throw new KeystoreError(`the relay's authority certificate ended on ${new Date(keys.authorityCert.notAfter).toISOString()}; renew it first`);
    const certificate = await issueDeviceCertificate(keys.authority, keys.authorityCert, {
      account: cert.account,
      displayName: cert.displayName,
      role: cert.role,
      deviceKey: cert.deviceKey,
      agreementKey: cert.agreementKey,
      notBefore: cert.notBefore,
      notAfter: keys.authorityCert.notAfter,
    });
    const renewed = deviceIdentity(identity.signing, identity.agreement, certificate);
    await writeIdentity(path, renewed);
    return { identity: renewed, created: false, renewed: true };
  }
  const signing = await generateSigningKeyPair();
  const agreement = await generateAgreementKeyPair();
  const certificate = await issueDeviceCertificate(keys.authority, keys.authorityCert, {
    account: account.account,
    displayName: account.displayName,
    role: 'admin',
    deviceKey: signing.publicKey,
    agreementKey: agreement.publicKey,
    notBefore: now - DAY,
    notAfter: keys.authorityCert.notAfter,
  });
  const identity = deviceIdentity(signing, agreement, certificate);
  await writeIdentity(path, identity);
  return { identity, created: true, renewed: false };
}

/** Replaces the identity file atomically (mode 0600). */
async function writeIdentity(path: string, identity: DeviceIdentity): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, encodeDeviceIdentity(identity), { mode: 0o600 });
  await rename(tmp, path);
}
