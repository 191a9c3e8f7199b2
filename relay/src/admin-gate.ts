import type { IncomingMessage } from 'node:http';
import { ADMIN_HEADERS, adminRequestMessage, bodyHashOf } from '@schoolmesh/client';
import { constantTimeEqual, verifySignature } from '@schoolmesh/crypto';
import { type TrustStore, decodeDeviceCertificate } from '@schoolmesh/identity';
import { fromBase64Url } from '@schoolmesh/wire';
import type { AuditActor } from './audit-log.ts';

/** Why an admin request was refused: `status` 401 (who are you?) or 403 (not allowed), with a clear message. */
export class AdminRefusal extends Error {
  override readonly name = 'AdminRefusal';
  constructor(
    readonly status: 401 | 403,
    readonly code: 'unauthorized' | 'forbidden',
    message: string,
  ) {
    super(message);
  }
}

const MAX_NONCES = 100_000;

/**
 * Who may use the admin API: the operator on the relay's box (bearer token, loopback only), or a device whose
 * certificate is valid, unrevoked, of this school and of role `admin`, with its signature over this very request
 * (method, path with query, body hash, time, nonce, school; `signAdminRequest` in @schoolmesh/client). A request is
 * accepted within `windowMs` of its time and only once (its nonce is remembered for twice the window).
 */
export class AdminGate {
  private readonly nonces = new Map<string, number>();

  constructor(
    private readonly opts: { school: string; trust: TrustStore; adminToken: string; windowMs?: number; clock?: () => number },
  ) {}

  async authorize(req: IncomingMessage, body: Uint8Array): Promise<AuditActor> {
    const authorization = req.headers.authorization;
    if (authorization !== undefined) return this.operator(req, authorization);
    const header = (name: string) => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const certificate = header(ADMIN_HEADERS.certificate);
    const time = header(ADMIN_HEADERS.time);
    const nonce = header(ADMIN_HEADERS.nonce);
    const signature = header(ADMIN_HEADERS.signature);
    if (!certificate || !time || !nonce || !signature)
      throw new AdminRefusal(401, 'unauthorized', 'the admin API needs a request signed by an admin device, or the admin token on the relay itself');
    const now = (this.opts.clock ?? Date.now)();
    const window = this.opts.windowMs ?? 120_000;
    const at = Number(time);
    if (!/^\d{1,15}$/.test(time) || Math.abs(now - at) > window)
      throw new AdminRefusal(401, 'unauthorized', `the request's time is more than ${window / 1000} s off the relay's clock (check the device's clock)`);
    if (!/^[A-Za-z0-9_-]{22}$/.test(nonce)) throw new AdminRefusal(401, 'unauthorized', 'the request nonce is malformed');
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    if (/[\r\n]/.test(path)) throw new AdminRefusal(401, 'unauthorized', 'malformed request path');
    let device: Awaited<ReturnType<TrustStore['verifyDevice']>>;
    try {
      device = await this.opts.trust.verifyDevice(decodeDeviceCertificate(fromBase64Url(certificate)));
    } catch (error) {
      throw new AdminRefusal(401, 'unauthorized', `the device certificate is not accepted: ${(error as Error).message}`);
    }
    if (device.school !== this.opts.school) throw new AdminRefusal(403, 'forbidden', "only this school's admins may use its admin API");
    if (device.role !== 'admin') throw new AdminRefusal(403, 'forbidden', `the admin API is for admin accounts; ${device.account} is ${device.role}`);
    const message = adminRequestMessage({ school: this.opts.school, method, path, time: at, nonce, bodyHash: await bodyHashOf(body) });
    let sig: Uint8Array;
    try {
      sig = fromBase64Url(signature);
    } catch {
      throw new AdminRefusal(401, 'unauthorized', 'the request signature is malformed');
    }
    if (!(await verifySignature(device.deviceKey, message, sig))) throw new AdminRefusal(401, 'unauthorized', 'the request signature does not verify');
    // Remembered only after the signature verified: strangers cannot fill the memory.
    this.forgetOld(now, window);
    if (this.nonces.has(nonce)) throw new AdminRefusal(401, 'unauthorized', 'this request was already used (replayed)');
    this.nonces.set(nonce, at);
    return {
      kind: 'device',
      device: device.id,
      account: device.account,
      certificate,
      request: { method, path, time: at, nonce, signature },
    };
  }

  private operator(req: IncomingMessage, authorization: string): AuditActor {
    const remote = req.socket.remoteAddress ?? '';
    const loopback = remote === '::1' || remote.startsWith('127.') || remote.startsWith('::ffff:127.');
    if (!loopback) throw new AdminRefusal(403, 'forbidden', 'the admin token is accepted on loopback only; admins elsewhere sign requests with their device');
    const token = /^Bearer (.+)$/.exec(authorization)?.[1] ?? '';
    const enc = new TextEncoder();
    const a = enc.encode(token);
    const b = enc.encode(this.opts.adminToken);
    if (a.length !== b.length || !constantTimeEqual(a, b)) throw new AdminRefusal(401, 'unauthorized', 'wrong or missing admin token');
    return { kind: 'operator' };
  }

  private forgetOld(now: number, window: number): void {
    for (const [nonce, at] of this.nonces) {
      if (now - at <= 2 * window && this.nonces.size <= MAX_NONCES) break;
      this.nonces.delete(nonce);
    }
  }
}
