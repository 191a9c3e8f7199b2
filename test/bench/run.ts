/**
 * `npm run bench -- <suite>`: runs one benchmark suite, prints a table, writes test/bench/results/<suite>.json.
 * Benchmarks are never part of `npm test`: timing on shared machines belongs here, as ratios to a baseline
 * measured in the same run.
 */
import '../setup/node-env.ts';

const suites: Record<string, () => Promise<void>> = {
  core: async () => (await import('./core.ts')).run(),
  relay: async () => (await import('./relay.ts')).run(),
  web: async () => (await import('./web.ts')).run(),
};

const name = process.argv[2];
if (!name || !suites[name]) {
  console.error(`usage: npm run bench -- <suite>   (suites: ${Object.keys(suites).join(', ')})`);
  process.exit(2);
}
await suites[name]!();
