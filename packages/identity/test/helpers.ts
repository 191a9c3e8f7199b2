import {
  type SigningKeyPair,
  generateAgreementKeyPair,
  generateSigningKeyPair,
} from '@schoolmesh/crypto';
import type { Role } from '@schoolmesh/model';
import {
  type AuthorityCertificate,
  type DeviceCertificate,
  type DeviceIdentity,
  deviceIdentity,
  issueAuthorityCertificate,
  issueDeviceCertificate,
  schoolIdOf,
} from '../src/index.ts';

export const DAY = 24 * 60 * 60 * 1000;
export const T0 = Date.UTC(2026, 8, 1);

export interface TestSchool {
  id: string;
  name: string;
  root: SigningKeyPair;
  authority: SigningKeyPair;
  authorityCert: AuthorityCertificate;
}

export async function makeSchool(
  name: string,
  window: { notBefore?: number; notAfter?: number } = {},
): Promise<TestSchool> {
  const root = await generateSigningKeyPair();
  const authority = await generateSigningKeyPair();
  const authorityCert = await issueAuthorityCertificate(root, {
    schoolName: name,
    authorityKey: authority.publicKey,
    notBefore: window.notBefore ?? T0,
    ...(window.notAfter !== undefined ? { notAfter: window.notAfter } : {}),
  });
  return { id: schoolIdOf(root.publicKey), name, root, authority, authorityCert };
}

export async function makeDevice(
  school: TestSchool,
  options: { account?: string; displayName?: string; role?: Role; notBefore?: number; notAfter?: number } = {},
): Promise<DeviceIdentity & { certificate: DeviceCertificate }> {
  const signing = await generateSigningKeyPair();
  const agreement = await generateAgreementKeyPair();
  const certificate = await issueDeviceCertificate(school.authority, school.authorityCert, {
    account: options.account ?? 'mmueller',
    displayName: options.displayName ?? 'Maria Müller',
    role: options.role ?? 'pupil',
    deviceKey: signing.publicKey,
    agreementKey: agreement.publicKey,
    notBefore: options.notBefore ?? T0,
    ...(options.notAfter !== undefined ? { notAfter: options.notAfter } : {}),
  });
  return deviceIdentity(signing, agreement, certificate);
}

export function flip(bytes: Uint8Array, index: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[index]! ^= 1;
  return out;
}

export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? `uncoded ${String(e)}`;
  }
}
