/**
 * The admin API: accounts, groups, devices, policies, federation partners, the directory and its sync, and the
 * audit log. Every route admits the operator (token, loopback) or an admin device (signed request, AdminGate);
 * every change is appended to the signed audit log with the request that asked for it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Role, SchoolPolicy } from '@schoolmesh/model';
import type { Logger } from 'pino';
import QRCode from 'qrcode';
import { AdminRefusal, type AdminGate } from './admin-gate.ts';
import type { AuditActor, AuditLog } from './audit-log.ts';
import type { DirectorySync, SyncReport } from './directory-sync.ts';
import { type Enrollment, EnrollmentError } from './enrollment.ts';
import { HttpError, json } from './http-response.ts';
import { PolicyError } from './school-policy.ts';

const MAX_ADMIN_BODY = 16 * 1024;
const DEVICE_ID = /^[A-Za-z0-9_-]{43}$/;

export interface AdminGroup {
  id: string;
  name: string;
  kind: string;
  members: number;
  devices: number;
  retentionDays: number;
  /** The directory key when the sync keeps this group (`class:2026/27:7a`), and whether it ended. */
  directory?: { key: string; ended: boolean };
}

export interface AdminContext {
  gate: AdminGate;
  audit: AuditLog;
  enrollment: Enrollment;
  log: Logger;
  revoke(devices: string[]): Promise<void>;
  directorySync(): DirectorySync | undefined;
  policy(): SchoolPolicy;
  updatePolicy(patch: unknown): Promise<{ policy: SchoolPolicy; updates: SyncReport['policyUpdates'] }>;
  groups(): AdminGroup[];
  partners(): { name: string; root: string; addrs: string[]; http?: string; connected: boolean }[];
  /** The `directory` (LDAP) settings without secrets, and the sync settings; undefined when neither is set. */
  directorySettings(): Record<string, unknown> | undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

interface AdminRequest {
  actor: AuditActor;
  /** The body as sent (what the audit log keeps). */
  text: string;
  body: Record<string, unknown>;
  query: URLSearchParams;
}

export function adminRoutes(ctx: AdminContext): Record<string, Handler> {
  /** Reads the body, then authorizes: a signed request covers the body's hash. */
  const admit = async (req: IncomingMessage): Promise<AdminRequest> => {
    const bytes = await readBody(req);
    let actor: AuditActor;
    try {
      actor = await ctx.gate.authorize(req, bytes);
    } catch (error) {
      if (error instanceof AdminRefusal) {
        ctx.log.info({ component: 'admin', reason: error.message, address: req.socket.remoteAddress, path: req.url }, 'admin request refused');
        throw new HttpError(error.status, error.message, error.code);
      }
      throw error;
    }
    const text = new TextDecoder().decode(bytes);
    let body: Record<string, unknown> = {};
    if (text.trim() !== '') {
      if (!(req.headers['content-type'] ?? '').includes('application/json')) throw new HttpError(415, 'send application/json', 'bad-request');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new HttpError(400, 'the body is not valid JSON', 'bad-request');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HttpError(400, 'the body must be a JSON object', 'bad-request');
      body = parsed as Record<string, unknown>;
    }
    return { actor, text, body, query: new URL(req.url ?? '/', 'http://relay').searchParams };
  };
  const record = async (action: string, r: AdminRequest) => {
    await ctx.audit.append(action, r.text, r.actor);
    ctx.log.warn({ component: 'admin', action, by: r.actor.kind === 'device' ? `${r.actor.account} (${r.actor.device})` : 'operator' }, 'admin action');
  };

  return {
    'GET /api/admin/whoami': async (req, res) => {
      const { actor } = await admit(req);
      json(res, 200, actor.kind === 'device' ? { kind: 'device', account: actor.account, device: actor.device } : { kind: 'operator' });
    },
    'POST /api/admin/codes': async (req, res) => {
      const r = await admit(req);
      const account = { account: String(r.body.account ?? ''), displayName: String(r.body.displayName ?? r.body.account ?? ''), role: String(r.body.role ?? '') as Role };
      try {
        const { code, expiresAt } = await ctx.enrollment.issueCode(account);
        const host = req.headers.host ?? 'localhost';
        const url = `http://${host}/#enroll=${code}`;
        const qrSvg = await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
        await record('issue-code', r);
        json(res, 200, { code, expiresAt, url, qrSvg, account: account.account });
      } catch (error) {
        if (error instanceof EnrollmentError) throw new HttpError(400, error.message, error.code);
        throw error;
      }
    },
    'POST /api/admin/revoke': async (req, res) => {
      const r = await admit(req);
      const devices = r.body.devices;
      if (!Array.isArray(devices) || devices.length === 0 || devices.length > 1000 || !devices.every((d) => typeof d === 'string' && DEVICE_ID.test(d)))
        throw new HttpError(400, 'devices: a list of device ids (base64url keys)', 'bad-request');
      await ctx.revoke(devices as string[]);
      await record('revoke', r);
      json(res, 200, { revoked: ctx.enrollment.revokedDevices() });
    },
    'GET /api/admin/devices': async (req, res) => {
      const r = await admit(req);
      const account = r.query.get('account');
      const revoked = new Set(ctx.enrollment.revokedDevices());
      const devices = (await ctx.enrollment.devices()).filter((d) => account === null || d.account === account).map((d) => ({ ...d, revoked: revoked.has(d.device) }));
      json(res, 200, { devices });
    },
    'POST /api/admin/devices/rename': async (req, res) => {
      const r = await admit(req);
      const { device, name } = r.body;
      if (typeof device !== 'string' || !DEVICE_ID.test(device)) throw new HttpError(400, 'device: a device id', 'bad-request');
      if (typeof name !== 'string' || name.trim().length === 0 || name.length > 100 || /\p{Cc}/u.test(name)) throw new HttpError(400, 'name: 1–100 characters', 'bad-request');
      if (!(await ctx.enrollment.device(device))) throw new HttpError(404, 'no such device', 'not-found');
      await ctx.enrollment.renameDevice(device, name.trim());
      await record('rename-device', r);
      json(res, 200, { device, name: name.trim() });
    },
    'GET /api/admin/accounts': async (req, res) => {
      const r = await admit(req);
      const q = (r.query.get('q') ?? '').trim().toLocaleLowerCase('de');
      const limit = Math.min(Math.max(Number(r.query.get('limit') ?? 100) || 100, 1), 500);
      const offset = Math.max(Math.floor(Number(r.query.get('offset') ?? 0)) || 0, 0);
      const devices = await ctx.enrollment.devices();
      const revoked = new Set(ctx.enrollment.revokedDevices());
      const count = new Map<string, number>();
      for (const d of devices) if (!revoked.has(d.device)) count.set(d.account, (count.get(d.account) ?? 0) + 1);
      const people = ctx.directorySync()?.directory()?.people;
      const all = people
        ? people.map((p) => ({ id: p.id, displayName: p.displayName, role: p.role, class: p.class ?? null, locked: p.locked === true, devices: count.get(p.id) ?? 0 }))
        : [...new Map(devices.map((d) => [d.account, { id: d.account, displayName: d.account, role: d.role, class: null, locked: false, devices: count.get(d.account) ?? 0 }])).values()];
      const matches = q === '' ? all : all.filter((a) => [a.id, a.displayName, a.class ?? ''].some((v) => v.toLocaleLowerCase('de').includes(q)));
      json(res, 200, { source: people ? 'directory' : 'enrollment', total: matches.length, offset, accounts: matches.slice(offset, offset + limit) });
    },
    'GET /api/admin/groups': async (req, res) => {
      await admit(req);
      json(res, 200, { groups: ctx.groups() });
    },
    'GET /api/admin/sync': async (req, res) => {
      await admit(req);
      const sync = ctx.directorySync();
      json(res, 200, { configured: sync !== undefined, running: sync?.isRunning() ?? false, report: sync?.lastReport() ?? null });
    },
    'POST /api/admin/sync': async (req, res) => {
      const r = await admit(req);
      const sync = ctx.directorySync();
      if (!sync) throw new HttpError(409, 'this relay runs no directory sync (config: directorySync)', 'not-configured');
      const report = await sync.run('admin', { force: r.body.force === true });
      await record('sync', r);
      json(res, 200, { report });
    },
    'GET /api/admin/policy': async (req, res) => {
      await admit(req);
      json(res, 200, { policy: ctx.policy() });
    },
    'PUT /api/admin/policy': async (req, res) => {
      const r = await admit(req);
      try {
        const result = await ctx.updatePolicy(r.body);
        await record('policy', r);
        json(res, 200, result);
      } catch (error) {
        if (error instanceof PolicyError) throw new HttpError(400, error.message, 'bad-request');
        throw error;
      }
    },
    'GET /api/admin/federation': async (req, res) => {
      await admit(req);
      json(res, 200, { partners: ctx.partners(), editable: false, note: 'partners are edited in the relay config (federation.partners) and take effect after a restart' });
    },
    'GET /api/admin/directory': async (req, res) => {
      await admit(req);
      json(res, 200, { settings: ctx.directorySettings() ?? null });
    },
    'GET /api/admin/audit': async (req, res) => {
      await admit(req);
      const { entries, head } = ctx.audit.list();
      json(res, 200, { entries, head: head ?? null, verdict: await ctx.audit.verify() });
    },
  };
}

async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_ADMIN_BODY) throw new HttpError(413, `request body over ${MAX_ADMIN_BODY} bytes`, 'bad-request');
    chunks.push(chunk as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
