#!/usr/bin/env node
// Installs what `npm start` / `npm test` need on a fresh clone, and nothing when it is there already:
// npm packages (npm ci when node_modules is missing or older than package-lock.json) and, for tests,
// the Debian packages the suites drive (Chromium for the web app's end-to-end tests, OpenLDAP's slapd for the
// directory tests). Keeps the README's two commands the only set-up there is.
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';

const forTests = process.argv.includes('--test');
const stamp = 'node_modules/.schoolmesh-installed';
const lock = 'package-lock.json';

function run(cmd) {
  console.log(`> ${cmd}`);
  execSync(cmd, { stdio: 'inherit' });
}

const lockText = readFileSync(lock, 'utf8');
const installed = existsSync(stamp) && readFileSync(stamp, 'utf8') === String(lockText.length) && statSync(stamp).mtimeMs >= statSync(lock).mtimeMs;
if (!installed) {
  // npm install, not npm ci: npm 11 writes lockfiles without other platforms' optional packages (biome's
  // binaries), which npm ci then refuses; install still follows the committed lock.
  run('npm install --no-audit --no-fund');
  writeFileSync(stamp, String(lockText.length));
}

/** Debian packages the test suites need: binary to look for, and the package that provides it. */
const debianForTests = [
  ['/usr/bin/chromium', 'chromium'],
  ['/usr/sbin/slapd', 'slapd'],
  ['/usr/bin/ldapsearch', 'ldap-utils'],
  // Colour emoji in the web app's screenshots (reactions).
  ['/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf', 'fonts-noto-color-emoji'],
];
if (forTests) {
  const missing = debianForTests.filter(([bin]) => !existsSync(bin)).map(([, pkg]) => pkg);
  if (missing.length > 0) {
    const sudo = process.getuid && process.getuid() !== 0 ? 'sudo ' : '';
    run(`${sudo}apt-get update -qq`);
    run(`${sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing.join(' ')}`);
  }
}

/** For `npm start`: build the web app the relay serves when it is missing or older than its sources. */
if (process.argv.includes('--web')) {
  const { readdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const newest = (dir) => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }
    return t;
  };
  const built = 'web/dist/index.html';
  const sources = Math.max(newest('web/src'), newest('web/public'), statSync('web/index.html').mtimeMs, statSync('web/vite.config.ts').mtimeMs);
  if (!existsSync(built) || statSync(built).mtimeMs < sources) run('npm run build:web');
}
