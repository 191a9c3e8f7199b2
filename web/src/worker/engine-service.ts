/**
 * The engine half of the engine worker (`engine-worker.ts` is the other, small half): every API method that needs a
 * profile's key, engine, storage or relay link. Its own chunk, which the worker's entry starts loading at once and
 * which the profile list and the unlock screen do not wait for.
 */
import { AdminRequestError, type Credentials, EnrollError, adminFetch, enroll } from '@schoolmesh/client';
import type { AuditEntry, AuditHead } from '@schoolmesh/client/audit';
import { AttachmentError, EngineError } from '@schoolmesh/engine';
import { PASSPHRASE_ITERATIONS, randomBytes } from '@schoolmesh/crypto';
import { deleteIdbStorage, openIdbStorage } from '@schoolmesh/storage-idb';
import { fromBase64Url, toBase64Url } from '@schoolmesh/wire';
import { isSendableType } from '../api/files.ts';
import type { ApiError, AppEvent, EngineApi, FromWorker, Method, Opened } from '../api/protocol.ts';
import type { Client } from './worker-client.ts';
import { EncryptedStorage, WrongPinError, deriveProfileKey } from './encrypted-storage.ts';
import { type ProfileRecord, deleteProfile, getProfile, listProfiles, profileDatabase, putProfile, summaryOf } from './registry.ts';
import { DirectChatRefused, GroupRefused } from './people.ts';
import { ProfileRuntime, storeNewProfile } from './runtime.ts';

export class ApiFailure extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
  }
}

const runtimes = new Map<string, Promise<ProfileRuntime>>();

/** Sends to one tab, and to every tab that opened a profile (or every tab); set by the worker's entry. */
let send: (client: Client, message: FromWorker) => void = () => {};
let broadcast: (profile: string | undefined, event: AppEvent) => void = () => {};
let clients: Iterable<Client> = [];

/** Connects this module to the entry's tabs (called once, when the chunk has loaded). */
export function connect(io: { clients: Iterable<Client>; send: typeof send; broadcast: typeof broadcast }): void {
  ({ clients, send, broadcast } = io);
}

const MIN_PIN_LENGTH = 4;
/** Wrong PINs per profile: after FREE_ATTEMPTS, each further attempt waits twice as long (at most a minute). */
const failures = new Map<string, { count: number; until: number }>();
const FREE_ATTEMPTS = 5;

function checkPin(pin: unknown): string {
  if (typeof pin !== 'string' || [...pin].length < MIN_PIN_LENGTH) throw new ApiFailure({ code: 'bad-request', detail: 'short-pin', message: `a PIN has at least ${MIN_PIN_LENGTH} characters` });
  return pin;
}

/** A one-time code (normalized to XXXXX-XXXXX-XXXXX), or a password sign-in; anything else is a bad request. */
function credentialsOf(args: Parameters<EngineApi['enroll']>[0]): Credentials {
  if ('signIn' in args && args.signIn) {
    const { method, username, password } = args.signIn;
    if (typeof method !== 'string' || typeof username !== 'string' || typeof password !== 'string' || username.trim() === '' || password === '')
      throw new ApiFailure({ code: 'enroll', detail: 'bad-request', message: 'a sign-in needs a method, a user name and a password' });
    return { method, username: username.trim(), password };
  }
  const clean = String('code' in args ? args.code : '').trim().toUpperCase();
  if (!/^[0-9A-Z]{5}-?[0-9A-Z]{5}-?[0-9A-Z]{5}$/.test(clean)) throw new ApiFailure({ code: 'enroll', detail: 'bad-code', message: 'malformed code' });
  return { code: clean.includes('-') ? clean : `${clean.slice(0, 5)}-${clean.slice(5, 10)}-${clean.slice(10)}` };
}

/** Derives the profile's key from the PIN and proves it against the profile's check record. */
async function unlockKey(record: ProfileRecord, pin: string) {
  const f = failures.get(record.id);
  if (f && f.until > Date.now()) throw new ApiFailure({ code: 'wrong-pin', message: 'wait before the next attempt', retryAfterMs: f.until - Date.now() });
  const key = await deriveProfileKey(pin, fromBase64Url(record.lock.salt), record.lock.iterations);
  const probe = new EncryptedStorage(await openIdbStorage(profileDatabase(record.id)), key);
  try {
    await probe.verify();
  } catch (error) {
    if (!(error instanceof WrongPinError)) throw error;
    const count = (f?.count ?? 0) + 1;
    const wait = count > FREE_ATTEMPTS ? Math.min(60_000, 1000 * 2 ** (count - FREE_ATTEMPTS - 1)) : 0;
    failures.set(record.id, { count, until: Date.now() + wait });
    throw new ApiFailure({ code: 'wrong-pin', message: 'wrong PIN', ...(wait > 0 ? { retryAfterMs: wait } : {}) });
  } finally {
    await probe.close();
  }
  failures.delete(record.id);
  return key;
}

/** Releases of the Web Locks held for open profiles. */
const held = new Map<string, () => void>();

/**
 * One engine per profile in the whole browser: with a SharedWorker that is this worker, but dedicated Workers (one
 * per tab) would open the same database twice and race on sequence numbers. A Web Lock per profile prevents that.
 */
async function holdProfileLock(id: string): Promise<void> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks) return;
  await new Promise<void>((acquired, refused) => {
    void locks.request(`schoolmesh-profile-${id}`, { ifAvailable: true }, (lock) => {
      if (!lock) {
        refused(new ApiFailure({ code: 'locked', detail: 'open-elsewhere', message: 'this profile is open in another tab' }));
        return;
      }
      acquired();
      return new Promise<void>((release) => held.set(id, release));
    });
  });
}

function releaseProfileLock(id: string): void {
  held.get(id)?.();
  held.delete(id);
}

function startRuntime(record: ProfileRecord, key: Awaited<ReturnType<typeof deriveProfileKey>>): Promise<ProfileRuntime> {
  let runtime = runtimes.get(record.id);
  if (!runtime) {
    runtime = (async () => {
      await holdProfileLock(record.id);
      try {
        return await ProfileRuntime.open(summaryOf(record), key, (event) => broadcast(record.id, event));
      } catch (error) {
        releaseProfileLock(record.id);
        throw error;
      }
    })();
    runtimes.set(record.id, runtime);
    runtime.catch(() => runtimes.delete(record.id));
  }
  return runtime;
}

async function attachTo(client: Client, record: ProfileRecord, runtime: ProfileRuntime): Promise<Opened> {
  client.profile = record.id;
  return { profile: summaryOf(record), status: runtime.status };
}

async function lockProfile(id: string): Promise<void> {
  const runtime = runtimes.get(id);
  runtimes.delete(id);
  for (const c of clients) {
    if (c.profile !== id) continue;
    c.profile = undefined;
    send(c, { kind: 'event', event: { type: 'locked', profile: id } });
  }
  if (runtime) await (await runtime.catch(() => undefined))?.close();
  releaseProfileLock(id);
}

/** The runtime of the profile this client opened: a client reaches no other profile's data. */
async function current(client: Client): Promise<ProfileRuntime> {
  const runtime = client.profile ? runtimes.get(client.profile) : undefined;
  if (!runtime) throw new ApiFailure({ code: 'no-profile', message: 'no profile is open in this tab' });
  return runtime;
}

export function handlers(client: Client): { [M in Method]: (...args: Parameters<EngineApi[M]>) => Promise<ReturnType<EngineApi[M]>> } {
  return {
    profiles: () => listProfiles(),
    enroll: async (args) => {
      const secret = checkPin(args.pin);
      const credentials = credentialsOf(args);
      const salt = randomBytes(16);
      // Derive first: a slow device should not hold a redeemed code while it computes.
      const key = await deriveProfileKey(secret, salt, PASSPHRASE_ITERATIONS);
      const { identity, info } = await enroll(self.location.origin, credentials);
      const id = toBase64Url(randomBytes(9));
      const cert = identity.certificate;
      const record: ProfileRecord = {
        id,
        displayName: cert.displayName,
        account: cert.account,
        role: cert.role,
        schoolName: info.school.name,
        createdAt: Date.now(),
        lock: { salt: toBase64Url(salt), iterations: PASSPHRASE_ITERATIONS },
      };
      await storeNewProfile(id, key, identity, info);
      await putProfile(record);
      broadcast(undefined, { type: 'profiles' });
      return attachTo(client, record, await startRuntime(record, key));
    },
    open: async ({ profile: id, pin }) => {
      const record = await getProfile(id);
      if (!record) throw new ApiFailure({ code: 'unknown-profile', message: 'no such profile' });
      const key = await unlockKey(record, checkPin(pin));
      return attachTo(client, record, await startRuntime(record, key));
    },
    resume: async ({ profile: id }) => {
      const record = await getProfile(id);
      const runtime = runtimes.get(id);
      if (!record || !runtime) throw new ApiFailure({ code: 'locked', message: 'this profile is locked' });
      return attachTo(client, record, await runtime);
    },
    lock: async () => {
      if (client.profile) await lockProfile(client.profile);
      client.profile = undefined;
      return null;
    },
    removeProfile: async ({ profile: id, pin }) => {
      const record = await getProfile(id);
      if (!record) throw new ApiFailure({ code: 'unknown-profile', message: 'no such profile' });
      // Only who knows the PIN may delete a profile (a sibling must not wipe the other's unsent messages).
      await unlockKey(record, checkPin(pin));
      await lockProfile(id);
      await deleteIdbStorage(profileDatabase(id));
      await deleteProfile(id);
      failures.delete(id);
      broadcast(undefined, { type: 'profiles' });
      return null;
    },
    status: async () => (await current(client)).status,
    chats: async () => (await current(client)).chats(),
    dismissChat: async ({ group }) => {
      if (typeof group !== 'string' || group === '') throw new ApiFailure({ code: 'bad-request', message: 'group: a group id' });
      await (await current(client)).dismissChat(group);
      return null;
    },
    messages: async ({ group, min }) => (await current(client)).messages(group, min),
    post: async ({ group, text, replyTo }) => {
      if (typeof text !== 'string' || text.trim() === '') throw new ApiFailure({ code: 'bad-request', message: 'empty message' });
      return (await current(client)).post(group, text, replyTo);
    },
    postFiles: async ({ group, text, files, replyTo }) => {
      if (typeof text !== 'string' || !Array.isArray(files) || files.length === 0 || files.length > 4)
        throw new ApiFailure({ code: 'bad-request', message: 'one to four files' });
      for (const f of files) {
        if (!f || typeof f.name !== 'string' || typeof f.mime !== 'string' || !(f.bytes instanceof Uint8Array))
          throw new ApiFailure({ code: 'bad-request', message: 'a file is a name, a type and bytes' });
        if (!isSendableType(f.mime)) throw new ApiFailure({ code: 'attachment', detail: 'unsupported', message: `files of type ${f.mime} cannot be sent` });
      }
      return (await current(client)).post(group, text.trim(), replyTo, files);
    },
    attachment: async ({ group, bucket, key, id }) => (await current(client)).attachment(group, bucket, key, id),
    react: async ({ group, bucket, key, emoji }) => {
      await (await current(client)).react(group, bucket, key, emoji);
      return null;
    },
    edit: async ({ group, bucket, key, text }) => {
      if (typeof text !== 'string' || text.trim() === '') throw new ApiFailure({ code: 'bad-request', message: 'empty message' });
      await (await current(client)).edit(group, bucket, key, text);
      return null;
    },
    deleteMessage: async ({ group, bucket, key }) => {
      await (await current(client)).deleteMessage(group, bucket, key);
      return null;
    },
    markRead: async ({ group }) => {
      await (await current(client)).markRead(group);
      return null;
    },
    directAnnounce: async ({ link }) => {
      const runtime = await current(client);
      if (typeof link !== 'string' || link.length > 128) throw new ApiFailure({ code: 'bad-request', message: 'bad link id' });
      await runtime.direct.announce(link);
      return { self: runtime.direct.self, relay: runtime.relayAddrs() };
    },
    directAttach: async ({ port, initiator, device }) => {
      if (!(port instanceof MessagePort)) throw new ApiFailure({ code: 'bad-request', message: 'a direct link needs a MessagePort' });
      await (await current(client)).direct.attach(port, initiator === true, typeof device === 'string' ? device : undefined);
      return null;
    },
    groupInfo: async ({ group }) => (await current(client)).groupInfo(group),
    people: async () => (await current(client)).people(),
    openDirect: async ({ account }) => {
      if (typeof account !== 'string' || account === '') throw new ApiFailure({ code: 'bad-request', message: 'account: an account reference' });
      return (await current(client)).openDirect(account);
    },
    schoolPeople: async ({ query }) => {
      if (typeof query !== 'string' || query.length > 100) throw new ApiFailure({ code: 'bad-request', message: 'query: up to 100 characters' });
      return (await current(client)).schoolPeople(query);
    },
    mayCreateGroups: async () => (await current(client)).mayCreateGroups(),
    createGroup: async ({ name, announcement, members }) => {
      if (typeof name !== 'string' || !Array.isArray(members) || members.some((m) => typeof m !== 'string'))
        throw new ApiFailure({ code: 'bad-request', message: 'createGroup: a name and a list of account references' });
      return (await current(client)).createGroup({ name, announcement: announcement === true, members });
    },
    myDevices: async () => (await current(client)).myDevices(),
    renameDevice: async ({ device, name }) => {
      await (await current(client)).renameDevice(String(device), name);
      return null;
    },
    revokeDevice: async ({ device }) => {
      await (await current(client)).revokeDevice(String(device));
      return null;
    },
    approvalCode: async () => (await current(client)).approvalCode(),
    approveDevice: async ({ device }) => {
      if (typeof device !== 'string' || device === '') throw new ApiFailure({ code: 'bad-request', message: 'device: a device id' });
      return (await current(client)).approveDevice(device);
    },
    adminAudit: async () => {
      const runtime = await current(client);
      if (runtime.identity.certificate.role !== 'admin') throw new ApiFailure({ code: 'forbidden', message: 'only admin profiles read the audit log' });
      try {
        const log = (await adminFetch(self.location.origin, runtime.identity, 'GET', '/api/admin/audit')) as { entries: AuditEntry[]; head: AuditHead | null };
        return await runtime.checkAudit(log);
      } catch (error) {
        if (error instanceof AdminRequestError) throw new ApiFailure({ code: 'admin', detail: String(error.status), message: error.message });
        throw error;
      }
    },
    adminRequest: async ({ method, path, body }) => {
      const runtime = await current(client);
      if (runtime.identity.certificate.role !== 'admin') throw new ApiFailure({ code: 'forbidden', message: 'only admin profiles use the admin API' });
      if (!['GET', 'POST', 'PUT'].includes(method) || typeof path !== 'string' || !path.startsWith('/api/admin/'))
        throw new ApiFailure({ code: 'bad-request', message: 'not an admin API request' });
      try {
        return await adminFetch(self.location.origin, runtime.identity, method, path, body);
      } catch (error) {
        if (error instanceof AdminRequestError) throw new ApiFailure({ code: 'admin', detail: String(error.status), message: error.message });
        throw error;
      }
    },
  };
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiFailure) return error.error;
  if (error instanceof EnrollError) return { code: 'enroll', detail: error.code, message: error.message };
  if (error instanceof AttachmentError) return { code: 'attachment', detail: error.code, message: error.message };
  // The account protocol's errors (its module loads lazily, so by name).
  if (error instanceof Error && error.name === 'AccountProtocolError') return { code: 'account', detail: String((error as { code?: unknown }).code), message: error.message };
  if (error instanceof GroupRefused)
    return error.reason === 'policy' ? { code: 'forbidden', detail: 'group-refused', message: error.message } : { code: 'bad-request', detail: error.reason, message: error.message };
  if (error instanceof DirectChatRefused)
    return error.reason === 'policy' ? { code: 'forbidden', detail: 'direct-refused', message: error.message } : { code: 'bad-request', detail: error.reason, message: error.message };
  if (error instanceof EngineError) {
    const code = error.code === 'unknown-group' || error.code === 'not-a-member' ? 'unknown-group' : error.code === 'closed' ? 'closed' : 'forbidden';
    return { code, detail: error.code, message: error.message };
  }
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}
