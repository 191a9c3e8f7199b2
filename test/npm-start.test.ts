/**
 * `npm start` brings up a working demo school: the relay answers, the demo groups exist, and a pupil who enrolls
 * with one of the printed one-time codes gets into "Klasse 7a" and reads the teacher's welcome message.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { enroll, trustFor } from '@schoolmesh/client';
import { connectToRelay } from '@schoolmesh/client/node';
import { Engine } from '@schoolmesh/engine';
import { MemoryStorage } from '@schoolmesh/storage';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

async function portsFree(base: number): Promise<boolean> {
  for (const port of [base, base + 1, base + 2]) {
    const ok = await new Promise<boolean>((done) => {
      const s = createServer();
      s.once('error', () => done(false));
      s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
    });
    if (!ok) return false;
  }
  return true;
}

describe('npm start', () => {
  let child: ChildProcess | undefined;
  let dir: string | undefined;

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('starts a demo school whose printed codes let a pupil join their class', async () => {
    dir = await mkdtemp(join(tmpdir(), 'schoolmesh-demo-'));
    let base = 20_000 + Math.floor(Math.random() * 20_000);
    while (!(await portsFree(base))) base += 3;
    child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: root,
      env: { ...process.env, PORT: String(base), SCHOOLMESH_DEMO_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`demo did not start:\n${out}`)), 90_000);
      child!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Strg+C beendet')) {
          clearTimeout(timer);
          done();
        }
      });
      child!.once('exit', (code) => fail(new Error(`demo exited with ${code}:\n${out}`)));
    });
    const url = `http://127.0.0.1:${base}`;
    expect(out).toContain(`Öffnen Sie ${url}`);
    const health = (await (await fetch(`${url}/healthz`)).json()) as { status: string; groups: number };
    expect(health.status).toBe('ok');
    expect(health.groups).toBe(7);

    const code = /Ben Müller\s+Schüler\/in\s+([0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5})/.exec(out)?.[1];
    expect(code).toBeDefined();
    const { identity, info } = await enroll(url, { code: code! });
    expect(identity.certificate.account).toBe('ben.mueller');
    const engine = await Engine.open({ storage: new MemoryStorage(), identity, trust: trustFor(info) });
    const connection = await connectToRelay(engine, identity, info.relay, { loopbackOnly: true });
    try {
      const deadline = Date.now() + 30_000;
      let texts: string[] = [];
      while (Date.now() < deadline) {
        const klasse = engine.groups().find((g) => g.name === 'Klasse 7a');
        if (klasse && engine.canRead(klasse.id)) {
          texts = (await engine.messages(klasse.id)).map((m) => m.text);
          if (texts.length > 0) break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(texts[0]).toMatch(/Willkommen in der Klassengruppe der 7a/);
      // The code was used up.
      await expect(enroll(url, { code: code! })).rejects.toThrow(/unknown or was used/);
    } finally {
      await connection.stop();
      await engine.close();
    }
  });
});
