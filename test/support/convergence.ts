/**
 * Helpers of the cross-package convergence properties (test/convergence.property.test.ts): canonical fingerprints
 * of a replica's membership and chains, a small network of engines over the real sync protocol with
 * connect/disconnect, and a quiescence wait that never relies on a fixed sleep.
 */
import type { Engine } from '@schoolmesh/engine';
import { toBase64Url } from '@schoolmesh/wire';
import type { GroupState, MembershipLog } from '@schoolmesh/membership';
import type { Replica } from '@schoolmesh/replica';
import { type FrameChannel, type SyncSession, memoryChannelPair } from '@schoolmesh/sync';

/** Everything a replica derives from a group's membership log, in a canonical (sorted, order-preserving) form. */
export function stateFingerprint(s: GroupState): unknown {
  const sorted = <T>(xs: Iterable<T>) => [...xs].sort();
  return {
    id: s.id,
    createdBy: s.createdBy,
    kind: s.kind,
    name: s.name,
    policy: s.policy,
    members: [...s.members].sort(([a], [b]) => (a < b ? -1 : 1)),
    devices: [...s.devices].map(([id, d]) => [id, d.account, d.addedBy]).sort(([a], [b]) => ((a as string) < (b as string) ? -1 : 1)),
    epochs: s.epochs,
    currentEpoch: s.currentEpoch,
    sealed: [...s.sealedKeys].map(([epoch, boxes]) => [epoch, sorted(boxes.keys())]).sort(),
    epochMembers: [...s.epochMembers].map(([epoch, accounts]) => [epoch, sorted(accounts)]).sort(),
    ignored: s.ignored.map((i) => `${i.op}:${i.type}:${i.reason}`),
    removedSince: { accounts: sorted(s.removedSince.accounts), devices: sorted(s.removedSince.devices) },
  };
}

/** The log's order, heads and pending ops, and the state it resolves to. */
export function logFingerprint(log: MembershipLog): string {
  return JSON.stringify({ order: log.ops().map((o) => o.id), heads: log.heads(), pending: log.pendingIds(), state: stateFingerprint(log.state()) });
}

/** Per live bucket, per author: seq, head hash and packed flag (the chain states a replica advertises). */
export async function chainsFingerprint(replica: Replica, group: string): Promise<string> {
  const out: string[] = [];
  for (const bucket of replica.liveBuckets(group)) {
    const authors: string[] = [];
    for (const author of (await replica.vector(group, bucket)).keys()) {
      const c = replica.chain(group, bucket, author)!;
      authors.push(`${author}:${c.seq}:${toBase64Url(c.head)}:${c.packed ? 'p' : 's'}`);
    }
    out.push(`${bucket}[${authors.sort().join(',')}]`);
  }
  return out.join(' ');
}

/** Version vectors only (what the sync summary digests). */
export async function vectorsOf(replica: Replica, group: string): Promise<Map<number, Map<string, number>>> {
  const out = new Map<number, Map<string, number>>();
  for (const bucket of replica.liveBuckets(group)) out.set(bucket, await replica.vector(group, bucket));
  return out;
}

/** Fails the calling property with a readable message (fast-check reports it with the counterexample). */
export function assertEqual(actual: unknown, expected: unknown, what: string): void {
  const a = typeof actual === 'string' ? actual : JSON.stringify(actual);
  const e = typeof expected === 'string' ? expected : JSON.stringify(expected);
  if (a !== e) throw new Error(`${what} diverged:\n  got      ${a.slice(0, 1500)}\n  expected ${e.slice(0, 1500)}`);
}

interface Link {
  sessions: [SyncSession, SyncSession];
  close: () => void;
}

/**
 * Engines connected pairwise over in-memory channels (the real SyncSession on both ends). Counts frames, so a
 * quiescence check can tell whether anything is still moving, and records sessions that failed on their own.
 */
export class Mesh {
  private readonly links = new Map<string, Link>();
  frames = 0;
  private storm = false;
  readonly failures: string[] = [];

  constructor(
    readonly engines: readonly Engine[],
    readonly frameBudget = 20_000,
  ) {}

  private static key(i: number, j: number): string {
    return i < j ? `${i}-${j}` : `${j}-${i}`;
  }

  isLinked(i: number, j: number): boolean {
    return this.links.has(Mesh.key(i, j));
  }

  connect(i: number, j: number): void {
    if (i === j || this.isLinked(i, j)) return;
    const [ca, cb] = memoryChannelPair();
    const sa = this.engines[i]!.connect(this.counted(ca));
    const sb = this.engines[j]!.connect(this.counted(cb));
    const key = Mesh.key(i, j);
    let closing = false;
    const link: Link = {
      sessions: [sa, sb],
      close: () => {
        closing = true;
        sa.close('test: disconnect');
        sb.close('test: disconnect');
      },
    };
    for (const s of link.sessions) {
      s.onClose((reason) => {
        if (!closing && !reason?.startsWith('test:') && !reason?.startsWith('engine closed'))
          this.failures.push(`session ${key} closed: ${reason}`);
        if (this.links.get(key) === link) this.links.delete(key);
      });
    }
    this.links.set(key, link);
  }

  disconnect(i: number, j: number): void {
    this.links.get(Mesh.key(i, j))?.close();
    this.links.delete(Mesh.key(i, j));
  }

  disconnectAll(): void {
    for (const link of [...this.links.values()]) link.close();
    this.links.clear();
  }

  fullMesh(): void {
    for (let i = 0; i < this.engines.length; i++) for (let j = i + 1; j < this.engines.length; j++) this.connect(i, j);
  }

  openSessions(): SyncSession[] {
    return [...this.links.values()].flatMap((l) => l.sessions).filter((s) => !s.isClosed);
  }

  private counted(ch: FrameChannel): FrameChannel {
    return {
      send: (f) => {
        // A forwarding loop between in-memory channels runs on microtasks only: no timer (so no timeout of ours or
        // of vitest) ever fires again. Cut every link once a run has sent far more frames than any sane sync needs.
        if (++this.frames > this.frameBudget) {
          if (!this.storm) {
            this.storm = true;
            this.failures.push(`more than ${this.frameBudget} frames sent: a message storm (ops or entries forwarded in a cycle?)`);
            queueMicrotask(() => this.disconnectAll());
          }
          return;
        }
        ch.send(f);
      },
      close: (r) => ch.close(r),
      onFrame: (h) => ch.onFrame(h),
      onClose: (h) => ch.onClose(h),
    };
  }

  /**
   * Waits until nothing moves: every engine idle, every open session past its catch-up, no frame sent, and
   * `fingerprint` unchanged over `polls` consecutive checks a few milliseconds apart. Returns false if that
   * does not happen within `limitMs` (a livelock, or a session that never catches up).
   */
  async quiesce(fingerprint: () => string | Promise<string>, opts: { polls?: number; gapMs?: number; limitMs?: number } = {}): Promise<boolean> {
    const { polls = 3, gapMs = 1, limitMs = 5_000 } = opts;
    const end = Date.now() + limitMs;
    let last = '';
    let stable = 0;
    for (;;) {
      // idle() itself never returns while an engine's queue keeps growing (a livelock): bound it too.
      const left = Math.max(0, end - Date.now());
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = Promise.all(this.engines.map((e) => e.idle())).then(() => true);
      const stuck = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), left)));
      const wasIdle = await Promise.race([idle, stuck]);
      clearTimeout(timer);
      if (!wasIdle || this.storm) return false;
      const caughtUp = this.openSessions().every((s) => s.peer !== undefined && s.getProgress().caughtUp);
      const now = `${this.frames}|${caughtUp}|${await fingerprint()}`;
      if (caughtUp && now === last) {
        if (++stable >= polls) return true;
      } else {
        stable = 0;
        last = now;
      }
      if (Date.now() > end) return false;
      await new Promise((r) => setTimeout(r, gapMs));
    }
  }
}
