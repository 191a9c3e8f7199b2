/**
 * What a first visit of the web app downloads in JavaScript, measured on a build (`web/dist` or a test's own
 * build directory): the entry script of index.html with its static imports, and the engine worker it starts at
 * once (with the worker's static imports), each gzipped at level 9. Lazy chunks (the English strings) do not
 * count. Shared by the e2e test, the web benchmark and the CI budget check (`npm run check:bundle`).
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** The budget issue 5 sets for `initial_js_gzip_kb`. */
export const INITIAL_JS_BUDGET_KB = 250;

export interface BundleReport {
  /** Every script a first visit loads before the app can show anything: the page's entry, its static imports, the engine worker and its static imports. */
  files: { file: string; bytes: number; gzip: number }[];
  initialJsGzipKb: number;
}

export async function initialJs(dist: string): Promise<BundleReport> {
  const html = await readFile(join(dist, 'index.html'), 'utf8');
  const queue = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="\/?([^"]+\.js)"/g)].map((m) => m[1]!);
  const seen = new Set<string>();
  const files: BundleReport['files'] = [];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const code = await readFile(join(dist, file));
    files.push({ file, bytes: code.length, gzip: gzipSync(code, { level: 9 }).length });
    const text = code.toString('utf8');
    const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : '';
    for (const m of text.matchAll(/(?:\bfrom|\bimport)\s*["'`](\.\/[^"'`]+\.js)["'`]/g)) queue.push(dir + m[1]!.slice(2));
    // Workers started at load: new SharedWorker(new URL(`/assets/engine-worker-….js`, import.meta.url)).
    for (const m of text.matchAll(/new URL\(\s*["'`]\/?((?:assets\/)?[\w.-]*worker[\w.-]*\.js)["'`]/g)) queue.push(m[1]!.startsWith('assets/') ? m[1]! : `assets/${basename(m[1]!)}`);
  }
  const initialJsGzipKb = Math.round((files.reduce((n, f) => n + f.gzip, 0) / 1024) * 10) / 10;
  return { files, initialJsGzipKb };
}
