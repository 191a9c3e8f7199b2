/**
 * Password sign-in against the school's LDAP, for the relay's enrollment (its `AccountAuthenticator` seam):
 * the service account finds the user's entry (the typed name travels as a filter value object, never spliced
 * into filter text), then a fresh connection binds as that DN with the typed password. The password is never
 * stored, logged or kept after the bind. Locked accounts, people without a school role, and suspicious input are
 * refused; failures are counted per user name and per client address.
 */
import { AndFilter, type Entry, EqualityFilter, FilterParser, InvalidCredentialsError } from 'ldapts';
import type { Role } from '@schoolmesh/model';
import { ACCOUNT_ID } from '../model.ts';
import { type LdapConfig, resolveLdapConfig } from './config.ts';
import { connect, first, isLocked, peopleAttributes, roleOf, serviceClient } from './connection.ts';
import { FailureLimiter } from './limiter.ts';

/** Matches the relay's EnrolledAccount. */
export interface DirectoryAccount {
  account: string;
  displayName: string;
  role: Role;
}

export type LoginRefusal = 'bad-input' | 'rate-limited' | 'unknown-user' | 'ambiguous-user' | 'no-role' | 'locked' | 'wrong-password';

/** Thrown when a user name or address has failed too often; the relay answers 429 (see README, "Relay wiring"). */
export class TooManyAttemptsError extends Error {
  override readonly name = 'TooManyAttemptsError';
  readonly code = 'too-many-attempts';
  constructor(readonly retryAfterMs: number) {
    super(`too many failed sign-ins; try again in ${Math.ceil(retryAfterMs / 1000)} s`);
  }
}

export interface LdapAuthenticatorOptions {
  /** The method name the relay registers (default "ldap"). */
  name?: string;
  clock?: () => number;
  /** Told about every refusal (never the password): for the relay's log and metrics. */
  onRefusal?: (reason: LoginRefusal, username: string, address: string | undefined) => void;
}

const MAX_USERNAME = 128;
const MAX_PASSWORD = 1024;
/** What a user name may contain: letters, digits and `. _ - @ +` (uids, sAMAccountNames, mail addresses). */
const USERNAME = /^[\p{L}\p{N}._@+-]+$/u;

export class LdapAuthenticator {
  readonly name: string;
  readonly config: LdapConfig;
  private readonly perUser: FailureLimiter;
  private readonly perAddress: FailureLimiter;
  private readonly clock: () => number;

  constructor(
    /** A checked configuration, or settings with a preset (as in the relay's config file). */
    config: LdapConfig | Record<string, unknown>,
    private readonly options: LdapAuthenticatorOptions = {},
  ) {
    this.config = resolveLdapConfig(config);
    this.name = options.name ?? 'ldap';
    this.clock = options.clock ?? Date.now;
    const l = this.config.login;
    this.perUser = new FailureLimiter(l.maxFailuresPerUser, l.windowSeconds * 1000, l.maxTracked, this.clock);
    this.perAddress = new FailureLimiter(l.maxFailuresPerAddress, l.windowSeconds * 1000, l.maxTracked, this.clock);
  }

  /**
   * The account the user name and password prove, or undefined for wrong credentials (and for every other
   * refusal, so a caller learns nothing about which part was wrong). Throws TooManyAttemptsError when rate
   * limited, and the LDAP client's error when the directory cannot be asked.
   */
  async authenticate(username: string, password: string, context: { address?: string } = {}): Promise<DirectoryAccount | undefined> {
    const address = context.address;
    const user = typeof username === 'string' ? username.normalize('NFC').trim() : '';
    const userKey = `u:${user.toLowerCase()}`;
    const addressKey = address ? `a:${address}` : undefined;
    const refuse = (reason: LoginRefusal, count = true): undefined => {
      if (count) {
        this.perUser.fail(userKey);
        if (addressKey) this.perAddress.fail(addressKey);
      }
      this.options.onRefusal?.(reason, user.slice(0, MAX_USERNAME), address);
      return undefined;
    };

    const wait = Math.max(this.perUser.blockedFor(userKey), addressKey ? this.perAddress.blockedFor(addressKey) : 0);
    if (wait > 0) {
      this.options.onRefusal?.('rate-limited', user.slice(0, MAX_USERNAME), address);
      throw new TooManyAttemptsError(wait);
    }
    if (!user || user.length > MAX_USERNAME || !USERNAME.test(user)) return refuse('bad-input');
    // An empty password would make an "unauthenticated bind" (RFC 4513 §5.1.2), which many servers accept.
    if (typeof password !== 'string' || password.length === 0 || password.length > MAX_PASSWORD || password.includes('\0')) return refuse('bad-input');

    const p = this.config.people;
    const service = await serviceClient(this.config);
    let entry: Entry;
    try {
      const filter = new AndFilter({ filters: [FilterParser.parseString(p.filter), new EqualityFilter({ attribute: p.login ?? p.id, value: user })] });
      const { searchEntries } = await service.search(p.base, { scope: p.scope, filter, attributes: peopleAttributes(p), sizeLimit: 2 });
      if (searchEntries.length === 0) return refuse('unknown-user');
      if (searchEntries.length > 1) return refuse('ambiguous-user');
      entry = searchEntries[0]!;
    } finally {
      await service.unbind().catch(() => {});
    }
    const account = first(entry, p.id).trim();
    const role = roleOf(entry, p);
    if (!ACCOUNT_ID.test(account) || !role) return refuse('no-role');
    if (isLocked(entry, p.locked, this.clock())) return refuse('locked');

    const client = await connect(this.config);
    try {
      await client.bind(entry.dn, password);
    } catch (error) {
      if (error instanceof InvalidCredentialsError) return refuse('wrong-password');
      throw error;
    } finally {
      await client.unbind().catch(() => {});
    }
    this.perUser.reset(userKey);
    const given = first(entry, p.givenName);
    const surname = first(entry, p.surname);
    const displayName = (first(entry, p.displayName) || `${given} ${surname}`.trim() || account).normalize('NFC').slice(0, 200);
    return { account, displayName, role };
  }
}
