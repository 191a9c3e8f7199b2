import { sha256, verifySignature } from '@schoolmesh/crypto';
import { type AccountRef, type Role, accountRef } from '@schoolmesh/model';
import { DecodeError } from '@schoolmesh/wire';
import {
  type AuthorityCertificate,
  CONTEXT_AUTHORITY,
  CONTEXT_DEVICE,
  CONTEXT_REVOCATION,
  type DeviceCertificate,
  type RevocationList,
  bodyOf,
  decodeAuthorityCertificate,
  decodeDeviceCertificate,
  decodeRevocationList,
  signedMessage,
} from './codec.ts';
import { CertificateError } from './errors.ts';
import { deviceIdOf, schoolIdOf } from './issue.ts';

/** A device whose certificate chain checked out at the store's clock. */
export interface VerifiedDevice {
  /** Device id: base64url of `deviceKey`. */
  id: string;
  school: string;
  account: string;
  /** `account@school` */
  accountRef: AccountRef;
  displayName: string;
  role: Role;
  deviceKey: Uint8Array;
  agreementKey: Uint8Array;
  /** When this verification lapses: the earlier of the device's and its authority's notAfter. */
  notAfter: number;
  certificate: DeviceCertificate;
}

interface SchoolState {
  name: string | undefined;
  root: Uint8Array;
  sequence: number;
  revoked: Set<string>;
}

/** Bounds the verification caches; expired entries go first, then the oldest. */
export const VERIFICATION_CACHE_SIZE = 10_000;

function toCertificateError(error: unknown): CertificateError {
  if (error instanceof CertificateError) return error;
  if (error instanceof DecodeError) return new CertificateError('malformed', error.message);
  return new CertificateError('malformed', String((error as Error)?.message ?? error));
}

function hashKey(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, sha256(bytes) as unknown as number[]);
}

/**
 * Which school roots this node trusts (its own school and federated partners), and what each revoked.
 * Verification reads only the signed bytes of what it is given, so a certificate object with edited fields
 * cannot pass: its fields are decoded again from `bytes`.
 */
export class TrustStore {
  private readonly trusted = new Map<string, SchoolState>();
  /** Hash of a certificate's bytes -> the VerifiedDevice whose signatures already checked out. */
  private readonly devices = new Map<string, VerifiedDevice>();
  /** Hash of an authority certificate's bytes -> its signature by the root checked out. */
  private readonly authorities = new Map<string, AuthorityCertificate>();

  constructor(private readonly clock: () => number) {}

  addSchool(rootPublicKey: Uint8Array, name?: string): void {
    const id = schoolIdOf(rootPublicKey);
    const existing = this.trusted.get(id);
    if (existing) {
      if (name !== undefined) existing.name = name;
      return;
    }
    this.trusted.set(id, { name, root: Uint8Array.from(rootPublicKey), sequence: -1, revoked: new Set() });
  }

  removeSchool(schoolId: string): void {
    this.trusted.delete(schoolId);
    for (const [key, device] of this.devices) if (device.school === schoolId) this.devices.delete(key);
    for (const [key, authority] of this.authorities) if (authority.school === schoolId) this.authorities.delete(key);
  }

  hasSchool(id: string): boolean {
    return this.trusted.has(id);
  }

  schools(): string[] {
    return [...this.trusted.keys()];
  }

  /** The name given to addSchool, if any. */
  schoolName(id: string): string | undefined {
    return this.trusted.get(id)?.name;
  }

  /** The sequence number of the newest revocation list applied for a school, or -1. */
  revocationSequence(schoolId: string): number {
    return this.trusted.get(schoolId)?.sequence ?? -1;
  }

  /**
   * Verifies and applies a school's revocation list (lists are cumulative). A list whose sequence is not higher
   * than the current one is ignored. The authority must be certified by the root and valid now: an old,
   * expired authority key cannot publish a newer list that un-revokes devices.
   */
  async applyRevocationList(list: RevocationList | Uint8Array): Promise<void> {
    let decoded: RevocationList;
    try {
      decoded = decodeRevocationList(list instanceof Uint8Array ? list : list.bytes);
    } catch (error) {
      throw toCertificateError(error);
    }
    const state = this.school(decoded.school);
    await this.checkAuthority(decoded.school, decoded.authority, this.clock());
    const ok = await verifySignature(
      decoded.authority.authorityKey,
      signedMessage(CONTEXT_REVOCATION, bodyOf(decoded.bytes)),
      decoded.signature,
    );
    if (!ok) throw new CertificateError('bad-signature', 'revocation list signature does not verify');
    if (decoded.sequence <= state.sequence) return;
    // The school may have been removed while we awaited.
    if (this.trusted.get(decoded.school) !== state) return;
    state.sequence = decoded.sequence;
    state.revoked = new Set(decoded.revokedDevices);
  }

  /** Whether a device is revoked: by its own school when given, else by any trusted school. */
  isRevoked(deviceId: string, schoolId?: string): boolean {
    if (schoolId !== undefined) return this.trusted.get(schoolId)?.revoked.has(deviceId) ?? false;
    for (const state of this.trusted.values()) if (state.revoked.has(deviceId)) return true;
    return false;
  }

  /**
   * Checks a device certificate chain at `clock()`: the school is trusted, the authority certificate is signed by
   * the school root and the device certificate by that authority, both are within their validity windows, and the
   * device is not revoked by its school. Signature checks are cached by certificate hash until notAfter; the
   * cheap checks (trust, windows, revocation) run on every call. Throws CertificateError only.
   */
  async verifyDevice(cert: DeviceCertificate | Uint8Array): Promise<VerifiedDevice> {
    const bytes = cert instanceof Uint8Array ? cert : cert?.bytes;
    if (!(bytes instanceof Uint8Array)) throw new CertificateError('malformed', 'not a device certificate');
    const now = this.clock();
    const key = hashKey(bytes);
    const cached = this.devices.get(key);
    if (cached) {
      if (now >= cached.notAfter) this.devices.delete(key);
      this.checkCurrent(cached.certificate, now);
      return cached;
    }
    let decoded: DeviceCertificate;
    try {
      decoded = decodeDeviceCertificate(bytes);
    } catch (error) {
      throw toCertificateError(error);
    }
    this.school(decoded.school);
    if (decoded.authority.school !== decoded.school)
      throw new CertificateError('wrong-issuer', 'device certificate and its authority belong to different schools');
    await this.checkAuthority(decoded.school, decoded.authority, now);
    const ok = await verifySignature(
      decoded.authority.authorityKey,
      signedMessage(CONTEXT_DEVICE, bodyOf(decoded.bytes)),
      decoded.signature,
    );
    if (!ok) throw new CertificateError('bad-signature', 'device certificate is not signed by its authority');
    this.checkCurrent(decoded, now);
    const verified: VerifiedDevice = {
      id: deviceIdOf(decoded.deviceKey),
      school: decoded.school,
      account: decoded.account,
      accountRef: accountRef(decoded.school, decoded.account),
      displayName: decoded.displayName,
      role: decoded.role,
      deviceKey: decoded.deviceKey,
      agreementKey: decoded.agreementKey,
      notAfter: Math.min(decoded.notAfter, decoded.authority.notAfter),
      certificate: decoded,
    };
    // Do not cache for a school removed while we awaited.
    if (this.trusted.has(decoded.school)) remember(this.devices, key, verified, now, (v) => v.notAfter);
    return verified;
  }

  /**
   * Verifies a relay's authority certificate: signed by the root of a trusted school and valid now. Relays prove
   * themselves with it in the sync handshake. Throws CertificateError only.
   */
  async verifyAuthority(cert: AuthorityCertificate | Uint8Array): Promise<AuthorityCertificate> {
    let decoded: AuthorityCertificate;
    try {
      decoded = cert instanceof Uint8Array ? decodeAuthorityCertificate(cert) : cert;
    } catch (error) {
      throw toCertificateError(error);
    }
    if (!decoded || !(decoded.bytes instanceof Uint8Array)) throw new CertificateError('malformed', 'not an authority certificate');
    await this.checkAuthority(decoded.school, decoded, this.clock());
    return decoded;
  }

  private school(id: string): SchoolState {
    const state = this.trusted.get(id);
    if (!state) throw new CertificateError('unknown-school', `school ${id} is not trusted here`);
    return state;
  }

  /** The checks that depend on time and on revocation: run on every verification, cached or not. */
  private checkCurrent(cert: DeviceCertificate, now: number): void {
    const state = this.school(cert.school);
    checkWindow(cert.authority, now, 'authority certificate');
    checkWindow(cert, now, 'device certificate');
    if (state.revoked.has(deviceIdOf(cert.deviceKey))) throw new CertificateError('revoked', 'device is revoked');
  }

  private async checkAuthority(school: string, authority: AuthorityCertificate, now: number): Promise<void> {
    const state = this.school(school);
    if (authority.school !== school)
      throw new CertificateError('wrong-issuer', 'the authority belongs to a different school');
    const key = hashKey(authority.bytes);
    if (!this.authorities.has(key)) {
      const ok = await verifySignature(
        state.root,
        signedMessage(CONTEXT_AUTHORITY, bodyOf(authority.bytes)),
        authority.signature,
      );
      if (!ok) throw new CertificateError('bad-signature', 'authority certificate is not signed by the school root');
      if (this.trusted.has(school)) remember(this.authorities, key, authority, now, (a) => a.notAfter);
    }
    checkWindow(authority, now, 'authority certificate');
  }
}

function checkWindow(cert: { notBefore: number; notAfter: number }, now: number, what: string): void {
  if (now < cert.notBefore) throw new CertificateError('not-yet-valid', `${what} is not valid yet`);
  if (now >= cert.notAfter) throw new CertificateError('expired', `${what} has expired`);
}

function remember<T>(cache: Map<string, T>, key: string, value: T, now: number, notAfter: (v: T) => number): void {
  if (cache.size >= VERIFICATION_CACHE_SIZE) {
    for (const [k, v] of cache) if (notAfter(v) <= now) cache.delete(k);
    while (cache.size >= VERIFICATION_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  }
  cache.set(key, value);
}
