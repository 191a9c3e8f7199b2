// Loaded into a benchmarked server process with `node --import`: prints one JSON line per second with the
// process's event-loop delay (p50, p99, max over that second, ms) and heap, for the relay benchmark to record.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
setInterval(() => {
  const line = {
    msg: 'bench-probe',
    t: Date.now(),
    p50: delay.percentile(50) / 1e6,
    p99: delay.percentile(99) / 1e6,
    max: delay.max / 1e6,
    heapMb: process.memoryUsage().heapUsed / 2 ** 20,
  };
  delay.reset();
  process.stdout.write(`${JSON.stringify(line)}\n`);
}, 1000).unref();
