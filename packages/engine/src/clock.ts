/**
 * The time seam: the engine never reads Date.now() nor starts a timer itself, so tests can move time (retention,
 * expiry, packing) and fire the engine's timers by moving it.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once, `ms` from now in this clock's time; returns a function that cancels it. */
  setTimer?(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    // A background timer must not keep a Node process (a tool, the relay's sync device) alive on its own.
    (timer as { unref?: () => void }).unref?.();
    return () => clearTimeout(timer);
  },
};

/** A clock tests move by hand; its timers fire when `set` or `advance` moves it past their time. */
export class ManualClock implements Clock {
  private timers: { at: number; fn: () => void }[] = [];
  constructor(private time: number) {}
  now(): number {
    return this.time;
  }
  set(time: number): void {
    this.time = time;
    this.fireDue();
  }
  advance(ms: number): void {
    this.set(this.time + ms);
  }
  setTimer(ms: number, fn: () => void): () => void {
    const timer = { at: this.time + Math.max(0, ms), fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }
  /** How many timers wait to fire (tests check that a closed engine left none behind). */
  get pendingTimers(): number {
    return this.timers.length;
  }
  private fireDue(): void {
    const due = this.timers.filter((t) => t.at <= this.time).sort((a, b) => a.at - b.at);
    if (due.length === 0) return;
    this.timers = this.timers.filter((t) => t.at > this.time);
    // Each due timer fires once, however far the clock jumped: a timer set by one of them fires at a later move.
    for (const t of due) t.fn();
  }
}
