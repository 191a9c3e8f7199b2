/**
 * @schoolmesh/identity: the school trust chain. A school root certifies a relay's authority; the authority
 * certifies devices for accounts and publishes revocation lists; a TrustStore decides which devices to believe.
 */
export { CertificateError, type CertificateErrorCode } from './errors.ts';
export {
  type AuthorityCertificate,
  CONTEXT_AUTHORITY,
  CONTEXT_DEVICE,
  CONTEXT_REVOCATION,
  type DeviceCertificate,
  decodeAuthorityCertificate,
  decodeDeviceCertificate,
  decodeRevocationList,
  encodeAuthorityCertificate,
  encodeDeviceCertificate,
  encodeRevocationList,
  MAX_ACCOUNT_BYTES,
  MAX_NAME_BYTES,
  MAX_REVOKED_DEVICES,
  type RevocationList,
  rootKeyOf,
} from './codec.ts';
export {
  AUTHORITY_CERT_DAYS,
  AUTHORITY_CERT_MS,
  DEVICE_CERT_DAYS,
  DEVICE_CERT_MS,
  deviceIdOf,
  issueAuthorityCertificate,
  issueDeviceCertificate,
  issueRevocationList,
  schoolIdOf,
} from './issue.ts';
export { TrustStore, VERIFICATION_CACHE_SIZE, type VerifiedDevice } from './trust-store.ts';
export { type DeviceIdentity, decodeDeviceIdentity, deviceIdentity, encodeDeviceIdentity } from './device-identity.ts';
export { type SchoolAuthority, createSchool, enrollDevice } from './school.ts';
export { CONTEXT_RENEWAL, RENEWAL_SKEW_MS, type RenewalRequest, renewalDue, renewalMessage, signRenewal, verifyRenewal } from './renewal.ts';
