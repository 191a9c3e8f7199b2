/**
 * Signed admin requests: how an admin's device calls its relay's admin API over plain HTTP. The device signs the
 * method, path, body hash, a timestamp and a random nonce, bound to its school, with its own Ed25519 key, and sends
 * its certificate along; the relay admits the request only from a valid, unrevoked `admin` certificate of its own
 * school, within a time window, once (docs/protocol.md, "Admin API").
 */
import { randomBytes, sha256 } from '@schoolmesh/crypto';
import type { DeviceIdentity } from '@schoolmesh/identity';
import { toBase64Url, toHex } from '@schoolmesh/wire';

export const ADMIN_REQUEST_CONTEXT = 'schoolmesh/admin-request/v1';

/** The headers a signed admin request carries (lower-case, as Node's http module gives them). */
export const ADMIN_HEADERS = {
  certificate: 'x-schoolmesh-certificate',
  time: 'x-schoolmesh-time',
  nonce: 'x-schoolmesh-nonce',
  signature: 'x-schoolmesh-signature',
} as const;

export interface AdminRequestFields {
  school: string;
  method: string;
  /** The path with its query string, as sent. */
  path: string;
  time: number;
  nonce: string;
  /** Hex SHA-256 of the body bytes (of nothing for a request without body). */
  bodyHash: string;
}

const utf8 = new TextEncoder();

/** The exact bytes that are signed. Newlines cannot occur inside the fields (the relay refuses them). */
export function adminRequestMessage(f: AdminRequestFields): Uint8Array {
  return utf8.encode([ADMIN_REQUEST_CONTEXT, f.school, f.method.toUpperCase(), f.path, String(f.time), f.nonce, f.bodyHash].join('\n'));
}

export async function bodyHashOf(body: Uint8Array): Promise<string> {
  return toHex(await sha256(body));
}

/** Signs one admin request: returns the headers to send with it (and the body bytes to send unchanged). */
export async function signAdminRequest(
  identity: DeviceIdentity,
  request: { method: string; path: string; body?: string; now?: number },
): Promise<{ headers: Record<string, string>; body: Uint8Array; fields: AdminRequestFields }> {
  const body = utf8.encode(request.body ?? '');
  const fields: AdminRequestFields = {
    school: identity.certificate.school,
    method: request.method.toUpperCase(),
    path: request.path,
    time: request.now ?? Date.now(),
    nonce: toBase64Url(randomBytes(16)),
    bodyHash: await bodyHashOf(body),
  };
  const signature = await identity.signing.sign(adminRequestMessage(fields));
  return {
    body,
    fields,
    headers: {
      [ADMIN_HEADERS.certificate]: toBase64Url(identity.certificate.bytes),
      [ADMIN_HEADERS.time]: String(fields.time),
      [ADMIN_HEADERS.nonce]: fields.nonce,
      [ADMIN_HEADERS.signature]: toBase64Url(signature),
    },
  };
}

export class AdminRequestError extends Error {
  override readonly name = 'AdminRequestError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Calls the relay's admin API as this (admin) device; throws AdminRequestError with the relay's reason. */
export async function adminFetch<T = Record<string, unknown>>(httpUrl: string, identity: DeviceIdentity, method: string, path: string, payload?: unknown): Promise<T> {
  const text = payload === undefined ? '' : JSON.stringify(payload);
  const signed = await signAdminRequest(identity, { method, path, body: text });
  const response = await fetch(new URL(path, httpUrl), {
    method,
    headers: { ...signed.headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(payload === undefined ? {} : { body: text }),
  });
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) throw new AdminRequestError(String(json.error ?? 'error'), String(json.message ?? `HTTP ${response.status}`), response.status);
  return json as T;
}
