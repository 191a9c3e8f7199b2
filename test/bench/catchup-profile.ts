/**
 * Profiling aid (not a benchmark): runs the core suite's packed catch-up a few times, printing each time. Run with
 * `node --cpu-prof --import tsx test/bench/catchup-profile.ts` to see where an empty device's catch-up goes.
 */
import '../setup/node-env.ts';
import { performance } from 'node:perf_hooks';
import { clearVerificationCaches, signatureVerifications, useNativeAead, useVerifyPool } from '@schoolmesh/crypto';
import { engineCatchup } from './core.ts';
import { generateTraffic } from './school-traffic.ts';

const runs = Number(process.argv[2] ?? 5);
const unpacked = process.argv[3] === 'unpacked';
/**
 * `ab`: alternate runs with and without the verification worker pool; `manifests`: with and without manifests;
 * `aead`: with OpenSSL's and noble's XChaCha20-Poly1305.
 */
const ab = process.argv[4] === 'ab';
const abManifests = process.argv[4] === 'manifests';
const abAead = process.argv[4] === 'aead';
const t = performance.now();
const traffic = await generateTraffic({ groups: 30, messages: 10_000, days: 7, pupilsPerGroup: 24, pack: !unpacked, seed: 1 });
console.log(`traffic generated in ${Math.round(performance.now() - t)} ms`);
for (let i = 0; i < runs; i++) {
  if (ab) useVerifyPool(i % 2 === 0);
  if (abAead) useNativeAead(i % 2 === 0);
  clearVerificationCaches();
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const ms = await engineCatchup(traffic, { manifests: !(abManifests && i % 2 === 1) });
  const used = process.cpuUsage(cpu);
  const busy = performance.eventLoopUtilization(elu);
  console.log(`signature checks: ${signatureVerifications()}, process CPU ${Math.round((used.user + used.system) / 1000)} ms, main thread busy ${Math.round(busy.active)} ms`);
  const pick = (a: string, b: string) => (i % 2 === 0 ? a : b);
  const label = ab ? pick(' (pool)', ' (no pool)') : abManifests ? pick(' (manifests)', ' (no manifests)') : abAead ? pick(' (OpenSSL)', ' (noble)') : '';
  console.log(`catch-up ${i + 1}${label}: ${Math.round(ms)} ms`);
}
