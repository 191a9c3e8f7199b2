import { randomBytes, sha256 } from '@schoolmesh/crypto';
import {
  type DeviceCertificate,
  type RevocationList,
  type TrustStore,
  decodeRevocationList,
  deviceIdOf,
  issueDeviceCertificate,
  issueRevocationList,
  type RenewalRequest,
  verifyRenewal,
} from '@schoolmesh/identity';
import { type Role, roles } from '@schoolmesh/model';
import type { StorageAdapter } from '@schoolmesh/storage';
import { toBase64Url, toHex } from '@schoolmesh/wire';
import type { RelayKeys } from './keystore.ts';

const DAY = 24 * 60 * 60 * 1000;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** An account as the school knows it: what a device certificate will say. */
export interface EnrolledAccount {
  account: string;
  displayName: string;
  role: Role;
}

/**
 * The seam for password sign-in (the directory issue plugs LDAP in here): given what the user typed, returns the
 * account it proves, or undefined for wrong credentials. Must not throw for wrong credentials; throws only when
 * the directory itself cannot be asked (then the relay answers 503).
 */
export interface AccountAuthenticator {
  readonly name: string;
  /** `context.address`: the client's address, for per-address limits. */
  authenticate(username: string, password: string, context?: { address?: string }): Promise<EnrolledAccount | undefined>;
}

export class EnrollmentError extends Error {
  override readonly name = 'EnrollmentError';
  constructor(
    readonly code: 'bad-request' | 'unknown-code' | 'expired-code' | 'wrong-credentials' | 'too-many-attempts' | 'unavailable' | 'not-renewable',
    message: string,
  ) {
    super(message);
  }
}

/** Crockford base32 without I, L, O, U: unambiguous when read off paper. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A one-time code: 15 symbols (75 bits) in three groups of five, e.g. `7QK2M-XH4PZ-R9D0A`. */
export function newCode(): string {
  const bytes = randomBytes(15);
  let out = '';
  for (let i = 0; i < 15; i++) {
    out += ALPHABET[bytes[i]! & 31];
    if (i === 4 || i === 9) out += '-';
  }
  return out;
}

/** Normalizes what a person typed: case, spaces, dashes, and the look-alikes O→0, I/L→1. */
export function normalizeCode(typed: string): string {
  return typed
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
}

interface CodeRecord extends EnrolledAccount {
  issuedAt: number;
  expiresAt: number;
  /** The device of the same account that asked for this code (device approval), if one did. */
  approvedBy?: string;
}

export interface IssuedDevice {
  device: string;
  account: string;
  role: Role;
  issuedAt: number;
  notAfter: number;
  via: string;
  /** The account's display name as certified (records from before it was kept lack it). */
  displayName?: string;
  /** The name the account gave this device. */
  name?: string;
  /** The device that approved this one (enrolled with a code that device asked for). */
  approvedBy?: string;
  /** When the certificate was last renewed. */
  renewedAt?: number;
  /** The newest certificate issued for it (base64url of its encoding; records from before it was kept lack it). */
  certificate?: string;
}

const CODE = (hash: string) => ['relay', 'code', hash] as const;
const DEVICE = (id: string) => ['relay', 'device', id] as const;
const REVOCATION = ['relay', 'revocation'] as const;

/**
 * Enrollment: one-time codes an admin issues, password sign-in through an AccountAuthenticator, device
 * certificates, and the school's revocation list. Codes are stored only as hashes; a redeemed code is gone.
 */
export class Enrollment {
  private serial: Promise<unknown> = Promise.resolve();
  private readonly authenticators = new Map<string, AccountAuthenticator>();
  private revocation: RevocationList | undefined;

  private constructor(
    private readonly storage: StorageAdapter,
    private readonly keys: RelayKeys,
    private readonly trust: TrustStore,
    private readonly options: { codeDays: number; deviceCertDays: number; clock: () => number },
  ) {}

  static async open(
    storage: StorageAdapter,
    keys: RelayKeys,
    trust: TrustStore,
    options: { codeDays: number; deviceCertDays: number; clock: () => number },
  ): Promise<Enrollment> {
    const e = new Enrollment(storage, keys, trust, options);
    const stored = await storage.load(REVOCATION);
    if (stored) {
      e.revocation = decodeRevocationList(stored);
      await trust.applyRevocationList(e.revocation);
    }
    return e;
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.serial.then(task, task);
    this.serial = run.catch(() => {});
    return run;
  }

  addAuthenticator(authenticator: AccountAuthenticator): void {
    this.authenticators.set(authenticator.name, authenticator);
  }

  get authenticatorNames(): string[] {
    return [...this.authenticators.keys()];
  }

  /**
   * Issues a one-time code for an account: by an admin (valid for codeDays), or asked for by a device of the same
   * account to approve a new one (`approvedBy`, short-lived: `ttlMs`).
   */
  async issueCode(account: EnrolledAccount, options: { ttlMs?: number; approvedBy?: string } = {}): Promise<{ code: string; expiresAt: number }> {
    checkAccount(account);
    const code = newCode();
    const now = this.options.clock();
    const record: CodeRecord = {
      ...account,
      issuedAt: now,
      expiresAt: now + (options.ttlMs ?? this.options.codeDays * DAY),
      ...(options.approvedBy ? { approvedBy: options.approvedBy } : {}),
    };
    await this.storage.save(CODE(await codeHash(normalizeCode(code))), utf8.encode(JSON.stringify(record)));
    return { code, expiresAt: record.expiresAt };
  }

  /** Redeems a code for a device's public keys: the code is consumed, the certificate returned. */
  redeemCode(typed: string, keys: { deviceKey: Uint8Array; agreementKey: Uint8Array; displayName?: string }): Promise<DeviceCertificate> {
    return this.exclusive(async () => {
      const code = normalizeCode(typed);
      if (!/^[0-9A-HJKMNP-TV-Z]{15}$/.test(code)) throw new EnrollmentError('bad-request', 'an enrollment code has 15 letters and digits');
      const key = CODE(await codeHash(code));
      const stored = await this.storage.load(key);
      if (!stored) throw new EnrollmentError('unknown-code', 'this code is unknown or was used already');
      const record = JSON.parse(fromUtf8.decode(stored)) as CodeRecord;
      if (this.options.clock() >= record.expiresAt) {
        await this.storage.remove(key);
        throw new EnrollmentError('expired-code', 'this code has expired; ask for a new one');
      }
      const cert = await this.certify(record, keys, record.approvedBy ? 'approval' : 'code', undefined, record.approvedBy);
      await this.storage.remove(key);
      return cert;
    });
  }

  /** Password sign-in through a registered authenticator (LDAP: the directory issue). */
  async redeemPassword(
    method: string,
    username: string,
    password: string,
    keys: { deviceKey: Uint8Array; agreementKey: Uint8Array; displayName?: string },
    context: { address?: string } = {},
  ): Promise<DeviceCertificate> {
    const authenticator = this.authenticators.get(method);
    if (!authenticator) throw new EnrollmentError('bad-request', `no sign-in method "${method}" here`);
    let account: EnrolledAccount | undefined;
    try {
      account = await authenticator.authenticate(username, password, context);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'too-many-attempts') throw new EnrollmentError('too-many-attempts', (error as Error).message);
      throw new EnrollmentError('unavailable', `the directory cannot be reached: ${(error as Error).message}`);
    }
    if (!account) throw new EnrollmentError('wrong-credentials', 'user name or password is wrong');
    return this.certify(account, keys, method);
  }

  /**
   * Renews a device certificate of this school that is still valid and not revoked, for the holder of its device
   * key (a signed request): same keys, account, name and role, valid for another `deviceCertDays`. The new one
   * starts where the old one started, so everything the device wrote under the old one stays inside its window.
   */
  async renew(request: RenewalRequest): Promise<DeviceCertificate> {
    let current: DeviceCertificate;
    try {
      current = (await this.trust.verifyDevice(request.certificate)).certificate;
    } catch (error) {
      throw new EnrollmentError('not-renewable', `the certificate cannot be renewed: ${(error as Error).message}`);
    }
    if (current.school !== this.keys.schoolId) throw new EnrollmentError('not-renewable', 'a certificate of another school');
    const refusal = await verifyRenewal(current, request, this.options.clock());
    if (refusal) throw new EnrollmentError('not-renewable', refusal);
    return this.certify(
      { account: current.account, displayName: current.displayName, role: current.role },
      { deviceKey: current.deviceKey, agreementKey: current.agreementKey },
      'renewal',
      current.notBefore,
    );
  }

  private async certify(
    account: EnrolledAccount,
    keys: { deviceKey: Uint8Array; agreementKey: Uint8Array; displayName?: string },
    via: string,
    notBefore?: number,
    approvedBy?: string,
  ): Promise<DeviceCertificate> {
    const now = this.options.clock();
    let cert: DeviceCertificate;
    try {
      cert = await issueDeviceCertificate(this.keys.authority, this.keys.authorityCert, {
        account: account.account,
        displayName: account.displayName,
        role: account.role,
        deviceKey: keys.deviceKey,
        agreementKey: keys.agreementKey,
        notBefore: Math.max(notBefore ?? now - 5 * 60 * 1000, this.keys.authorityCert.notBefore),
        notAfter: Math.min(now + this.options.deviceCertDays * DAY, this.keys.authorityCert.notAfter),
      });
    } catch (error) {
      throw new EnrollmentError('bad-request', (error as Error).message);
    }
    const device = deviceIdOf(cert.deviceKey);
    const issued: IssuedDevice = {
      device,
      account: account.account,
      role: account.role,
      displayName: account.displayName,
      issuedAt: now,
      notAfter: cert.notAfter,
      via,
      ...(approvedBy ? { approvedBy } : {}),
      certificate: toBase64Url(cert.bytes),
    };
    // A renewal keeps the device's record (how and when it enrolled, its name) and moves only its end.
    const previous = via === 'renewal' ? await this.device(device) : undefined;
    const record: IssuedDevice = previous ? { ...previous, notAfter: cert.notAfter, renewedAt: now, certificate: issued.certificate } : issued;
    await this.storage.save(DEVICE(device), utf8.encode(JSON.stringify(record)));
    return cert;
  }

  async devices(): Promise<IssuedDevice[]> {
    const records = await this.storage.loadRange(['relay', 'device']);
    return records.map((r) => JSON.parse(fromUtf8.decode(r.data)) as IssuedDevice);
  }

  /** The record of one device this relay certified, or undefined. */
  async device(id: string): Promise<IssuedDevice | undefined> {
    const stored = await this.storage.load(DEVICE(id));
    return stored ? (JSON.parse(fromUtf8.decode(stored)) as IssuedDevice) : undefined;
  }

  /** Gives a device a name (its account chose it; shown in "my devices" and the admin console). */
  renameDevice(id: string, name: string): Promise<void> {
    return this.exclusive(async () => {
      const record = await this.device(id);
      if (!record) throw new EnrollmentError('bad-request', 'no such device');
      await this.storage.save(DEVICE(id), utf8.encode(JSON.stringify({ ...record, name })));
    });
  }

  isRevoked(id: string): boolean {
    return this.revocation?.revokedDevices.includes(id) ?? false;
  }

  revokedDevices(): string[] {
    return [...(this.revocation?.revokedDevices ?? [])];
  }

  /** The current signed revocation list (devices and partner relays fetch it). */
  revocationList(): RevocationList | undefined {
    return this.revocation;
  }

  /** Revokes devices: a new cumulative list, signed, stored, applied to the trust store. */
  revoke(devices: readonly string[]): Promise<RevocationList> {
    return this.exclusive(async () => {
      const all = new Set([...(this.revocation?.revokedDevices ?? []), ...devices]);
      const list = await issueRevocationList(this.keys.authority, this.keys.authorityCert, {
        sequence: (this.revocation?.sequence ?? 0) + 1,
        issuedAt: this.options.clock(),
        revokedDevices: [...all],
      });
      await this.storage.save(REVOCATION, list.bytes);
      await this.trust.applyRevocationList(list);
      this.revocation = list;
      return list;
    });
  }
}

function checkAccount(a: EnrolledAccount): void {
  if (typeof a.account !== 'string' || !/^[\p{L}\p{N}._-]{1,64}$/u.test(a.account))
    throw new EnrollmentError('bad-request', 'account: 1–64 letters, digits, ".", "_" or "-"');
  if (typeof a.displayName !== 'string' || a.displayName.length > 200) throw new EnrollmentError('bad-request', 'displayName: up to 200 characters');
  if (!roles.includes(a.role)) throw new EnrollmentError('bad-request', `role: one of ${roles.join(', ')}`);
}

async function codeHash(code: string): Promise<string> {
  return toHex(await sha256(utf8.encode(`schoolmesh/enrollment-code/v1:${code}`)));
}
