/**
 * The account protocol (`/schoolmesh/account/1`, docs/protocol.md): a device manages its own account's devices at
 * its school's relay over the libp2p connection it already has (Noise proved the device key, so the relay knows
 * whose account it is without any further credential). One stream carries one request frame and one response frame;
 * each frame is a version byte, a type byte and a UTF-8 JSON body, decoded totally (bad bytes give
 * AccountProtocolError, never a throw from deep inside).
 */
import type { Libp2p } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { streamChannel } from '@schoolmesh/net-libp2p';

export const ACCOUNT_PROTOCOL = '/schoolmesh/account/1';
export const ACCOUNT_VERSION = 1;
/** A request larger than this is refused. */
export const MAX_ACCOUNT_FRAME = 64 * 1024;
/** A response larger than this is refused (a list of 200 devices with their certificates fits). */
export const MAX_ACCOUNT_RESPONSE = 1024 * 1024;
/** Stream options: a device asks rarely; a few streams at once are plenty. */
export const ACCOUNT_STREAM_OPTIONS = { maxInboundStreams: 4, maxOutboundStreams: 4, runOnLimitedConnection: false } as const;

export const AccountType = {
  LIST: 1,
  RENAME: 2,
  REVOKE: 3,
  CODE: 4,
  PEOPLE: 5,
  DEVICES: 0x81,
  DONE: 0x82,
  ISSUED: 0x83,
  FOUND: 0x84,
  ERROR: 0xff,
} as const;

export type AccountRequest =
  | { type: 'list' }
  | { type: 'rename'; device: string; name: string }
  | { type: 'revoke'; device: string }
  /** `origin`: the web app's origin (http/https, no path), for the enrollment link and its QR code in the answer. */
  | { type: 'code'; origin?: string }
  /** The school's directory: people this account may write to directly, matching `query` (every word starts a name word). */
  | { type: 'people'; query: string; offset?: number };

/** A person of the school's directory, as a device may see it. */
export interface DirectoryEntry {
  /** The account id within the school (`id@school` is the account reference). */
  account: string;
  displayName: string;
  role: string;
  /** Pupils: their class. */
  class?: string;
}

/** At most this many people in one FOUND answer. */
export const DIRECTORY_PAGE = 50;

/** One device of the account, as the relay knows it. */
export interface AccountDevice {
  device: string;
  /** The name the account gave it ('' until renamed). */
  name: string;
  enrolledAt: number;
  /** The last time a sync session of this device opened or closed at this relay (absent: not since it started). */
  lastSeen?: number;
  /** A sync session of this device is open right now. */
  online: boolean;
  /** The device asking. */
  current: boolean;
  /** How it was enrolled: 'code', 'approval' (a code from another device of the account), or a sign-in method ('ldap'). */
  via: string;
  revoked: boolean;
  /**
   * The device's certificate as the relay issued it (base64url of its encoding), for devices that are not revoked:
   * what another device of the account needs to approve it into its groups. Records from before it was kept lack it.
   */
  certificate?: string;
}

export type AccountErrorCode = 'bad-request' | 'not-enrolled' | 'not-yours' | 'too-many-codes' | 'internal';

export type AccountResponse =
  | { type: 'devices'; devices: AccountDevice[] }
  | { type: 'found'; total: number; offset: number; people: DirectoryEntry[] }
  | { type: 'done' }
  /** `url` (…/#enroll=CODE) and `qrSvg` (its QR code, an SVG document: show it as an image, never inline) when an origin was given. */
  | { type: 'issued'; code: string; expiresAt: number; url?: string; qrSvg?: string }
  | { type: 'error'; code: AccountErrorCode; message: string };

export class AccountProtocolError extends Error {
  override readonly name = 'AccountProtocolError';
  constructor(
    readonly code: AccountErrorCode | 'unreachable' | 'bad-response',
    message: string,
  ) {
    super(message);
  }
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });
const DEVICE_ID = /^[A-Za-z0-9_-]{43}$/;
const ERROR_CODES: readonly string[] = ['bad-request', 'not-enrolled', 'not-yours', 'too-many-codes', 'internal'];

function frameOf(type: number, body: unknown): Uint8Array {
  const json = utf8.encode(JSON.stringify(body));
  const out = new Uint8Array(2 + json.length);
  out[0] = ACCOUNT_VERSION;
  out[1] = type;
  out.set(json, 2);
  return out;
}

function open(bytes: Uint8Array, max = MAX_ACCOUNT_FRAME): { type: number; body: Record<string, unknown> } {
  if (bytes.length < 2 || bytes.length > max) throw new AccountProtocolError('bad-request', 'frame size out of range');
  if (bytes[0] !== ACCOUNT_VERSION) throw new AccountProtocolError('bad-request', `unknown version ${bytes[0]}`);
  let body: unknown;
  try {
    body = JSON.parse(fromUtf8.decode(bytes.subarray(2)));
  } catch {
    throw new AccountProtocolError('bad-request', 'the body is not UTF-8 JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AccountProtocolError('bad-request', 'the body is not an object');
  return { type: bytes[1]!, body: body as Record<string, unknown> };
}

/** A device's name: 1–64 characters, no control characters, trimmed. */
export function checkDeviceName(name: unknown): string {
  if (typeof name !== 'string') throw new AccountProtocolError('bad-request', 'name: a string');
  const trimmed = name.trim();
  if ([...trimmed].length < 1 || [...trimmed].length > 64 || /\p{Cc}/u.test(trimmed)) throw new AccountProtocolError('bad-request', 'name: 1–64 characters, no control characters');
  return trimmed;
}

/** An http(s) origin: scheme, host, optional port; nothing else. */
function origin(value: unknown): string {
  if (typeof value !== 'string' || value.length > 200) throw new AccountProtocolError('bad-request', 'origin: an http(s) origin');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AccountProtocolError('bad-request', 'origin: an http(s) origin');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== value) throw new AccountProtocolError('bad-request', 'origin: an http(s) origin');
  return value;
}

function deviceId(value: unknown): string {
  if (typeof value !== 'string' || !DEVICE_ID.test(value)) throw new AccountProtocolError('bad-request', 'device: a device id (43 base64url characters)');
  return value;
}

export function encodeAccountRequest(r: AccountRequest): Uint8Array {
  switch (r.type) {
    case 'list':
      return frameOf(AccountType.LIST, {});
    case 'rename':
      return frameOf(AccountType.RENAME, { device: r.device, name: r.name });
    case 'revoke':
      return frameOf(AccountType.REVOKE, { device: r.device });
    case 'code':
      return frameOf(AccountType.CODE, r.origin === undefined ? {} : { origin: r.origin });
    case 'people':
      return frameOf(AccountType.PEOPLE, { query: r.query, ...(r.offset ? { offset: r.offset } : {}) });
  }
}

function query(value: unknown): string {
  if (typeof value !== 'string' || value.length > 100 || /\p{Cc}/u.test(value)) throw new AccountProtocolError('bad-request', 'query: up to 100 characters');
  return value;
}

function offset(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > 1_000_000) throw new AccountProtocolError('bad-request', 'offset: a whole number');
  return value;
}

/** Decodes a request; throws AccountProtocolError('bad-request') for anything malformed. */
export function decodeAccountRequest(bytes: Uint8Array): AccountRequest {
  const { type, body } = open(bytes);
  switch (type) {
    case AccountType.LIST:
      return { type: 'list' };
    case AccountType.RENAME:
      return { type: 'rename', device: deviceId(body.device), name: checkDeviceName(body.name) };
    case AccountType.REVOKE:
      return { type: 'revoke', device: deviceId(body.device) };
    case AccountType.CODE:
      return body.origin === undefined ? { type: 'code' } : { type: 'code', origin: origin(body.origin) };
    case AccountType.PEOPLE:
      return { type: 'people', query: query(body.query), offset: offset(body.offset) };
    default:
      throw new AccountProtocolError('bad-request', `unknown request type ${type}`);
  }
}

export function encodeAccountResponse(r: AccountResponse): Uint8Array {
  switch (r.type) {
    case 'devices':
      return frameOf(AccountType.DEVICES, { devices: r.devices });
    case 'found':
      return frameOf(AccountType.FOUND, { total: r.total, offset: r.offset, people: r.people });
    case 'done':
      return frameOf(AccountType.DONE, {});
    case 'issued':
      return frameOf(AccountType.ISSUED, { code: r.code, expiresAt: r.expiresAt, ...(r.url ? { url: r.url, qrSvg: r.qrSvg } : {}) });
    case 'error':
      return frameOf(AccountType.ERROR, { code: r.code, message: r.message });
  }
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new AccountProtocolError('bad-response', `${what}: a number`);
  return v;
}

function str(v: unknown, what: string, max = 200): string {
  if (typeof v !== 'string' || v.length > max) throw new AccountProtocolError('bad-response', `${what}: a string`);
  return v;
}

function base64url(v: unknown, what: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max || !/^[A-Za-z0-9_-]+$/.test(v)) throw new AccountProtocolError('bad-response', `${what}: base64url`);
  return v;
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw new AccountProtocolError('bad-response', `${what}: true or false`);
  return v;
}

/** Decodes a response; throws AccountProtocolError('bad-response') for anything malformed. */
export function decodeAccountResponse(bytes: Uint8Array): AccountResponse {
  let opened: ReturnType<typeof open>;
  try {
    opened = open(bytes, MAX_ACCOUNT_RESPONSE);
  } catch (error) {
    throw new AccountProtocolError('bad-response', (error as Error).message);
  }
  const { type, body } = opened;
  switch (type) {
    case AccountType.DEVICES: {
      if (!Array.isArray(body.devices) || body.devices.length > 500) throw new AccountProtocolError('bad-response', 'devices: a list');
      const devices = body.devices.map((d: unknown): AccountDevice => {
        if (typeof d !== 'object' || d === null) throw new AccountProtocolError('bad-response', 'devices: objects');
        const o = d as Record<string, unknown>;
        if (typeof o.device !== 'string' || !DEVICE_ID.test(o.device)) throw new AccountProtocolError('bad-response', 'device: a device id');
        return {
          device: o.device,
          name: str(o.name, 'name', 64 * 4),
          enrolledAt: num(o.enrolledAt, 'enrolledAt'),
          ...(o.lastSeen === undefined ? {} : { lastSeen: num(o.lastSeen, 'lastSeen') }),
          online: bool(o.online, 'online'),
          current: bool(o.current, 'current'),
          via: str(o.via, 'via', 64),
          revoked: bool(o.revoked, 'revoked'),
          ...(o.certificate === undefined ? {} : { certificate: base64url(o.certificate, 'certificate', 8192) }),
        };
      });
      return { type: 'devices', devices };
    }
    case AccountType.FOUND: {
      if (!Array.isArray(body.people) || body.people.length > DIRECTORY_PAGE) throw new AccountProtocolError('bad-response', 'people: a list');
      const people = body.people.map((p: unknown): DirectoryEntry => {
        if (typeof p !== 'object' || p === null) throw new AccountProtocolError('bad-response', 'people: objects');
        const o = p as Record<string, unknown>;
        return {
          account: str(o.account, 'account', 256),
          displayName: str(o.displayName, 'displayName', 256),
          role: str(o.role, 'role', 32),
          ...(o.class === undefined ? {} : { class: str(o.class, 'class', 64) }),
        };
      });
      return { type: 'found', total: num(body.total, 'total'), offset: num(body.offset, 'offset'), people };
    }
    case AccountType.DONE:
      return { type: 'done' };
    case AccountType.ISSUED:
      return {
        type: 'issued',
        code: str(body.code, 'code', 32),
        expiresAt: num(body.expiresAt, 'expiresAt'),
        ...(body.url === undefined ? {} : { url: str(body.url, 'url', 400), qrSvg: str(body.qrSvg, 'qrSvg', 60_000) }),
      };
    case AccountType.ERROR: {
      const code = ERROR_CODES.includes(String(body.code)) ? (body.code as AccountErrorCode) : 'internal';
      return { type: 'error', code, message: str(body.message ?? '', 'message', 1000) };
    }
    default:
      throw new AccountProtocolError('bad-response', `unknown response type ${type}`);
  }
}

/**
 * Sends one request to the relay at `addr` (its multiaddrs with /p2p/; an open connection is reused) and returns
 * its answer; an ERROR answer throws AccountProtocolError with the relay's code.
 */
export async function accountCall(node: Libp2p, addr: Multiaddr | Multiaddr[], request: AccountRequest, timeoutMs = 10_000): Promise<Exclude<AccountResponse, { type: 'error' }>> {
  const signal = AbortSignal.timeout(timeoutMs);
  let stream: Awaited<ReturnType<Libp2p['dialProtocol']>>;
  try {
    stream = await node.dialProtocol(addr, ACCOUNT_PROTOCOL, { signal });
  } catch (error) {
    throw new AccountProtocolError('unreachable', `the relay cannot be reached: ${(error as Error).message}`);
  }
  const channel = streamChannel(stream);
  const answer = await new Promise<Uint8Array>((resolve, reject) => {
    const timer = setTimeout(() => reject(new AccountProtocolError('unreachable', 'the relay did not answer in time')), timeoutMs);
    channel.onFrame((frame) => {
      clearTimeout(timer);
      resolve(frame);
    });
    channel.onClose((reason) => {
      clearTimeout(timer);
      reject(new AccountProtocolError('unreachable', `the relay closed the stream: ${reason ?? ''}`));
    });
    channel.send(encodeAccountRequest(request));
  }).finally(() => channel.close());
  const response = decodeAccountResponse(answer);
  if (response.type === 'error') throw new AccountProtocolError(response.code, response.message);
  return response;
}
