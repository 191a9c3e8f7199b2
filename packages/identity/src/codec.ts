import type { Role } from '@schoolmesh/model';
import { type Decoder, DecodeError, Encoder, compareBytes, concatBytes, decode, decodeTotal, fromBase64Url, toBase64Url } from '@schoolmesh/wire';

/**
 * Canonical encodings (packages/identity/README.md, "Encodings"). Every object is `body || signature(64)`; the
 * signature covers `context || body`, where the context is a length-prefixed ASCII string naming the kind of
 * object and its version, so a signature over one kind can never verify as another.
 */
export const CERT_VERSION = 1;
export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const MAX_NAME_BYTES = 256;
export const MAX_ACCOUNT_BYTES = 256;
/** An authority certificate is ~400 bytes; the bound keeps hostile nesting cheap to refuse. */
export const MAX_AUTHORITY_CERT_BYTES = 1024;
export const MAX_REVOKED_DEVICES = 100_000;

export const CONTEXT_AUTHORITY = 'schoolmesh/authority-cert/v1';
export const CONTEXT_DEVICE = 'schoolmesh/device-cert/v1';
export const CONTEXT_REVOCATION = 'schoolmesh/revocation-list/v1';

export interface AuthorityCertificate {
  version: 1;
  /** School id: base64url of the school's root public key. */
  school: string;
  schoolName: string;
  /** Ed25519 public key of the relay's authority. */
  authorityKey: Uint8Array;
  /** Validity window in ms since the epoch: valid for notBefore <= t < notAfter. */
  notBefore: number;
  notAfter: number;
  /** By the school root over CONTEXT_AUTHORITY || body. */
  signature: Uint8Array;
  /** The canonical encoding (body || signature). */
  bytes: Uint8Array;
}

export interface DeviceCertificate {
  version: 1;
  school: string;
  /** The directory user id, unique within the school. */
  account: string;
  displayName: string;
  role: Role;
  /** Ed25519 public key: the device id and its libp2p identity. */
  deviceKey: Uint8Array;
  /** X25519 public key for HPKE. */
  agreementKey: Uint8Array;
  notBefore: number;
  notAfter: number;
  /** The certificate of the authority that signed this one. */
  authority: AuthorityCertificate;
  /** By `authority.authorityKey` over CONTEXT_DEVICE || body. */
  signature: Uint8Array;
  bytes: Uint8Array;
}

export interface RevocationList {
  school: string;
  /** Lists are cumulative; a higher sequence replaces a lower one. */
  sequence: number;
  issuedAt: number;
  /** Device ids, sorted by key bytes, without duplicates. */
  revokedDevices: string[];
  authority: AuthorityCertificate;
  /** By `authority.authorityKey` over CONTEXT_REVOCATION || body. */
  signature: Uint8Array;
  bytes: Uint8Array;
}

/** Wire numbers of roles: fixed here, independent of the order of `roles` in @schoolmesh/model. */
const roleTags: Record<Role, number> = { pupil: 0, teacher: 1, parent: 2, staff: 3, admin: 4 };
const tagRoles: readonly Role[] = ['pupil', 'teacher', 'parent', 'staff', 'admin'];

export function signedMessage(context: string, body: Uint8Array): Uint8Array {
  return concatBytes(new Encoder(64).string(context).finish(), body);
}

/** The body of an encoding: everything before the trailing signature. */
export function bodyOf(bytes: Uint8Array): Uint8Array {
  return bytes.subarray(0, bytes.length - SIGNATURE_BYTES);
}

/** The root public key a school id names, or undefined if it names none. */
export function rootKeyOf(school: string): Uint8Array | undefined {
  try {
    const key = fromBase64Url(school);
    return key.length === KEY_BYTES && toBase64Url(key) === school ? key : undefined;
  } catch {
    return undefined;
  }
}

function schoolKey(school: string): Uint8Array {
  const key = fromBase64Url(school);
  if (key.length !== KEY_BYTES || toBase64Url(key) !== school) throw new RangeError(`not a school id: ${school}`);
  return key;
}

function time(dec: Decoder): number {
  return dec.varuint();
}

function readVersion(dec: Decoder): 1 {
  const version = dec.u8();
  if (version !== CERT_VERSION) dec.fail('bad-version', `unsupported version ${version}`);
  return CERT_VERSION;
}

function readWindow(dec: Decoder): { notBefore: number; notAfter: number } {
  const notBefore = time(dec);
  const notAfter = time(dec);
  if (notAfter <= notBefore) dec.fail('bad-value', 'validity window ends before it starts');
  return { notBefore, notAfter };
}

// ---- authority certificate ----

export function encodeAuthorityBody(c: Omit<AuthorityCertificate, 'signature' | 'bytes'>): Uint8Array {
  return new Encoder(160)
    .u8(CERT_VERSION)
    .fixed(schoolKey(c.school), KEY_BYTES)
    .string(c.schoolName)
    .fixed(c.authorityKey, KEY_BYTES)
    .varuint(c.notBefore)
    .varuint(c.notAfter)
    .finish();
}

export function encodeAuthorityCertificate(c: AuthorityCertificate): Uint8Array {
  return concatBytes(encodeAuthorityBody(c), new Encoder(64).fixed(c.signature, SIGNATURE_BYTES).finish());
}

function readAuthority(dec: Decoder, bytes: Uint8Array): AuthorityCertificate {
  const version = readVersion(dec);
  const school = toBase64Url(dec.fixed(KEY_BYTES));
  const schoolName = dec.string(MAX_NAME_BYTES);
  const authorityKey = dec.fixed(KEY_BYTES).slice();
  const { notBefore, notAfter } = readWindow(dec);
  const signature = dec.fixed(SIGNATURE_BYTES).slice();
  return { version, school, schoolName, authorityKey, notBefore, notAfter, signature, bytes };
}

/** Total: returns a certificate or throws DecodeError. Does not verify anything. */
export function decodeAuthorityCertificate(bytes: Uint8Array): AuthorityCertificate {
  return decodeTotal(() => {
    const copy = Uint8Array.from(bytes);
    return decode(copy, (dec) => readAuthority(dec, copy));
  });
}

function readEmbeddedAuthority(dec: Decoder): AuthorityCertificate {
  const raw = dec.bytes(MAX_AUTHORITY_CERT_BYTES).slice();
  try {
    return decode(raw, (inner) => readAuthority(inner, raw));
  } catch (error) {
    if (error instanceof DecodeError) dec.fail(error.code, `in authority certificate: ${error.message}`);
    throw error;
  }
}

// ---- device certificate ----

export function encodeDeviceBody(c: Omit<DeviceCertificate, 'signature' | 'bytes'>): Uint8Array {
  return new Encoder(256 + c.authority.bytes.length)
    .u8(CERT_VERSION)
    .fixed(schoolKey(c.school), KEY_BYTES)
    .string(c.account)
    .string(c.displayName)
    .varuint(roleTags[c.role])
    .fixed(c.deviceKey, KEY_BYTES)
    .fixed(c.agreementKey, KEY_BYTES)
    .varuint(c.notBefore)
    .varuint(c.notAfter)
    .bytes(c.authority.bytes)
    .finish();
}

export function encodeDeviceCertificate(c: DeviceCertificate): Uint8Array {
  return concatBytes(encodeDeviceBody(c), new Encoder(64).fixed(c.signature, SIGNATURE_BYTES).finish());
}

function readDevice(dec: Decoder, bytes: Uint8Array): DeviceCertificate {
  const version = readVersion(dec);
  const school = toBase64Url(dec.fixed(KEY_BYTES));
  const account = dec.string(MAX_ACCOUNT_BYTES);
  if (account.length === 0) dec.fail('bad-value', 'empty account id');
  const displayName = dec.string(MAX_NAME_BYTES);
  const role = tagRoles[dec.tag([0, 1, 2, 3, 4], 'role')]!;
  const deviceKey = dec.fixed(KEY_BYTES).slice();
  const agreementKey = dec.fixed(KEY_BYTES).slice();
  const { notBefore, notAfter } = readWindow(dec);
  const authority = readEmbeddedAuthority(dec);
  const signature = dec.fixed(SIGNATURE_BYTES).slice();
  return {
    version,
    school,
    account,
    displayName,
    role,
    deviceKey,
    agreementKey,
    notBefore,
    notAfter,
    authority,
    signature,
    bytes,
  };
}

/** Total: returns a certificate or throws DecodeError. Does not verify anything (TrustStore does). */
export function decodeDeviceCertificate(bytes: Uint8Array): DeviceCertificate {
  return decodeTotal(() => {
    const copy = Uint8Array.from(bytes);
    return decode(copy, (dec) => readDevice(dec, copy));
  });
}

// ---- revocation list ----

/** Device ids as sorted, distinct 32-byte keys: the canonical order of a list. */
export function canonicalRevoked(ids: readonly string[]): Uint8Array[] {
  const keys = ids.map((id) => {
    const key = fromBase64Url(id);
    if (key.length !== KEY_BYTES || toBase64Url(key) !== id) throw new RangeError(`not a device id: ${id}`);
    return key;
  });
  keys.sort(compareBytes);
  return keys.filter((k, i) => i === 0 || compareBytes(keys[i - 1]!, k) !== 0);
}

export function encodeRevocationBody(l: Omit<RevocationList, 'signature' | 'bytes'>): Uint8Array {
  const keys = canonicalRevoked(l.revokedDevices);
  return new Encoder(64 + keys.length * KEY_BYTES + l.authority.bytes.length)
    .u8(CERT_VERSION)
    .fixed(schoolKey(l.school), KEY_BYTES)
    .varuint(l.sequence)
    .varuint(l.issuedAt)
    .list(keys, (enc, k) => enc.fixed(k, KEY_BYTES))
    .bytes(l.authority.bytes)
    .finish();
}

export function encodeRevocationList(l: RevocationList): Uint8Array {
  return concatBytes(encodeRevocationBody(l), new Encoder(64).fixed(l.signature, SIGNATURE_BYTES).finish());
}

function readRevocation(dec: Decoder, bytes: Uint8Array): RevocationList {
  readVersion(dec);
  const school = toBase64Url(dec.fixed(KEY_BYTES));
  const sequence = dec.varuint();
  const issuedAt = time(dec);
  let previous: Uint8Array | undefined;
  const keys = dec.list(
    (d) => {
      const key = d.fixed(KEY_BYTES);
      if (previous && compareBytes(previous, key) >= 0) d.fail('bad-value', 'revoked devices not sorted and distinct');
      previous = key;
      return key;
    },
    KEY_BYTES,
    MAX_REVOKED_DEVICES,
  );
  const authority = readEmbeddedAuthority(dec);
  const signature = dec.fixed(SIGNATURE_BYTES).slice();
  return { school, sequence, issuedAt, revokedDevices: keys.map(toBase64Url), authority, signature, bytes };
}

/** Total: returns a list or throws DecodeError. Does not verify anything (TrustStore does). */
export function decodeRevocationList(bytes: Uint8Array): RevocationList {
  return decodeTotal(() => {
    const copy = Uint8Array.from(bytes);
    return decode(copy, (dec) => readRevocation(dec, copy));
  });
}
