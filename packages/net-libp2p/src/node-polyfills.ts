/**
 * Node 20 lacks globals that libp2p 3 expects: Promise.withResolvers and a WebSocket client. Import this module
 * first in Node entry points (`node --import`), and in vitest's setupFiles. Browsers have both.
 */
import { WebSocket as WsWebSocket } from 'ws';

if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.assign(Promise, {
    withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

if (typeof (globalThis as { WebSocket?: unknown }).WebSocket !== 'function') {
  (globalThis as { WebSocket?: unknown }).WebSocket = WsWebSocket;
}
