import type { Connection, Stream } from '@libp2p/interface';
import {
  type AccountDevice,
  AccountProtocolError,
  type AccountRequest,
  DIRECTORY_PAGE,
  type DirectoryEntry,
  MAX_ACCOUNT_FRAME,
  type AccountResponse,
  decodeAccountRequest,
  encodeAccountResponse,
} from '@schoolmesh/client/account';
import { type Role, type SchoolPolicy, isRole, matchesName, mayDirectMessage } from '@schoolmesh/model';
import { rawKeyOfPeer, streamChannel } from '@schoolmesh/net-libp2p';
import { toBase64Url } from '@schoolmesh/wire';
import type { Logger } from 'pino';
import QRCode from 'qrcode';
import type { Enrollment, IssuedDevice } from './enrollment.ts';
import type { SessionHub } from './hub.ts';

/** How long a code a device asked for (to approve a new device of its account) stays valid. */
export const APPROVAL_CODE_MS = 10 * 60 * 1000;
/** Codes one account may ask for per APPROVAL_CODE_MS: enough to retry, too few to flood the store. */
const CODES_PER_WINDOW = 5;
/** A request must arrive this soon after the stream opened. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface AccountServiceOptions {
  enrollment: Enrollment;
  hub: SessionHub;
  log: Logger;
  clock: () => number;
  /** Revokes devices and drops their sessions (the same path as the admin API). */
  revoke(devices: string[]): Promise<void>;
  /** The school's people from its directory (LDAP/CSV sync), when one is configured; else enrolled accounts are used. */
  directory?: () => readonly { id: string; displayName: string; role: Role; class?: string; locked?: boolean }[] | undefined;
  /** The school's policy now (who may write to whom directly). */
  policy?: () => SchoolPolicy;
}

/**
 * The relay's side of `/schoolmesh/account/1`: a device lists, renames and revokes the devices of its own account,
 * and asks for a short-lived one-time code that enrolls another device for the same account (device approval).
 * Whose account it is comes from the device key that Noise proved on this connection and the relay's own record of
 * the certificate it issued for that key: a device can never name another account, so it can never act on one.
 */
export class AccountService {
  private readonly codes = new Map<string, number[]>();

  constructor(private readonly opts: AccountServiceOptions) {}

  /** Handles one inbound stream: one request, one answer. Never throws; bad input gets an ERROR answer. */
  handle(stream: Stream, connection: Connection): void {
    // One request of at most MAX_ACCOUNT_FRAME bytes: anything more is cut off before it is buffered (the frame
    // reader alone would take up to the sync protocol's 4 MiB, from anyone who can open a stream).
    let received = 0;
    const cap = (event: { data: { byteLength: number } }) => {
      received += event.data.byteLength;
      if (received > MAX_ACCOUNT_FRAME + 4) stream.abort(new Error('account request too large'));
    };
    stream.addEventListener('message', cap);
    const channel = streamChannel(stream);
    const key = rawKeyOfPeer(connection.remotePeer);
    const timer = setTimeout(() => channel.close('no request in time'), REQUEST_TIMEOUT_MS);
    let answered = false;
    channel.onClose(() => clearTimeout(timer));
    channel.onFrame((frame) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      void this.answer(key ? toBase64Url(key) : undefined, frame).then((response) => {
        channel.send(encodeAccountResponse(response));
        channel.close();
      });
    });
  }

  private async answer(device: string | undefined, frame: Uint8Array): Promise<AccountResponse> {
    try {
      const caller = device ? await this.caller(device) : undefined;
      if (!caller) return { type: 'error', code: 'not-enrolled', message: 'this device is not enrolled at this school, or was revoked' };
      const request = decodeAccountRequest(frame);
      const response = await this.run(caller, request);
      this.opts.log.info({ component: 'account', account: caller.account, device: caller.device, request: request.type }, 'account request');
      return response;
    } catch (error) {
      if (error instanceof AccountProtocolError && error.code !== 'unreachable' && error.code !== 'bad-response') return { type: 'error', code: error.code, message: error.message };
      this.opts.log.warn({ component: 'account', err: error }, 'account request failed');
      return { type: 'error', code: 'internal', message: 'the request could not be carried out' };
    }
  }

  /** The caller's own record: certified by this relay, not revoked, not expired. */
  private async caller(device: string): Promise<IssuedDevice | undefined> {
    const record = await this.opts.enrollment.device(device);
    if (!record || this.opts.enrollment.isRevoked(device) || record.notAfter <= this.opts.clock()) return undefined;
    return record;
  }

  /** A device of the caller's account; for any other device the same answer as for one that does not exist. */
  private async own(caller: IssuedDevice, device: string): Promise<IssuedDevice> {
    const record = await this.opts.enrollment.device(device);
    if (!record || record.account !== caller.account) throw new AccountProtocolError('not-yours', 'no device of this account has that id');
    return record;
  }

  private async run(caller: IssuedDevice, request: AccountRequest): Promise<AccountResponse> {
    const { enrollment, hub } = this.opts;
    switch (request.type) {
      case 'list': {
        const devices: AccountDevice[] = (await enrollment.devices())
          .filter((d) => d.account === caller.account)
          .sort((a, b) => a.issuedAt - b.issuedAt)
          .map((d) => {
            const lastSeen = hub.lastSeen(d.device);
            const revoked = enrollment.isRevoked(d.device);
            return {
              device: d.device,
              name: d.name ?? '',
              enrolledAt: d.issuedAt,
              ...(lastSeen === undefined ? {} : { lastSeen }),
              online: hub.isOnline(d.device),
              current: d.device === caller.device,
              via: d.via,
              revoked,
              ...(d.certificate && !revoked ? { certificate: d.certificate } : {}),
            };
          });
        return { type: 'devices', devices };
      }
      case 'rename': {
        await this.own(caller, request.device);
        await enrollment.renameDevice(request.device, request.name);
        return { type: 'done' };
      }
      case 'revoke': {
        await this.own(caller, request.device);
        await this.opts.revoke([request.device]);
        this.opts.log.warn({ component: 'account', account: caller.account, by: caller.device, device: request.device }, 'device revoked by its account');
        return { type: 'done' };
      }
      case 'code': {
        const now = this.opts.clock();
        const recent = (this.codes.get(caller.account) ?? []).filter((t) => now - t < APPROVAL_CODE_MS);
        if (recent.length >= CODES_PER_WINDOW) throw new AccountProtocolError('too-many-codes', 'too many codes asked for; wait a few minutes');
        recent.push(now);
        this.codes.set(caller.account, recent);
        const { code, expiresAt } = await enrollment.issueCode(
          { account: caller.account, displayName: caller.displayName ?? caller.account, role: caller.role },
          { ttlMs: APPROVAL_CODE_MS, approvedBy: caller.device },
        );
        if (!request.origin) return { type: 'issued', code, expiresAt };
        const url = `${request.origin}/#enroll=${code}`;
        const qrSvg = await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
        return { type: 'issued', code, expiresAt, url, qrSvg };
      }
      case 'people':
        return this.people(caller, request.query, request.offset ?? 0);
    }
  }

  /**
   * The school directory as one of its devices may see it: the people its account may write to directly under the
   * school's policy (pupils see other pupils only where pupils may write to each other), without itself, sorted by
   * name, a page at a time. From the directory sync's people when configured (locked accounts left out), else from
   * the accounts that enrolled a device that is not revoked.
   */
  private async people(caller: IssuedDevice, query: string, offset: number): Promise<AccountResponse> {
    const policy = this.opts.policy?.();
    const mayWrite = (role: string) => isRole(role) && mayDirectMessage(caller.role, role, policy);
    let all: DirectoryEntry[];
    const directory = this.opts.directory?.();
    if (directory) {
      all = directory.filter((p) => !p.locked).map((p) => ({ account: p.id, displayName: p.displayName, role: p.role, ...(p.class ? { class: p.class } : {}) }));
    } else {
      const byAccount = new Map<string, DirectoryEntry>();
      for (const d of await this.opts.enrollment.devices()) {
        if (this.opts.enrollment.isRevoked(d.device)) continue;
        byAccount.set(d.account, { account: d.account, displayName: d.displayName ?? d.account, role: d.role });
      }
      all = [...byAccount.values()];
    }
    const collator = new Intl.Collator('de', { sensitivity: 'base' });
    const found = all
      .filter((p) => p.account !== caller.account && mayWrite(p.role) && (query.trim() === '' || matchesName(`${p.displayName} ${p.class ?? ''}`, query)))
      .sort((a, b) => collator.compare(a.displayName, b.displayName));
    return { type: 'found', total: found.length, offset, people: found.slice(offset, offset + DIRECTORY_PAGE) };
  }
}
