import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import type { DeviceCertificate } from '@schoolmesh/identity';
import type { Role } from '@schoolmesh/model';
import { fromBase64Url, toBase64Url } from '@schoolmesh/wire';
import type { Logger } from 'pino';
import { type AdminContext, adminRoutes } from './admin-api.ts';
import { type Enrollment, EnrollmentError } from './enrollment.ts';
import { HttpError, json } from './http-response.ts';
import type { RelayMetrics } from './metrics.ts';

export interface HttpContext {
  school: { id: string; name: string; root: string };
  /** Partner schools whose devices this school's devices should trust (shared groups). */
  partners: { name: string; root: string }[];
  /** School-wide rules devices apply themselves. */
  policy: () => { pupilDirectMessages: boolean; whoMayCreateGroups: Role[] };
  enrollment: Enrollment;
  metrics: RelayMetrics;
  webRoot: string | undefined;
  failuresPerMinutePerAddress: number;
  log: Logger;
  /** Multiaddrs devices dial (WebSockets for browsers, TCP for Node), with /p2p/. */
  relayAddrs(): { peerId: string; ws: string[]; tcp: string[] };
  health(): Record<string, unknown>;
  refreshMetrics(): Promise<void>;
  /** The admin API (admin devices' signed requests, the operator's token on loopback). */
  admin: AdminContext;
}

export const MAX_BODY = 16 * 1024;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** The relay's HTTP side: the web app, enrollment, the revocation list, /healthz, /metrics, and the admin API. */
export function createHttpServer(ctx: HttpContext): Server {
  const failures = new Map<string, { count: number; since: number }>();
  const tooMany = (ip: string) => {
    const f = failures.get(ip);
    if (!f || Date.now() - f.since > 60_000) return false;
    return f.count >= ctx.failuresPerMinutePerAddress;
  };
  const failed = (ip: string) => {
    const f = failures.get(ip);
    if (!f || Date.now() - f.since > 60_000) failures.set(ip, { count: 1, since: Date.now() });
    else f.count++;
    if (failures.size > 10_000) failures.delete(failures.keys().next().value!);
  };

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    'GET /healthz': async (_req, res) => json(res, 200, ctx.health()),
    'GET /metrics': async (_req, res) => {
      await ctx.refreshMetrics();
      res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType });
      res.end(await ctx.metrics.registry.metrics());
    },
    'GET /api/school': async (_req, res) =>
      json(res, 200, { school: ctx.school, partners: ctx.partners, relay: ctx.relayAddrs(), methods: ['code', ...ctx.enrollment.authenticatorNames], policy: ctx.policy() }),
    'GET /api/revocations': async (_req, res) => {
      const list = ctx.enrollment.revocationList();
      if (!list) return void json(res, 404, { error: 'no-revocations', message: 'this school has revoked no device' });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-cache' });
      res.end(list.bytes);
    },
    'POST /api/enroll': async (req, res) => {
      const ip = req.socket.remoteAddress ?? '?';
      if (tooMany(ip)) throw new HttpError(429, 'too many failed attempts; wait a minute', 'too-many-attempts');
      const body = await readJson(req);
      const deviceKey = key(body.deviceKey, 'deviceKey');
      const agreementKey = key(body.agreementKey, 'agreementKey');
      const keys = { deviceKey, agreementKey };
      try {
        let cert: DeviceCertificate;
        if (typeof body.code === 'string') cert = await ctx.enrollment.redeemCode(body.code, keys);
        else if (typeof body.method === 'string' && typeof body.username === 'string' && typeof body.password === 'string')
          cert = await ctx.enrollment.redeemPassword(body.method, body.username, body.password, keys, { address: ip });
        else throw new HttpError(400, 'send a code, or a method with username and password', 'bad-request');
        ctx.log.info({ account: cert.account, device: toBase64Url(cert.deviceKey) }, 'device enrolled');
        json(res, 200, { certificate: toBase64Url(cert.bytes), school: ctx.school, partners: ctx.partners, relay: ctx.relayAddrs(), policy: ctx.policy() });
      } catch (error) {
        if (error instanceof EnrollmentError) {
          if (error.code !== 'bad-request' && error.code !== 'unavailable') failed(ip);
          const status = { 'bad-request': 400, 'unknown-code': 403, 'expired-code': 403, 'wrong-credentials': 403, 'too-many-attempts': 429, unavailable: 503, 'not-renewable': 403 }[error.code];
          throw new HttpError(status, error.message, error.code);
        }
        throw error;
      }
    },
    'POST /api/renew': async (req, res) => {
      const ip = req.socket.remoteAddress ?? '?';
      if (tooMany(ip)) throw new HttpError(429, 'too many failed attempts; wait a minute', 'too-many-attempts');
      const body = await readJson(req);
      if (typeof body.certificate !== 'string' || body.certificate.length > 8192 || !/^[A-Za-z0-9_-]+$/.test(body.certificate))
        throw new HttpError(400, 'certificate: the device certificate, base64url', 'bad-request');
      if (typeof body.signature !== 'string' || !/^[A-Za-z0-9_-]{86}$/.test(body.signature))
        throw new HttpError(400, 'signature: 64 bytes, base64url', 'bad-request');
      if (typeof body.timestamp !== 'number' || !Number.isSafeInteger(body.timestamp) || body.timestamp < 0)
        throw new HttpError(400, 'timestamp: milliseconds since 1970', 'bad-request');
      try {
        const cert = await ctx.enrollment.renew({ certificate: fromBase64Url(body.certificate), timestamp: body.timestamp, signature: fromBase64Url(body.signature) });
        ctx.log.info({ account: cert.account, device: toBase64Url(cert.deviceKey), notAfter: cert.notAfter }, 'device certificate renewed');
        json(res, 200, { certificate: toBase64Url(cert.bytes) });
      } catch (error) {
        if (error instanceof EnrollmentError) {
          failed(ip);
          throw new HttpError(403, error.message, error.code);
        }
        throw error;
      }
    },
    ...adminRoutes(ctx.admin),
  };

  return createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://relay').pathname;
    const route = routes[`${req.method} ${path}`];
    const handle = route ? route(req, res) : serveStatic(ctx, req, res, path);
    handle.catch((error: unknown) => {
      if (res.headersSent) return void res.end();
      if (error instanceof HttpError) return void json(res, error.status, { error: error.code, message: error.message });
      ctx.log.error({ err: error, path }, 'http handler failed');
      json(res, 500, { error: 'internal', message: 'internal error' });
    });
  });
}

function key(value: unknown, name: string): Uint8Array {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(value)) throw new HttpError(400, `${name}: a base64url 32-byte key`, 'bad-request');
  return fromBase64Url(value);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!(req.headers['content-type'] ?? '').includes('application/json')) throw new HttpError(415, 'send application/json', 'bad-request');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`, 'bad-request');
    chunks.push(chunk as Buffer);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not valid JSON', 'bad-request');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HttpError(400, 'the body must be a JSON object', 'bad-request');
  return parsed as Record<string, unknown>;
}

async function serveStatic(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed', 'method');
  if (!ctx.webRoot) return void placeholder(ctx, res);
  const root = normalize(ctx.webRoot);
  let file = normalize(join(root, decodeURIComponent(path)));
  if (file !== root && !file.startsWith(root + sep)) throw new HttpError(404, 'not found', 'not-found');
  let info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) {
    file = join(file, 'index.html');
    info = await stat(file).catch(() => undefined);
  }
  // A single-page app: unknown paths without an extension get index.html.
  if (!info && extname(path) === '') {
    file = join(root, 'index.html');
    info = await stat(file).catch(() => undefined);
  }
  if (!info) {
    if (path === '/') return void placeholder(ctx, res);
    throw new HttpError(404, 'not found', 'not-found');
  }
  const immutable = file.includes(`${sep}assets${sep}`);
  res.writeHead(200, {
    'content-type': MIME[extname(file)] ?? 'application/octet-stream',
    'content-length': info.size,
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') return void res.end();
  await new Promise<void>((resolve, reject) => createReadStream(file).on('error', reject).on('end', resolve).pipe(res));
}

function placeholder(ctx: HttpContext, res: ServerResponse): void {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
  res.end(`<!doctype html><html lang="de"><meta charset="utf-8"><title>Schoolmesh – ${esc(ctx.school.name)}</title>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;line-height:1.5">
<h1>Schoolmesh-Relay: ${esc(ctx.school.name)}</h1>
<p>Das Relay läuft. Die Web-App ist auf diesem Relay noch nicht gebaut (<code>web/dist</code> fehlt).</p>
<p lang="en">The relay is running. The web app is not built on this relay yet.</p>
<p><a href="/healthz">/healthz</a> · <a href="/metrics">/metrics</a> · <a href="/api/school">/api/school</a></p>
</body></html>`);
}
