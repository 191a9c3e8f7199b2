/**
 * The web benchmark's measuring parts that need neither a browser nor a school: the probe it injects into the page
 * and how it turns a page-only throttled run into an estimate for a machine slower on every thread
 * (docs/benchmarks.md, "web").
 */
import { sumMatching } from './threads.ts';

/** Renderer threads CDP's throttle does not slow: the engine's SharedWorker (or a dedicated Worker), WebCrypto, the service worker. */
export const UNTHROTTLED = /^(SharedWorker|DedicatedWorker|WebCrypto|ServiceWorker)/;

/** The throttled estimate of a measured wall time: the unthrottled threads' CPU slowed by the same rate. */
export function throttledEstimate(wallMs: number, cpu: Map<string, number>, rate: number): number {
  return wallMs + (rate - 1) * sumMatching(cpu, UNTHROTTLED);
}

/**
 * Runs in every page of the benchmark's context before the app's scripts: notes, in the page's clock
 * (performance.now(), 0 at navigation start), the first animation frame in which the unlock screen's PIN field, the
 * full chat list and the large chat's newest message (on screen, inside the message list) are in the DOM (the frame
 * that paints them), and the input events that start the measured intervals. Plain JavaScript source: a function
 * compiled by tsx would carry helpers the page does not have.
 */
export function pageProbe(expected: { groups: number; marker: string }): string {
  return `(() => {
  const expected = ${JSON.stringify(expected)};
  const state = {};
  window.__bench = state;
  const app = () => document.querySelector('sm-app')?.shadowRoot;
  addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && state.unlockReady !== undefined && state.submit === undefined) state.submit = e.timeStamp;
  }, true);
  addEventListener('click', (e) => {
    if (state.list !== undefined && state.click === undefined && e.target?.localName === 'sm-app') state.click = e.timeStamp;
  }, true);
  const tick = (t) => {
    const root = app();
    if (state.unlockReady === undefined && root?.querySelector('sm-unlock')?.shadowRoot?.querySelector('#pin')) state.unlockReady = t;
    if (state.list === undefined && (root?.querySelector('sm-chat-list')?.shadowRoot?.querySelectorAll('a.chat').length ?? 0) >= expected.groups) state.list = t;
    if (state.click !== undefined && state.opened === undefined) {
      const chat = root?.querySelector('sm-chat')?.shadowRoot;
      const list = chat?.querySelector('lit-virtualizer');
      const newest = [...(chat?.querySelectorAll('p.text') ?? [])].find((p) => p.textContent?.includes(expected.marker));
      if (list && newest) {
        const box = list.getBoundingClientRect();
        const at = newest.getBoundingClientRect();
        if (at.height > 0 && at.top >= box.top - 1 && at.bottom <= box.bottom + 1) state.opened = t;
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();`;
}
