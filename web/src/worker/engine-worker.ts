/**
 * The engine worker: runs every open profile's engine, storage and relay link off the main thread. As a
 * SharedWorker it serves all tabs of the app (one engine per profile, however many tabs show it); as a dedicated
 * Worker (browsers without SharedWorker) it serves one tab.
 *
 * This entry is deliberately small (the profile registry and the message routing): it answers the profile list,
 * which the picker and the unlock screen need, while the engine chunk (`engine-service.ts`: engine, crypto, libp2p)
 * is still loading. It starts loading that chunk at once; every other request waits for it.
 */
import type { FromWorker, Request } from '../api/protocol.ts';
import { listProfiles } from './registry.ts';
import type { Client, PortLike } from './worker-client.ts';

const clients = new Set<Client>();

function send(client: Client, message: FromWorker): void {
  try {
    client.port.postMessage(message);
  } catch {
    clients.delete(client);
  }
}

type Service = typeof import('./engine-service.ts');
let loaded: Service | undefined;
const service: Promise<Service> = import('./engine-service.ts').then((s) => {
  s.connect({
    clients,
    send,
    broadcast: (profile, event) => {
      for (const c of clients) if (profile === undefined || c.profile === profile) send(c, { kind: 'event', event });
    },
  });
  loaded = s;
  return s;
});
// A chunk that failed to load fails each request that needs it (with its error), not the worker.
service.catch(() => {});

const tables = new WeakMap<Client, ReturnType<Service['handlers']>>();

async function handle(client: Client, request: Request): Promise<void> {
  try {
    let value: unknown;
    if (request.method === 'profiles') value = await listProfiles();
    else if (request.method === 'resume' && !loaded) {
      // Only the engine chunk opens profiles: before it has loaded, none is open.
      send(client, { kind: 'response', id: request.id, ok: false, error: { code: 'locked', message: 'this profile is locked' } });
      return;
    } else {
      const s = await service;
      let table = tables.get(client);
      if (!table) {
        table = s.handlers(client);
        tables.set(client, table);
      }
      const fn = table[request.method] as ((args: unknown) => Promise<unknown>) | undefined;
      if (typeof fn !== 'function') throw new s.ApiFailure({ code: 'bad-request', message: `unknown method ${String(request.method)}` });
      value = await fn(request.args[0]);
    }
    send(client, { kind: 'response', id: request.id, ok: true, value });
  } catch (error) {
    const s = loaded;
    const apiError = s ? s.toApiError(error) : { code: 'internal' as const, message: error instanceof Error ? error.message : String(error) };
    send(client, { kind: 'response', id: request.id, ok: false, error: apiError });
  }
}

function attach(port: PortLike): void {
  const client: Client = { port, profile: undefined };
  clients.add(client);
  port.addEventListener('message', (e) => {
    const message = e.data;
    if (message.kind === 'bye') {
      clients.delete(client);
      return;
    }
    void handle(client, message);
  });
  port.start?.();
}

const scope = globalThis as unknown as { onconnect?: unknown; addEventListener: (type: string, listener: (e: MessageEvent) => void) => void };
if ('onconnect' in scope) {
  scope.addEventListener('connect', (e) => {
    for (const port of e.ports) attach(port as unknown as PortLike);
  });
} else {
  attach(globalThis as unknown as PortLike);
}
