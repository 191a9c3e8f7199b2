/**
 * `npm run check:bundle`: builds the web app into a temporary directory and fails when the JavaScript a first
 * visit loads (page entry + engine worker, gzip) exceeds the budget of issue 5. Run by CI (.ci/run) next to the
 * tests, so the budget holds even where the browser tests are not run.
 */
import { rm } from 'node:fs/promises';
import { buildWeb, webBuildDir } from '../test/e2e/support.ts';
import { INITIAL_JS_BUDGET_KB, initialJs } from '../test/support/initial-js.ts';

const dir = await webBuildDir();
try {
  await buildWeb(dir);
  const report = await initialJs(dir);
  for (const f of report.files) console.log(`${(f.gzip / 1024).toFixed(1).padStart(7)} KB gzip  ${f.file}`);
  const within = report.initialJsGzipKb <= INITIAL_JS_BUDGET_KB;
  console.log(`initial JS: ${report.initialJsGzipKb} KB gzip (budget ${INITIAL_JS_BUDGET_KB} KB) ${within ? 'ok' : 'OVER BUDGET'}`);
  if (!within) process.exitCode = 1;
} finally {
  await rm(dir, { recursive: true, force: true });
}
