import type { ApiError, AppEvent, ArgsOf, FromWorker, Method, ResultOf, ToWorker } from './protocol.ts';

/** An error the worker reported for a request. */
export class EngineCallError extends Error implements ApiError {
  override readonly name = 'EngineCallError';
  readonly code: ApiError['code'];
  readonly detail: string | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(error: ApiError) {
    super(error.message);
    this.code = error.code;
    this.detail = error.detail;
    this.retryAfterMs = error.retryAfterMs;
  }
}

interface PortLike {
  postMessage(message: ToWorker, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<FromWorker>) => void): void;
  start?(): void;
}

/**
 * The UI's handle on the engine worker. One SharedWorker serves every tab of the app, so all tabs share one
 * engine per profile; browsers without SharedWorker get a dedicated Worker per tab.
 */
export class EngineClient {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(e: AppEvent) => void>();
  private failed: string | undefined;
  readonly shared: boolean;

  constructor(private readonly port: PortLike, shared: boolean) {
    this.shared = shared;
    port.addEventListener('message', (e) => this.receive(e.data));
    port.start?.();
  }

  /** The worker could not start (its script failed to load or threw): every waiting and later call fails. */
  private fail(message: string): void {
    this.failed = message;
    for (const w of this.waiting.values()) w.reject(new EngineCallError({ code: 'internal', message }));
    this.waiting.clear();
  }

  static connect(): EngineClient {
    if (typeof SharedWorker === 'function') {
      const worker = new SharedWorker(new URL('../worker/engine-worker.ts', import.meta.url), { type: 'module', name: 'schoolmesh-engine' });
      const client = new EngineClient(worker.port, true);
      worker.addEventListener('error', () => client.fail('the engine worker failed to start'));
      // A page kept in the back/forward cache may come back with this port: say goodbye only when it is gone.
      addEventListener('pagehide', (e) => {
        if (!e.persisted) worker.port.postMessage({ kind: 'bye' } satisfies ToWorker);
      });
      return client;
    }
    const worker = new Worker(new URL('../worker/engine-worker.ts', import.meta.url), { type: 'module', name: 'schoolmesh-engine' });
    const client = new EngineClient(worker, false);
    worker.addEventListener('error', () => client.fail('the engine worker failed to start'));
    return client;
  }

  call<M extends Method>(method: M, ...args: ArgsOf<M>): Promise<ResultOf<M>> {
    return this.send(method, args, []);
  }

  /** A call whose arguments carry transferable objects (a MessagePort), moved to the worker rather than copied. */
  transfer<M extends Method>(method: M, args: ArgsOf<M>, transfer: Transferable[]): Promise<ResultOf<M>> {
    return this.send(method, args, transfer);
  }

  private send<M extends Method>(method: M, args: ArgsOf<M>, transfer: Transferable[]): Promise<ResultOf<M>> {
    if (this.failed) return Promise.reject(new EngineCallError({ code: 'internal', message: this.failed }));
    const id = this.nextId++;
    return new Promise<ResultOf<M>>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.port.postMessage({ kind: 'request', id, method, args } as ToWorker, transfer);
    });
  }

  on(listener: (e: AppEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private receive(message: FromWorker): void {
    if (message.kind === 'event') {
      for (const l of this.listeners) l(message.event);
      return;
    }
    const waiter = this.waiting.get(message.id);
    if (!waiter) return;
    this.waiting.delete(message.id);
    if (message.ok) waiter.resolve(message.value);
    else waiter.reject(new EngineCallError(message.error));
  }
}
