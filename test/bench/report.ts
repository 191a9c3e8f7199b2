import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Metric {
  value: number;
  unit: string;
  /** What it measures and against what; printed, not written to the JSON's required fields. */
  note?: string;
}

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');

/** Prints a table and writes test/bench/results/<suite>.json in the form the issues fix. */
export function report(suite: string, metrics: Record<string, Metric>): void {
  const rows = Object.entries(metrics).map(([name, m]) => [name, formatNumber(m.value), m.unit, m.note ?? '']);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['metric', 'value', 'unit'][i]!.length));
  const line = (r: string[]) => `${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padStart(widths[1]!)}  ${r[2]!.padEnd(widths[2]!)}  ${r[3]}`;
  console.log(`\nbench suite: ${suite}`);
  console.log(line(['metric', 'value', 'unit', 'note']));
  console.log(line(widths.map((w) => '-'.repeat(w)).concat('----')));
  for (const r of rows) console.log(line(r));
  mkdirSync(resultsDir, { recursive: true });
  const json = { suite, metrics: Object.fromEntries(Object.entries(metrics).map(([k, m]) => [k, { value: m.value, unit: m.unit }])) };
  writeFileSync(join(resultsDir, `${suite}.json`), `${JSON.stringify(json, null, 2)}\n`);
  console.log(`\nwrote test/bench/results/${suite}.json`);
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(3);
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
