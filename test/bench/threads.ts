/**
 * CPU time per thread of a process tree, from Linux's /proc/<pid>/task/<tid>/schedstat (nanoseconds on a CPU).
 * The web benchmark uses it to see what CDP's CPU throttling does not slow: Chromium throttles a page's main thread
 * but refuses to throttle workers ("Operation is only supported for pages, not workers"), and WebCrypto runs on a
 * thread of its own.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Whether a process is one of Chromium's renderers (pages and workers run there). */
export function isRenderer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer');
  } catch {
    return false;
  }
}

/** CPU nanoseconds so far of every thread of `pids`, keyed `pid/tid`, with the thread's name. */
export function threadTimes(pids: number[]): Map<string, { name: string; ns: number }> {
  const out = new Map<string, { name: string; ns: number }>();
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
        const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
        out.set(`${pid}/${tid}`, { name, ns });
      } catch {
        // thread ended
      }
    }
  }
  return out;
}

/**
 * CPU milliseconds each thread name used between two samples (threads born in between count from zero). Threads
 * that ended in between are lost, so sample the end before anything closes.
 */
export function cpuByName(before: Map<string, { name: string; ns: number }>, after: Map<string, { name: string; ns: number }>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, t] of after) {
    const delta = (t.ns - (before.get(key)?.ns ?? 0)) / 1e6;
    if (delta > 0) out.set(t.name, (out.get(t.name) ?? 0) + delta);
  }
  return out;
}

/** Sums the CPU time of threads whose names match. */
export function sumMatching(cpu: Map<string, number>, pattern: RegExp): number {
  let ms = 0;
  for (const [name, t] of cpu) if (pattern.test(name)) ms += t;
  return ms;
}
