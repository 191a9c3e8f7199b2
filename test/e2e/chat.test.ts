/**
 * The web app end to end: a real relay process on loopback serves the built app; a teacher's Node device creates
 * "Klasse 7a" with two pupils; each pupil enrolls in their own Chromium context with a one-time code (from the
 * relay's QR link, #enroll=CODE), sees the class, and the two chat both ways through the relay over libp2p
 * WebSockets. Axe finds no violations on the enrollment, chat list and chat screens; screenshots of each main
 * screen go to test/artifacts/.
 */
import { rm } from 'node:fs/promises';
import { accountRef, defaultGroupPolicy } from '@schoolmesh/model';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../../relay/test/support/devices.ts';
import { type RelayProcess, removeSetup, rewriteConfig, setupRelay, startRelay } from '../../relay/test/support/relay-process.ts';
import { bubble, buildWeb, enrollWith, expectNoAxeViolations, launchChromium, measureInitialJs, type NodeDevice, nodeDevice, openPupil, type Pupil, reloadAndUnlock, screenshot, sendMessage, setEngineClock, webBuildDir } from './support.ts';

const WAIT = 20_000;

const PIN = '2580';

/** A message row by its own text (not a quote of it). */
function line(page: Page, text: string) {
  return page.locator('sm-chat .line').filter({ has: page.locator('p.text').filter({ hasText: text }) });
}

/** Opens the action menu of a message and picks an item. */
async function act(page: Page, text: string, item: string): Promise<void> {
  const row = line(page, text);
  await row.hover();
  await row.locator('button.more').click();
  await page.getByRole('menuitem', { name: item }).click();
}

describe('web app: two pupils chat in their class through the relay', () => {
  let webRoot: string;
  let relay: RelayProcess;
  let teacher: NodeDevice;
  let browser: Browser;
  let ben: Pupil;
  let mia: Pupil;
  let group: string;
  let group5b: string;

  beforeAll(async () => {
    // The build, the browser and the school start side by side; the relay reads web files only when asked.
    webRoot = await webBuildDir();
    const school = (async () => {
      relay = await startRelay(await setupRelay('Gymnasium am See', { webRoot }));
      teacher = await nodeDevice(relay, 'schmidt', 'teacher', 'Frau Schmidt');
      const id = relay.info.school.id;
      group = await teacher.engine.createGroup({
        kind: 'class',
        name: 'Klasse 7a',
        members: [
          { account: accountRef(id, 'ben'), role: 'member' },
          { account: accountRef(id, 'mia'), role: 'member' },
        ],
      });
      group5b = await teacher.engine.createGroup({ kind: 'class', name: 'Klasse 5b', members: [{ account: accountRef(id, 'lena'), role: 'member' }] });
      await (await teacher.engine.post(group, { text: 'Guten Morgen, 7a! Denkt an die Bücher für Montag.' })).acked;
      await (await teacher.engine.post(group5b, { text: 'Willkommen in der 5b!' })).acked;
    })();
    const [, started] = await Promise.all([buildWeb(webRoot), launchChromium(), school]);
    browser = started;
    ben = await openPupil(browser, { viewport: { width: 1100, height: 720 } });
    mia = await openPupil(browser, { viewport: { width: 400, height: 760 } });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await teacher?.close();
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
    if (webRoot) await rm(webRoot, { recursive: true, force: true });
  });

  it('keeps the JavaScript of a first visit within budget (initial_js_gzip_kb ≤ 250)', async () => {
    const report = await measureInitialJs(webRoot);
    expect(report.files.some((f) => f.file.includes('engine-worker'))).toBe(true);
    expect(report.initialJsGzipKb).toBeLessThanOrEqual(250);
  });

  it('enrolls with codes, shows the class, and delivers messages both ways', async () => {
    const [benCode, miaCode] = await Promise.all([relay.issueCode('ben', 'pupil', 'Ben Müller'), relay.issueCode('mia', 'pupil', 'Mia Schneider')]);
    // Mia types her code by hand on a phone-sized window (lower case, no dashes), while Ben…
    const miaEnrolled = (async () => {
      await mia.page.goto(relay.http);
      await enrollWith(mia.page, miaCode.toLowerCase().replaceAll('-', ''), PIN);
    })();
    // …opens the link of his QR code: the code is filled in.
    await ben.page.goto(`${relay.http}/#enroll=${benCode}`);
    const codeBox = ben.page.getByLabel('Anmeldecode');
    await expect.poll(() => codeBox.inputValue(), { timeout: WAIT }).toBe(benCode);
    await expect.poll(() => ben.page.getByText('Gymnasium am See').count(), { timeout: WAIT }).toBeGreaterThan(0);
    await expectNoAxeViolations(ben.page, 'enrollment');
    await screenshot(ben.page, '01-enrollment');
    await enrollWith(ben.page, undefined, PIN);
    await miaEnrolled;

    // Both see the class with the teacher's message once their devices hold the group key.
    for (const p of [ben, mia]) {
      const entry = p.page.getByRole('link', { name: /Klasse 7a/ });
      await entry.waitFor({ timeout: WAIT });
      await expect.poll(() => entry.textContent(), { timeout: WAIT }).toContain('Denkt an die Bücher');
    }
    await expect.poll(() => ben.page.getByRole('status').first().textContent(), { timeout: WAIT }).toContain('Verbunden');
    await expectNoAxeViolations(mia.page, 'chat list');
    await screenshot(mia.page, '02-chat-list-phone');

    // Ben opens the chat and writes; Enter sends, Shift+Enter breaks the line.
    await ben.page.getByRole('link', { name: /Klasse 7a/ }).click();
    await bubble(ben.page, 'Denkt an die Bücher').waitFor({ timeout: WAIT });
    const box = ben.page.getByRole('textbox', { name: /Nachricht an/ });
    await box.fill('Hallo Mia!');
    await box.press('Shift+Enter');
    await box.pressSequentially('Hast du die Mathe-Hausaufgaben?');
    await box.press('Enter');
    await expect.poll(() => box.inputValue()).toBe('');
    const sent = bubble(ben.page, 'Hast du die Mathe-Hausaufgaben?');
    await sent.waitFor({ timeout: WAIT });
    expect(await sent.locator('.text').textContent()).toBe('Hallo Mia!\nHast du die Mathe-Hausaufgaben?');
    // Acknowledged by the relay: the pending mark gives way to "arrived".
    await sent.getByText('Bei der Schule angekommen').waitFor({ state: 'attached', timeout: WAIT });

    // Mia sees it in the list as unread, opens the chat, answers.
    const miaEntry = mia.page.getByRole('link', { name: /Klasse 7a/ });
    await expect.poll(() => miaEntry.textContent(), { timeout: WAIT }).toContain('Hast du die Mathe-Hausaufgaben?');
    await expect.poll(() => miaEntry.textContent(), { timeout: WAIT }).toMatch(/\d+ ungelesen/);
    await miaEntry.click();
    await bubble(mia.page, 'Hast du die Mathe-Hausaufgaben?').waitFor({ timeout: WAIT });
    await sendMessage(mia.page, 'Ja, Seite 42, Aufgaben 3 bis 5 😊');
    await bubble(mia.page, 'Seite 42').waitFor({ timeout: WAIT });

    await bubble(ben.page, 'Seite 42').waitFor({ timeout: WAIT });
    await until(async () => (await teacher.engine.messages(group)).some((m) => m.text.startsWith('Ja, Seite 42')), WAIT, 'the teacher gets the answer');
    await sendMessage(ben.page, 'Danke dir!');
    await bubble(mia.page, 'Danke dir!').waitFor({ timeout: WAIT });

    // The teacher answers from the Node device: both browsers show it live.
    await (await teacher.engine.post(group, { text: 'Bitte bis Montag erledigen.' })).acked;
    for (const p of [ben, mia]) await bubble(p.page, 'Bitte bis Montag erledigen.').waitFor({ timeout: WAIT });
    // Ben's read receipt reaches Mia: her message shows as read.
    await bubble(mia.page, 'Seite 42').getByText('Gelesen').waitFor({ state: 'attached', timeout: WAIT });

    await expectNoAxeViolations(ben.page, 'chat');
    await expectNoAxeViolations(mia.page, 'chat (phone)');
    await screenshot(ben.page, '03-chat-desktop');
    await screenshot(mia.page, '04-chat-phone');

    expect(ben.errors, 'page errors (Ben)').toEqual([]);
    expect(mia.errors, 'page errors (Mia)').toEqual([]);
  });

  it('carries reactions, replies, edits and deletions between the pupils', async () => {
    // Mia reacts to Ben's question; Ben sees it.
    await act(mia.page, 'Hast du die Mathe-Hausaufgaben?', 'Reagieren mit 👍');
    await line(ben.page, 'Hast du die Mathe-Hausaufgaben?').getByRole('button', { name: 'Reaktion 👍, 1' }).waitFor({ timeout: WAIT });

    // Mia replies to it: Ben sees the quote above her answer.
    await act(mia.page, 'Hast du die Mathe-Hausaufgaben?', 'Antworten');
    await sendMessage(mia.page, 'Klar, schick ich dir gleich');
    const reply = line(ben.page, 'Klar, schick ich dir gleich');
    await reply.waitFor({ timeout: WAIT });
    expect(await reply.locator('.quote').textContent()).toContain('Hast du die Mathe-Hausaufgaben?');

    // Ben edits his thanks; Mia sees the new text, marked as edited.
    await act(ben.page, 'Danke dir!', 'Bearbeiten');
    const box = ben.page.getByRole('textbox', { name: /Nachricht an/ });
    await expect.poll(() => box.inputValue()).toBe('Danke dir!');
    await box.fill('Danke dir, Mia!');
    await box.press('Enter');
    const edited = line(mia.page, 'Danke dir, Mia!');
    await edited.waitFor({ timeout: WAIT });
    await edited.getByText('bearbeitet').waitFor({ timeout: WAIT });

    // Ben deletes a message for everyone (asked once more before it goes).
    await sendMessage(ben.page, 'Ups, falscher Chat');
    await line(mia.page, 'Ups, falscher Chat').waitFor({ timeout: WAIT });
    const row = line(ben.page, 'Ups, falscher Chat');
    await row.hover();
    await row.locator('button.more').click();
    await expectNoAxeViolations(ben.page, 'chat with the message menu open');
    await screenshot(ben.page, '05-message-menu');
    await ben.page.getByRole('menuitem', { name: 'Für alle löschen' }).click();
    await ben.page.getByRole('menuitem', { name: 'Löschen', exact: true }).click();
    await expect.poll(() => line(mia.page, 'Ups, falscher Chat').count(), { timeout: WAIT }).toBe(0);
    await mia.page.locator('sm-chat p.text.deleted').first().waitFor({ timeout: WAIT });
    expect(ben.errors, 'page errors (Ben)').toEqual([]);
    expect(mia.errors, 'page errors (Mia)').toEqual([]);
  });

  it('keeps sibling profiles apart on one browser', async () => {
    const page = mia.page;
    await page.getByRole('link', { name: 'Zurück zu den Chats' }).click();
    await page.getByRole('button', { name: 'Profil wechseln' }).click();
    await page.getByRole('heading', { name: 'Wer benutzt Schoolmesh?' }).waitFor({ timeout: WAIT });
    await page.getByRole('button', { name: 'Profil hinzufügen' }).click();
    // Lena, Mia's sister, signs in on the same browser.
    const lenaCode = await relay.issueCode('lena', 'pupil', 'Lena Schneider');
    await enrollWith(page, lenaCode, 'lena-1111');
    const fiveB = page.getByRole('link', { name: /Klasse 5b/ });
    await expect.poll(() => fiveB.textContent(), { timeout: WAIT }).toContain('Willkommen in der 5b!');
    expect(await page.getByRole('link', { name: /Klasse 7a/ }).count()).toBe(0);
    expect(await page.getByText('Seite 42').count()).toBe(0);

    await page.getByRole('button', { name: 'Profil wechseln' }).click();
    const picker = page.getByRole('list', { name: 'Profile auf diesem Gerät' });
    await expect.poll(() => picker.getByRole('button').allInnerTexts(), { timeout: WAIT }).toEqual([
      expect.stringContaining('Mia Schneider'),
      'Entfernen',
      expect.stringContaining('Lena Schneider'),
      'Entfernen',
      expect.stringContaining('Profil hinzufügen'),
    ]);
    await expectNoAxeViolations(page, 'profile picker');
    await screenshot(page, '06-profile-picker');
    // Lena cannot open her sister's profile: it opens only with Mia's PIN.
    await picker.getByRole('button', { name: /^Mia Schneider/ }).click();
    const pin = page.getByLabel('PIN oder Passwort');
    await pin.fill('lena-1111');
    await pin.press('Enter');
    await page.getByText('Falsche PIN. Versuche es noch einmal.').waitFor({ timeout: WAIT });
    await expectNoAxeViolations(page, 'unlock');
    await screenshot(page, '07-unlock-wrong-pin');
    await pin.fill(PIN);
    await pin.press('Enter');
    const sevenA = page.getByRole('link', { name: /Klasse 7a/ });
    await expect.poll(() => sevenA.textContent(), { timeout: WAIT }).toContain('Diese Nachricht wurde gelöscht.');
    expect(await page.getByRole('link', { name: /Klasse 5b/ }).count()).toBe(0);
    expect(mia.errors, 'page errors (Mia)').toEqual([]);
  });

  it('keeps a message written offline across a reload and delivers it when the relay is back', async () => {
    const page = ben.page;
    // The service worker holds the app shell, so the app opens while the relay is down.
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    const cached = await page.evaluate(async () => {
      const name = (await caches.keys()).find((k) => k.startsWith('schoolmesh-shell-'));
      return name ? (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname) : [];
    });
    expect(cached).toEqual(expect.arrayContaining(['/', expect.stringMatching(/^\/assets\/index-.*\.js$/), expect.stringMatching(/^\/assets\/engine-worker-.*\.js$/)]));
    // Only the service worker may bring the app back: empty the browser's HTTP cache.
    const cdp = await ben.context.newCDPSession(page);
    await cdp.send('Network.clearBrowserCache');
    await cdp.detach();
    const http = Number(new URL(relay.http).port);
    const ws = Number(/\/tcp\/(\d+)\/ws/.exec(relay.info.relay.ws[0]!)![1]);
    const tcp = Number(/\/tcp\/(\d+)/.exec(relay.info.relay.tcp[0]!)![1]);
    const setup = relay.setup;
    await relay.stop();

    await page.getByText(/^Offline/).waitFor({ timeout: WAIT });
    await sendMessage(page, 'Bin gleich wieder online');
    const offline = bubble(page, 'Bin gleich wieder online');
    await offline.getByText('Wartet auf die Schule').waitFor({ state: 'attached', timeout: WAIT });
    await screenshot(page, '08-offline-pending');

    // The profile opens with its PIN again after the reload, from storage alone (the relay is down).
    await reloadAndUnlock(page, PIN, offline, WAIT);
    await offline.getByText('Wartet auf die Schule').waitFor({ state: 'attached', timeout: WAIT });
    await page.getByText(/^Offline/).waitFor({ timeout: WAIT });

    await rewriteConfig(setup, { httpPort: http, wsPort: ws, tcpPort: tcp });
    relay = await startRelay(setup);
    // Acknowledged by the relay (or read by Mia already, if her chat is open: that, too, means the relay has it).
    await offline.getByText('Bei der Schule angekommen', { exact: true }).or(offline.getByText('Gelesen', { exact: true })).waitFor({ state: 'attached', timeout: 30_000 });
    await until(async () => (await teacher.engine.messages(group)).some((m) => m.text === 'Bin gleich wieder online'), 30_000, 'the teacher gets it');
    const miaEntry = mia.page.getByRole('link', { name: /Klasse 7a/ });
    await expect.poll(() => miaEntry.textContent(), { timeout: 30_000 }).toContain('Bin gleich wieder online');
    expect(ben.errors, 'page errors (Ben)').toEqual([]);
  });

  it('shows a desktop notification for a new message while the app is hidden', async () => {
    const page = ben.page;
    // Headless Chromium has no notification centre: record what the app would show, and hide the page.
    await page.evaluate(() => {
      const shown: { title: string; body: string | undefined }[] = [];
      (window as unknown as { shown: typeof shown }).shown = shown;
      class RecordingNotification {
        static permission = 'granted';
        static requestPermission = async () => 'granted';
        onclick: (() => void) | null = null;
        constructor(title: string, options?: { body?: string }) {
          shown.push({ title, body: options?.body });
        }
        close(): void {}
      }
      Object.defineProperty(window, 'Notification', { value: RecordingNotification, configurable: true, writable: true });
      Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await (await teacher.engine.post(group, { text: 'Morgen fällt Sport aus.' })).acked;
    await expect
      .poll(() => page.evaluate(() => (window as unknown as { shown: unknown[] }).shown), { timeout: WAIT })
      .toContainEqual({ title: 'Klasse 7a', body: 'Frau Schmidt: Morgen fällt Sport aus.' });
    await page.evaluate(() => {
      delete (document as { visibilityState?: unknown }).visibilityState;
      document.dispatchEvent(new Event('visibilitychange'));
    });
  });

  it('lets a message disappear when its retention ends (injected clock)', async () => {
    // A trip group that keeps messages for one day.
    const school = relay.info.school.id;
    const trip = await teacher.engine.createGroup({
      kind: 'custom',
      name: 'Wandertag',
      members: [{ account: accountRef(school, 'ben'), role: 'member' }],
      policy: { ...defaultGroupPolicy('custom'), retentionDays: 1 },
    });
    await (await teacher.engine.post(trip, { text: 'Treffpunkt 8 Uhr am Bahnhof' })).acked;
    const ts = (await teacher.engine.messages(trip)).find((m) => m.text === 'Treffpunkt 8 Uhr am Bahnhof')!.ts;
    const page = ben.page;
    await page.getByRole('link', { name: /Wandertag/ }).click();
    await line(page, 'Treffpunkt 8 Uhr am Bahnhof').waitFor({ timeout: WAIT });
    expect(await page.getByText('Nachrichten werden nach einem Tag gelöscht.', { exact: false }).count()).toBe(1);
    // Ben's engine worker jumps to 3 seconds before the message's day is over (its Date.now, moved over the DevTools
    // protocol). The next time it looks (here: a new message elsewhere), it sets its timer, and the message goes at
    // its time, without a reload.
    await setEngineClock(browser, page, ts + 86_400_000 - 3_000 - Date.now());
    try {
      await (await teacher.engine.post(group, { text: 'Gleich geht es los.' })).acked;
      await line(page, 'Treffpunkt 8 Uhr am Bahnhof').waitFor({ state: 'detached', timeout: WAIT });
      await page.getByText('Noch keine Nachrichten. Schreib die erste!').waitFor({ timeout: WAIT });
      await expect.poll(() => page.getByRole('link', { name: /Wandertag/ }).textContent(), { timeout: WAIT }).toContain('Noch keine Nachrichten');
    } finally {
      await setEngineClock(browser, page, 0);
    }
    await page.getByRole('link', { name: /Klasse 7a/ }).click();
    await line(page, 'Gleich geht es los.').waitFor({ timeout: WAIT });
  });

  it('speaks English on request', async () => {
    const page = ben.page;
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('textbox', { name: 'Message to Klasse 7a' }).waitFor({ timeout: WAIT });
    await page.getByText('Today', { exact: true }).waitFor({ timeout: WAIT });
    expect(await page.getByText('Messages are deleted after 14 days.', { exact: false }).count()).toBe(1);
    await expectNoAxeViolations(page, 'chat (English)');
    await screenshot(page, '09-chat-english');
    await page.getByRole('button', { name: 'Deutsch' }).click();
    await page.getByRole('textbox', { name: 'Nachricht an Klasse 7a' }).waitFor({ timeout: WAIT });
  });

  it('tells a pupil whose device the school revoked, instead of showing "offline"', async () => {
    const page = ben.page;
    const listed = (await (await fetch(`${relay.http}/api/admin/devices`, { headers: { authorization: `Bearer ${relay.setup.keys.adminToken}` } })).json()) as { devices: { device: string; account: string }[] };
    const bens = listed.devices.filter((d) => d.account === 'ben').map((d) => d.device);
    expect(bens).toHaveLength(1);
    await relay.revoke(bens);
    // (On a wide screen the chat list stays beside the open chat: the banner shows there.)
    const alert = page.getByRole('alert').filter({ hasText: 'Die Schule lässt dieses Gerät nicht mehr herein' });
    await alert.waitFor({ timeout: WAIT });
    // What was stored stays readable.
    expect(await page.getByRole('link', { name: /Klasse 7a/ }).count()).toBe(1);
    await expectNoAxeViolations(page, 'chat list (device refused)');
    await screenshot(page, '10-device-refused');
  });
});
