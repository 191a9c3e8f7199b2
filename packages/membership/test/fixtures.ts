/** Real key material for the tests: a school root, its relay authority, device identities. */
import { generateAgreementKeyPair, generateSigningKeyPair, type SigningKeyPair } from '@schoolmesh/crypto';
import {
  type AuthorityCertificate,
  type DeviceIdentity,
  deviceIdentity,
  issueAuthorityCertificate,
  issueDeviceCertificate,
  TrustStore,
} from '@schoolmesh/identity';
import { type AccountRef, accountRef, defaultGroupPolicy, type GroupKind, type Role } from '@schoolmesh/model';
import { createOp, type MembershipOp, type MemberSpec, type OpBody } from '../src/index.ts';

export const DAY = 24 * 60 * 60 * 1000;
export const NOW = Date.UTC(2025, 0, 10);

export interface SchoolKeys {
  id: string;
  root: SigningKeyPair;
  authority: SigningKeyPair;
  authorityCert: AuthorityCertificate;
}

export async function makeSchool(name = 'Gesamtschule Nord'): Promise<SchoolKeys> {
  const root = await generateSigningKeyPair();
  const authority = await generateSigningKeyPair();
  const authorityCert = await issueAuthorityCertificate(root, {
    schoolName: name,
    authorityKey: authority.publicKey,
    notBefore: NOW - 100 * DAY,
  });
  return { id: authorityCert.school, root, authority, authorityCert };
}

export interface Device extends DeviceIdentity {
  account: AccountRef;
}

/** A device identity certified by the school's authority (as a relay would mint one). */
export async function makeDevice(
  school: SchoolKeys,
  account: string,
  options: { role?: Role; notBefore?: number; notAfter?: number } = {},
): Promise<Device> {
  const signing = await generateSigningKeyPair();
  const agreement = await generateAgreementKeyPair();
  const certificate = await issueDeviceCertificate(school.authority, school.authorityCert, {
    account,
    displayName: account,
    role: options.role ?? 'teacher',
    deviceKey: signing.publicKey,
    agreementKey: agreement.publicKey,
    notBefore: options.notBefore ?? NOW - DAY,
    notAfter: options.notAfter ?? NOW + 30 * DAY,
  });
  return { ...deviceIdentity(signing, agreement, certificate), account: accountRef(school.id, account) };
}

export function trustStore(school: SchoolKeys, clock: () => number = () => NOW): TrustStore {
  const store = new TrustStore(clock);
  store.addSchool(school.root.publicKey, 'test school');
  return store;
}

let tick = 0;

/** Signs an op; time increases so that ops made in one test differ. */
export function op(author: DeviceIdentity, group: string, parents: readonly string[], body: OpBody): Promise<MembershipOp> {
  return createOp(author, group, parents, body, NOW + ++tick);
}

export function createGroup(
  author: DeviceIdentity,
  members: MemberSpec[] = [],
  kind: GroupKind = 'custom',
  policy = defaultGroupPolicy(kind),
): Promise<MembershipOp> {
  return createOp(author, null, [], { type: 'create', kind, name: 'Klasse 7b', policy, members }, NOW + ++tick);
}
