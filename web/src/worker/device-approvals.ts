import type { AccountDevice } from '@schoolmesh/client/account';
import type { Engine } from '@schoolmesh/engine';
import { decodeDeviceCertificate } from '@schoolmesh/identity';
import { fromBase64Url } from '@schoolmesh/wire';
import type { MyDevice } from '../api/protocol.ts';

/** How long the relay keeps a device approval code valid. */
const CODE_VALID_MS = 10 * 60_000;
/** Slack for the clocks of page, worker and relay. */
const SLACK_MS = 60_000;
/** How often, while a code of this device is valid, it looks for the device that used it. */
const POLL_MS = 5_000;

/**
 * A further device of the account gets into its chats only when one of its devices approves it
 * (`Engine.approveDevice`, docs/threat-model.md). This device approves by itself a device that enrolled with a code
 * this device asked for, while that code was valid; any other (a code from the school, a password sign-in) waits
 * for the user's "Bestätigen" in "Meine Geräte".
 */
export class DeviceApprovals {
  /** When the approval codes this device asked for (in this session) stop being valid, relay clock. */
  private readonly codesUntil: number[] = [];
  private poll: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly list: () => Promise<AccountDevice[]>,
  ) {}

  /** Is `d` a device of this account that is missing from a group this device is in? */
  awaiting(d: AccountDevice): boolean {
    return !d.current && !d.revoked && !!d.certificate && this.engine.awaitsApproval(d.device);
  }

  /** A code was issued: while it is valid, look for the device that uses it and approve it. */
  codeIssued(expiresAt: number): void {
    this.codesUntil.push(expiresAt);
    if (this.poll) return;
    this.poll = setInterval(() => {
      if (this.codesUntil.every((until) => until + SLACK_MS < Date.now())) return this.close();
      void this.review().catch(() => {});
    }, POLL_MS);
  }

  /** Approves the devices that used a code of this device, and tells which devices still wait for approval. */
  async review(devices?: AccountDevice[]): Promise<MyDevice[]> {
    const list = devices ?? (await this.list());
    for (const d of list) if (d.via === 'approval' && this.fromMyCode(d) && this.awaiting(d)) await this.approve(d);
    return list.map((d) => ({ ...d, awaitingApproval: this.awaiting(d) }));
  }

  /** Approves `d` (the user's "Bestätigen", or a code of this device); returns in how many groups it was listed. */
  approve(d: AccountDevice): Promise<number> {
    if (!d.certificate) throw new Error('the relay did not send the certificate of this device');
    return this.engine.approveDevice(decodeDeviceCertificate(fromBase64Url(d.certificate)));
  }

  close(): void {
    clearInterval(this.poll);
    this.poll = undefined;
  }

  private fromMyCode(d: AccountDevice): boolean {
    return this.codesUntil.some((until) => d.enrolledAt <= until + SLACK_MS && d.enrolledAt >= until - CODE_VALID_MS - SLACK_MS);
  }
}
