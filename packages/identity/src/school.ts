import { type SigningKeyPair, generateAgreementKeyPair, generateSigningKeyPair } from '@schoolmesh/crypto';
import type { Role } from '@schoolmesh/model';
import type { AuthorityCertificate } from './codec.ts';
import { type DeviceIdentity, deviceIdentity } from './device-identity.ts';
import { issueAuthorityCertificate, issueDeviceCertificate } from './issue.ts';

const DAY = 24 * 60 * 60 * 1000;

/** A school's signing material as its relay holds it: the root (kept offline in production) and the authority. */
export interface SchoolAuthority {
  id: string;
  name: string;
  root: SigningKeyPair;
  authority: SigningKeyPair;
  authorityCert: AuthorityCertificate;
}

/** Creates a school: a fresh root key and an authority key certified by it. */
export async function createSchool(name: string, now: number): Promise<SchoolAuthority> {
  const root = await generateSigningKeyPair();
  const authority = await generateSigningKeyPair();
  const authorityCert = await issueAuthorityCertificate(root, { schoolName: name, authorityKey: authority.publicKey, notBefore: now - DAY });
  return { id: authorityCert.school, name, root, authority, authorityCert };
}

/**
 * Makes a device identity and certifies it. Real devices generate their keys themselves and send only the
 * public keys to enrollment; tools, the demo and tests use this shortcut.
 */
export async function enrollDevice(
  school: SchoolAuthority,
  input: { account: string; displayName?: string; role: Role; now: number; validDays?: number },
): Promise<DeviceIdentity> {
  const signing = await generateSigningKeyPair();
  const agreement = await generateAgreementKeyPair();
  const certificate = await issueDeviceCertificate(school.authority, school.authorityCert, {
    account: input.account,
    displayName: input.displayName ?? input.account,
    role: input.role,
    deviceKey: signing.publicKey,
    agreementKey: agreement.publicKey,
    notBefore: input.now - DAY,
    notAfter: input.now + (input.validDays ?? 30) * DAY,
  });
  return deviceIdentity(signing, agreement, certificate);
}
