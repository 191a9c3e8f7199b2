/**
 * Direct WebRTC between two pupils' browsers (issue 5): they find each other through the relay's presence, connect
 * directly (signalled over the relay's circuit), and keep chatting both ways after the relay process is killed. A
 * pupil whose browser cannot do WebRTC (no media permission: Chromium gathers no ICE candidates) chats through the
 * relay as before, without an error or a direct-link indicator.
 *
 * Every WebRTC test runs inside a network namespace with loopback alone (`unshare -n`), so ICE can never touch the
 * machine's real interfaces: run plainly, this file starts itself again inside one (relay, web server, Chromium all
 * in it) and passes only if that run passes.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { accountRef } from '@schoolmesh/model';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelayProcess, removeSetup, rewriteConfig, setupRelay, startRelay } from '../../relay/test/support/relay-process.ts';
import { artifacts, bubble, buildWeb, enrollWith, launchChromium, type NodeDevice, nodeDevice, openPupil, type Pupil, root, screenshot, sendMessage, webBuildDir } from './support.ts';

const INSIDE = process.env.SCHOOLMESH_NETNS === 'loopback';
const WAIT = 30_000;
/** Direct links come up after presence, a reservation and ICE, retried with backoff on @libp2p/webrtc's dial race. */
const DIRECT_WAIT = 90_000;
const PIN = '2580';

describe.runIf(!INSIDE)('WebRTC end to end, in a loopback-only network namespace', () => {
  it('passes when run inside `unshare -n` (relay, web server and Chromium see only 127.0.0.1)', async () => {
    const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
    const command = `ip link set lo up && exec "${process.execPath}" "${vitest}" run test/e2e/webrtc.test.ts`;
    const output: string[] = [];
    const code = await new Promise<number | null>((done) => {
      const child = spawn('unshare', ['-n', 'sh', '-c', command], { cwd: root, env: { ...process.env, SCHOOLMESH_NETNS: 'loopback' }, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
      child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
      child.once('error', (error) => {
        output.push(String(error));
        done(-1);
      });
      child.once('exit', done);
    });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the colours of vitest's report
    const text = output.join('').replace(/\u001b\[[0-9;]*m/g, '');
    expect(code, text).toBe(0);
    expect(text).toMatch(/Tests\s+2 passed/);
  }, 600_000);
});

function directNote(page: Page) {
  return page.locator('sm-chat-list p.direct');
}

describe.runIf(INSIDE)('web app: two pupils connect directly over WebRTC', () => {
  let webRoot: string;
  let relay: RelayProcess;
  let teacher: NodeDevice;
  let browser: Browser;
  const figures: Record<string, number> = {};
  /** Did the relay take a presence announcement of this account's device (its log lines, JSON)? */
  function announced(account: string): boolean {
    const lines = relay.logs.flatMap((l) => {
      try {
        return [JSON.parse(l) as { msg?: string; account?: string; device?: string; peer?: string }];
      } catch {
        return [];
      }
    });
    const device = lines.find((l) => l.msg === 'device enrolled' && l.account === account)?.device;
    return device !== undefined && lines.some((l) => l.msg === 'presence announced' && l.peer === device);
  }

  async function pupil(account: string, name: string, options: { media: boolean }): Promise<Pupil> {
    const p = await openPupil(browser, { viewport: { width: 1000, height: 700 } });
    // WebRTC in Chromium gathers ICE candidates only with a media permission (BRIEF.md); without it, no direct link.
    if (options.media) await p.context.grantPermissions(['microphone'], { origin: relay.http });
    await p.page.goto(relay.http);
    await enrollWith(p.page, await relay.issueCode(account, 'pupil', name), PIN);
    return p;
  }

  async function seesClass(p: Pupil, name: string): Promise<void> {
    const entry = p.page.getByRole('link', { name: new RegExp(name) });
    await entry.waitFor({ timeout: WAIT });
    await expect.poll(() => entry.textContent(), { timeout: WAIT }).toContain('Guten Morgen');
  }

  beforeAll(async () => {
    webRoot = await webBuildDir();
    const school = (async () => {
      relay = await startRelay(await setupRelay('Gymnasium am See', { webRoot }));
      teacher = await nodeDevice(relay, 'schmidt', 'teacher', 'Frau Schmidt');
      const id = relay.info.school.id;
      const members = (...names: string[]) => names.map((n) => ({ account: accountRef(id, n), role: 'member' as const }));
      const a = await teacher.engine.createGroup({ kind: 'class', name: 'Klasse 7a', members: members('ben', 'mia') });
      const b = await teacher.engine.createGroup({ kind: 'class', name: 'Klasse 7b', members: members('lea', 'tom') });
      await (await teacher.engine.post(a, { text: 'Guten Morgen, 7a!' })).acked;
      await (await teacher.engine.post(b, { text: 'Guten Morgen, 7b!' })).acked;
    })();
    const [, started] = await Promise.all([buildWeb(webRoot), launchChromium({ webrtc: true }), school]);
    browser = started;
  }, 120_000);

  afterAll(async () => {
    await mkdir(artifacts, { recursive: true });
    await writeFile(join(artifacts, 'webrtc.json'), `${JSON.stringify(figures, null, 2)}\n`);
    await browser?.close();
    await teacher?.close();
    await relay?.stop().catch(() => {});
    if (relay) await removeSetup(relay.setup);
    if (webRoot) await rm(webRoot, { recursive: true, force: true });
  });

  it('falls back to the relay without an error when one browser cannot do WebRTC', async () => {
    const [lea, tom] = await Promise.all([pupil('lea', 'Lea Wolf', { media: false }), pupil('tom', 'Tom Berg', { media: true })]);
    await Promise.all([seesClass(lea, 'Klasse 7b'), seesClass(tom, 'Klasse 7b')]);
    await lea.page.getByRole('link', { name: /Klasse 7b/ }).click();
    await tom.page.getByRole('link', { name: /Klasse 7b/ }).click();
    for (let i = 1; i <= 3; i++) {
      await sendMessage(lea.page, `Über die Schule ${i}`);
      await bubble(tom.page, `Über die Schule ${i}`).waitFor({ timeout: WAIT });
      await sendMessage(tom.page, `Zurück über die Schule ${i}`);
      await bubble(lea.page, `Zurück über die Schule ${i}`).waitFor({ timeout: WAIT });
    }
    // Both announced themselves (so each was listed to the other and a dial was due), and no link came up: no
    // indicator, no error.
    await expect.poll(() => announced('lea') && announced('tom'), { timeout: WAIT }).toBe(true);
    expect(await directNote(lea.page).count()).toBe(0);
    expect(await directNote(tom.page).count()).toBe(0);
    expect(lea.errors, 'page errors (Lea)').toEqual([]);
    expect(tom.errors, 'page errors (Tom)').toEqual([]);
    await lea.context.close();
    await tom.context.close();
  });

  it('connects two pupils directly, and they keep chatting both ways after the relay is killed', async () => {
    const started = Date.now();
    const [ben, mia] = await Promise.all([pupil('ben', 'Ben Müller', { media: true }), pupil('mia', 'Mia Schneider', { media: true })]);
    await Promise.all([seesClass(ben, 'Klasse 7a'), seesClass(mia, 'Klasse 7a')]);
    const listed = Date.now();
    for (const p of [ben, mia]) await expect.poll(() => directNote(p.page).textContent(), { timeout: DIRECT_WAIT }).toContain('Direkt verbunden mit 1 Gerät');
    figures.chatListToDirectLinkMs = Date.now() - listed;
    figures.enrollToDirectLinkMs = Date.now() - started;
    // The indicator is part of the chat list: axe-clean, and in the screenshots.
    const axe = await new AxeBuilder({ page: ben.page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
    expect(axe.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
    await screenshot(ben.page, '20-direct-link');

    await ben.page.getByRole('link', { name: /Klasse 7a/ }).click();
    await mia.page.getByRole('link', { name: /Klasse 7a/ }).click();
    await sendMessage(ben.page, 'Noch über die Schule und direkt');
    await bubble(mia.page, 'Noch über die Schule und direkt').waitFor({ timeout: WAIT });

    // The relay dies (kill -9): both browsers notice, and the direct link carries on.
    const ports = {
      httpPort: Number(new URL(relay.http).port),
      wsPort: Number(/\/tcp\/(\d+)\/ws/.exec(relay.info.relay.ws[0]!)![1]),
      tcpPort: Number(/\/tcp\/(\d+)/.exec(relay.info.relay.tcp[0]!)![1]),
    };
    await relay.kill9();
    for (const p of [ben, mia]) await p.page.locator('sm-chat-list .banner.offline').waitFor({ timeout: WAIT });
    const rtt: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const t0 = Date.now();
      await sendMessage(ben.page, `Ohne Schule von Ben ${i}`);
      await bubble(mia.page, `Ohne Schule von Ben ${i}`).waitFor({ timeout: WAIT });
      await sendMessage(mia.page, `Ohne Schule von Mia ${i}`);
      await bubble(ben.page, `Ohne Schule von Mia ${i}`).waitFor({ timeout: WAIT });
      rtt.push(Date.now() - t0);
    }
    figures.roundTripWithoutRelayMsMedian = rtt.sort((a, b) => a - b)[1]!;
    // Mia's device has Ben's messages, the school does not: they keep their "waiting for the school" mark.
    for (let i = 1; i <= 3; i++) expect(await bubble(ben.page, `Ohne Schule von Ben ${i}`).locator('.state.pending').count()).toBe(1);
    for (const p of [ben, mia]) expect(await directNote(p.page).textContent()).toContain('Direkt verbunden mit 1 Gerät');
    // The teacher's device talks to the relay only: it saw the message from before the kill, none after.
    const class7a = teacher.engine.groups().find((g) => g.name === 'Klasse 7a')!.id;
    const teacherSees = async () => (await teacher.engine.messages(class7a)).map((m) => m.text);
    expect(await teacherSees()).not.toContain('Ohne Schule von Ben 1');

    // The relay comes back on the same ports: what the two wrote meanwhile reaches it (and the teacher) with catch-up.
    await rewriteConfig(relay.setup, ports);
    relay = await startRelay(relay.setup);
    await expect.poll(teacherSees, { timeout: WAIT }).toEqual(expect.arrayContaining(['Ohne Schule von Ben 3', 'Ohne Schule von Mia 3']));
    for (const p of [ben, mia]) await expect.poll(() => p.page.locator('sm-chat-list .banner.offline').count(), { timeout: WAIT }).toBe(0);
    // …and now the school has them: the marks clear.
    await expect.poll(() => ben.page.locator('sm-chat .state.pending').count(), { timeout: WAIT }).toBe(0);
    expect(ben.errors, 'page errors (Ben)').toEqual([]);
    expect(mia.errors, 'page errors (Mia)').toEqual([]);
  });
});
