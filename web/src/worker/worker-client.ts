import type { FromWorker, ToWorker } from '../api/protocol.ts';

/** One tab's end of the engine worker: a MessagePort (SharedWorker) or the worker's own scope (dedicated Worker). */
export interface PortLike {
  postMessage(message: FromWorker): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<ToWorker>) => void): void;
  start?(): void;
}

/** A connected tab and the profile it opened (it reaches no other profile's data). */
export interface Client {
  port: PortLike;
  profile: string | undefined;
}
