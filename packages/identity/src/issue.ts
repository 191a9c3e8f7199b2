import { type SigningKeyPair, verifySignature } from '@schoolmesh/crypto';
import { type Role, roles } from '@schoolmesh/model';
import { bytesEqual, concatBytes, toBase64Url } from '@schoolmesh/wire';
import {
  type AuthorityCertificate,
  CERT_VERSION,
  CONTEXT_AUTHORITY,
  CONTEXT_DEVICE,
  CONTEXT_REVOCATION,
  type DeviceCertificate,
  KEY_BYTES,
  MAX_ACCOUNT_BYTES,
  MAX_NAME_BYTES,
  MAX_REVOKED_DEVICES,
  type RevocationList,
  bodyOf,
  canonicalRevoked,
  encodeAuthorityBody,
  encodeDeviceBody,
  encodeRevocationBody,
  rootKeyOf,
  signedMessage,
} from './codec.ts';
import { CertificateError } from './errors.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Default lifetimes: devices re-certify monthly, authorities yearly. */
export const DEVICE_CERT_DAYS = 30;
export const AUTHORITY_CERT_DAYS = 365;
export const DEVICE_CERT_MS = DEVICE_CERT_DAYS * DAY_MS;
export const AUTHORITY_CERT_MS = AUTHORITY_CERT_DAYS * DAY_MS;

const utf8 = new TextEncoder();

/** The device id: base64url of the device's Ed25519 public key (also its libp2p identity). */
export function deviceIdOf(deviceKey: Uint8Array): string {
  if (!(deviceKey instanceof Uint8Array) || deviceKey.length !== KEY_BYTES)
    throw new CertificateError('malformed', `a device key has ${KEY_BYTES} bytes`);
  return toBase64Url(deviceKey);
}

/** The school id: base64url of the school's root Ed25519 public key. */
export function schoolIdOf(rootPublicKey: Uint8Array): string {
  if (!(rootPublicKey instanceof Uint8Array) || rootPublicKey.length !== KEY_BYTES)
    throw new CertificateError('malformed', `a school root key has ${KEY_BYTES} bytes`);
  return toBase64Url(rootPublicKey);
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new CertificateError('malformed', message);
}

function checkKey(key: Uint8Array, what: string): void {
  check(key instanceof Uint8Array && key.length === KEY_BYTES, `${what} must have ${KEY_BYTES} bytes`);
}

function checkWindow(notBefore: number, notAfter: number): void {
  check(Number.isSafeInteger(notBefore) && notBefore >= 0, 'notBefore must be a whole number of ms');
  check(Number.isSafeInteger(notAfter) && notAfter > notBefore, 'notAfter must come after notBefore');
}

function checkText(value: string, max: number, what: string, allowEmpty: boolean): void {
  check(typeof value === 'string' && (allowEmpty || value.length > 0), `${what} must be a non-empty string`);
  check(utf8.encode(value).length <= max, `${what} is longer than ${max} bytes`);
  check(!/\p{Cs}/u.test(value), `${what} is not well-formed Unicode`);
}

async function sign(key: SigningKeyPair, context: string, body: Uint8Array): Promise<Uint8Array> {
  return key.sign(signedMessage(context, body));
}

/** The school root certifies a relay's authority key. */
export async function issueAuthorityCertificate(
  root: SigningKeyPair,
  input: { schoolName: string; authorityKey: Uint8Array; notBefore: number; notAfter?: number },
): Promise<AuthorityCertificate> {
  const notAfter = input.notAfter ?? input.notBefore + AUTHORITY_CERT_MS;
  checkText(input.schoolName, MAX_NAME_BYTES, 'schoolName', true);
  checkKey(input.authorityKey, 'authorityKey');
  checkWindow(input.notBefore, notAfter);
  const fields = {
    version: CERT_VERSION,
    school: schoolIdOf(root.publicKey),
    schoolName: input.schoolName,
    authorityKey: Uint8Array.from(input.authorityKey),
    notBefore: input.notBefore,
    notAfter,
  } as const;
  const body = encodeAuthorityBody(fields);
  const signature = await sign(root, CONTEXT_AUTHORITY, body);
  return { ...fields, signature, bytes: concatBytes(body, signature) };
}

async function checkIssuer(authority: SigningKeyPair, authorityCert: AuthorityCertificate): Promise<void> {
  if (!bytesEqual(authority.publicKey, authorityCert.authorityKey))
    throw new CertificateError('wrong-issuer', 'the signing key is not the certified authority key');
  // Catches an issuer handing over the wrong certificate; verifiers check it again.
  const root = rootKeyOf(authorityCert.school);
  const valid =
    root !== undefined &&
    (await verifySignature(root, signedMessage(CONTEXT_AUTHORITY, bodyOf(authorityCert.bytes)), authorityCert.signature));
  if (!valid) throw new CertificateError('bad-signature', 'the authority certificate is not signed by its school');
}

/** An authority certifies one device for one account of its school. */
export async function issueDeviceCertificate(
  authority: SigningKeyPair,
  authorityCert: AuthorityCertificate,
  input: {
    account: string;
    displayName: string;
    role: Role;
    deviceKey: Uint8Array;
    agreementKey: Uint8Array;
    notBefore: number;
    notAfter?: number;
  },
): Promise<DeviceCertificate> {
  const notAfter = input.notAfter ?? input.notBefore + DEVICE_CERT_MS;
  checkText(input.account, MAX_ACCOUNT_BYTES, 'account', false);
  checkText(input.displayName, MAX_NAME_BYTES, 'displayName', true);
  check(roles.includes(input.role), `unknown role ${input.role}`);
  checkKey(input.deviceKey, 'deviceKey');
  checkKey(input.agreementKey, 'agreementKey');
  checkWindow(input.notBefore, notAfter);
  await checkIssuer(authority, authorityCert);
  const fields = {
    version: CERT_VERSION,
    school: authorityCert.school,
    account: input.account,
    displayName: input.displayName,
    role: input.role,
    deviceKey: Uint8Array.from(input.deviceKey),
    agreementKey: Uint8Array.from(input.agreementKey),
    notBefore: input.notBefore,
    notAfter,
    authority: authorityCert,
  } as const;
  const body = encodeDeviceBody(fields);
  const signature = await sign(authority, CONTEXT_DEVICE, body);
  return { ...fields, signature, bytes: concatBytes(body, signature) };
}

/** An authority publishes the devices its school revoked. Lists are cumulative: each replaces the last. */
export async function issueRevocationList(
  authority: SigningKeyPair,
  authorityCert: AuthorityCertificate,
  input: { sequence: number; issuedAt: number; revokedDevices: readonly string[] },
): Promise<RevocationList> {
  check(Number.isSafeInteger(input.sequence) && input.sequence >= 0, 'sequence must be a whole number');
  check(Number.isSafeInteger(input.issuedAt) && input.issuedAt >= 0, 'issuedAt must be a whole number of ms');
  let keys: Uint8Array[];
  try {
    keys = canonicalRevoked(input.revokedDevices);
  } catch (error) {
    throw new CertificateError('malformed', (error as Error).message);
  }
  check(keys.length <= MAX_REVOKED_DEVICES, `more than ${MAX_REVOKED_DEVICES} revoked devices`);
  await checkIssuer(authority, authorityCert);
  const fields = {
    school: authorityCert.school,
    sequence: input.sequence,
    issuedAt: input.issuedAt,
    revokedDevices: keys.map((k) => toBase64Url(k)),
    authority: authorityCert,
  };
  const body = encodeRevocationBody(fields);
  const signature = await sign(authority, CONTEXT_REVOCATION, body);
  return { ...fields, signature, bytes: concatBytes(body, signature) };
}
