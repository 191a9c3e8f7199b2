/**
 * Failed sign-ins per key (a user name, a client address) in a fixed window: after `max` failures, further
 * tries are refused until the window ends. In memory and bounded: the oldest keys are forgotten first.
 */
export class FailureLimiter {
  private readonly entries = new Map<string, { failures: number; until: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly maxTracked = 10_000,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Milliseconds until `key` may try again; 0 when it may now. */
  blockedFor(key: string): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    const now = this.clock();
    if (now >= e.until) {
      this.entries.delete(key);
      return 0;
    }
    return e.failures >= this.max ? e.until - now : 0;
  }

  fail(key: string): void {
    const now = this.clock();
    const e = this.entries.get(key);
    this.entries.delete(key);
    if (!e || now >= e.until) this.entries.set(key, { failures: 1, until: now + this.windowMs });
    else this.entries.set(key, { failures: e.failures + 1, until: e.until });
    while (this.entries.size > this.maxTracked) this.entries.delete(this.entries.keys().next().value!);
  }

  reset(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
