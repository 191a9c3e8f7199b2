/**
 * Token buckets per device: a sustained rate per minute with bursts up to the same amount. `take` waits (the
 * relay delays its ACK, which is the sync protocol's backpressure) up to `maxWaitMs`, then refuses.
 */
export class DeviceRateLimiter {
  private readonly buckets = new Map<string, { entries: number; bytes: number; at: number }>();

  constructor(
    private perMinute: { entries: number; bytes: number },
    private readonly clock: () => number = Date.now,
    private readonly maxWaitMs = 5_000,
  ) {}

  private refill(device: string): { entries: number; bytes: number; at: number } {
    const now = this.clock();
    let b = this.buckets.get(device);
    if (!b) {
      b = { entries: this.perMinute.entries, bytes: this.perMinute.bytes, at: now };
      this.buckets.set(device, b);
      if (this.buckets.size > 50_000) this.buckets.delete(this.buckets.keys().next().value!);
      return b;
    }
    const minutes = Math.max(0, now - b.at) / 60_000;
    b.entries = Math.min(this.perMinute.entries, b.entries + minutes * this.perMinute.entries);
    b.bytes = Math.min(this.perMinute.bytes, b.bytes + minutes * this.perMinute.bytes);
    b.at = now;
    return b;
  }

  /**
   * New limits (config reload). A raised limit applies at once: every bucket gains the difference (a device that
   * had spent its old budget may use the extra now). Buckets already filled above lowered limits are cut down at
   * their next refill.
   */
  setLimits(perMinute: { entries: number; bytes: number }): void {
    const moreEntries = Math.max(0, perMinute.entries - this.perMinute.entries);
    const moreBytes = Math.max(0, perMinute.bytes - this.perMinute.bytes);
    this.perMinute = { ...perMinute };
    if (moreEntries === 0 && moreBytes === 0) return;
    for (const device of this.buckets.keys()) {
      const b = this.refill(device);
      b.entries = Math.min(perMinute.entries, b.entries + moreEntries);
      b.bytes = Math.min(perMinute.bytes, b.bytes + moreBytes);
    }
  }

  /** Milliseconds until `entries` and `bytes` fit, 0 if now; Infinity if they never fit in one burst. */
  waitFor(device: string, entries: number, bytes: number): number {
    if (entries > this.perMinute.entries || bytes > this.perMinute.bytes) return Number.POSITIVE_INFINITY;
    const b = this.refill(device);
    const needE = Math.max(0, entries - b.entries) / this.perMinute.entries;
    const needB = Math.max(0, bytes - b.bytes) / this.perMinute.bytes;
    return Math.ceil(Math.max(needE, needB) * 60_000);
  }

  /** Takes the tokens, waiting if needed; false when the device is over its limit for longer than maxWaitMs. */
  async take(device: string, entries: number, bytes: number): Promise<boolean> {
    const wait = this.waitFor(device, entries, bytes);
    if (wait > this.maxWaitMs) return false;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const b = this.refill(device);
    b.entries -= entries;
    b.bytes -= bytes;
    return true;
  }
}
