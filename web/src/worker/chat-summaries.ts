import type { StorageAdapter } from '@schoolmesh/storage';

/**
 * What the chat list shows of a group beyond its state: the newest message, the unread count, and when the oldest
 * message looked at expires. Computing it opens the group's newest day buckets (and for an unread group every bucket
 * back to the last one read); kept per group, stored with the profile (sealed like every other value), it lets a
 * cold start show the chat list without opening any bucket.
 */
export interface ChatSummaryRecord {
  /** The newest live message (its author as a device id: names come from the group's state when shown). */
  last?: { text: string; author: string | undefined; ts: number; mine: boolean; deleted: boolean };
  unread: number;
  /** The "seen" time the unread count was counted against. */
  seen: number;
  /** The oldest message counted (the views refresh when it expires). */
  oldest?: number;
  /** The group's live buckets when it was computed. */
  buckets: string;
}

const PREFIX = ['app', 'summary'];
const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The chat list's per-group summaries: in memory, and stored under `app/summary/<group>`. A summary is used only
 * while nothing it depends on changed: the runtime drops a group's (memory and store) on any change to its messages
 * (`invalidate`, before the change is shown), and `valid` compares the seen time and the live buckets.
 */
export class ChatSummaries {
  private readonly records = new Map<string, ChatSummaryRecord>();
  /** Bumped by every invalidation: a summary computed across one is not kept. */
  private readonly generations = new Map<string, number>();
  /** Stored writes in order (a removal must not overtake the save it undoes). */
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly storage: StorageAdapter) {}

  /** Reads the stored summaries (at unlock); a record that does not parse is ignored (and recomputed). */
  async load(): Promise<void> {
    for (const r of await this.storage.loadRange(PREFIX)) {
      try {
        const record = JSON.parse(dec.decode(r.data)) as ChatSummaryRecord;
        if (typeof record.unread === 'number' && typeof record.seen === 'number' && typeof record.buckets === 'string') this.records.set(r.key[2]!, record);
      } catch {
        // recomputed on first use
      }
    }
  }

  /** The group's summary, if it is still what `seen` and `buckets` say it must be. */
  valid(group: string, seen: number, buckets: readonly number[]): ChatSummaryRecord | undefined {
    const r = this.records.get(group);
    return r && r.seen === seen && r.buckets === buckets.join(',') ? r : undefined;
  }

  /** Call before computing a summary; pass the result to `set`. */
  generation(group: string): number {
    return this.generations.get(group) ?? 0;
  }

  /** Keeps a computed summary, unless the group changed since `generation` (then the next list computes it again). */
  set(group: string, generation: number, record: ChatSummaryRecord): void {
    if (this.generation(group) !== generation) return;
    this.records.set(group, record);
    const data = enc.encode(JSON.stringify(record));
    this.write(() => this.storage.save([...PREFIX, group], data));
  }

  /** Forgets the group's summary (its messages changed); the next chat list computes it anew. */
  invalidate(group: string): void {
    this.generations.set(group, this.generation(group) + 1);
    if (!this.records.delete(group)) return;
    this.write(() => this.storage.remove([...PREFIX, group]));
  }

  /** Resolves when every stored write so far is done. */
  flushed(): Promise<void> {
    return this.writes;
  }

  private write(op: () => Promise<void>): void {
    this.writes = this.writes.then(op).catch(() => {});
  }

  invalidateAll(groups: Iterable<string>): void {
    for (const group of new Set([...groups, ...this.records.keys()])) this.invalidate(group);
  }
}
