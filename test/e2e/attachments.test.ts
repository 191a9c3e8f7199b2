/**
 * Attachments in the web app, end to end: two pupils in two Chromium contexts, a real relay process on loopback.
 * Ben attaches a large image (2400×1200 PNG); the page downscales it to a 1600×800 JPEG, the worker seals it under a
 * fresh key and uploads it by /schoolmesh/blob/1; Mia sees it inline and her browser decodes the very pixels Ben
 * drew (checked on the decoded image, not only the element). The full-size dialog opens and closes by keyboard.
 * A PDF arrives as a file card that downloads the same bytes; a too-large and an unsupported file get clear errors.
 * Axe finds nothing on the chat with the image; a screenshot goes to test/artifacts/.
 */
import { rm } from 'node:fs/promises';
import { accountRef } from '@schoolmesh/model';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelayProcess, removeSetup, rewriteConfig, setupRelay, startRelay } from '../../relay/test/support/relay-process.ts';
import { buildWeb, captureWorkerConsole, enrollWith, expectNoAxeViolations, launchChromium, type NodeDevice, nodeDevice, openPupil, type Pupil, screenshot, webBuildDir } from './support.ts';

const WAIT = 20_000;

/** Sends what is staged above the composer (files picked, dropped or pasted), once `count` files show there. */
async function sendStaged(page: Page, count: number): Promise<void> {
  const staged = page.getByRole('list', { name: 'Anhänge für die nächste Nachricht' }).getByRole('listitem');
  await expect.poll(() => staged.count(), { timeout: WAIT }).toBe(count);
  await page.locator('sm-chat').getByRole('button', { name: 'Senden' }).click();
}
const PIN = '2580';

async function enroll(page: Page, http: string, code: string): Promise<void> {
  await page.goto(`${http}/#enroll=${code}`);
  await expect.poll(() => page.getByLabel('Anmeldecode').inputValue(), { timeout: WAIT }).toBe(code);
  await enrollWith(page, undefined, PIN);
}

/** A PNG drawn in the browser: left half red, right half blue, a green square in the top-left corner. */
async function testPng(page: Page, width: number, height: number): Promise<Buffer> {
  const dataUrl = await page.evaluate(
    ([w, h]) => {
      const c = document.createElement('canvas');
      c.width = w;
      c.height = h;
      const g = c.getContext('2d')!;
      g.fillStyle = '#ff0000';
      g.fillRect(0, 0, w / 2, h);
      g.fillStyle = '#0000ff';
      g.fillRect(w / 2, 0, w / 2, h);
      g.fillStyle = '#00ff00';
      g.fillRect(0, 0, w / 8, w / 8);
      return c.toDataURL('image/png');
    },
    [width, height] as const,
  );
  return Buffer.from(dataUrl.split(',')[1]!, 'base64');
}

/** The attachment's decoded image in the page: its natural size and the colour at a few points (scaled to it). */
async function decoded(page: Page) {
  return page.locator('sm-attachment .thumb img').first().evaluate((img: HTMLImageElement) => {
    const c = document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const g = c.getContext('2d')!;
    g.drawImage(img, 0, 0);
    const at = (x: number, y: number) => Array.from(g.getImageData(Math.round(x * c.width), Math.round(y * c.height), 1, 1).data.slice(0, 3));
    return { width: img.naturalWidth, height: img.naturalHeight, green: at(0.03, 0.06), red: at(0.3, 0.7), blue: at(0.8, 0.5), complete: img.complete };
  });
}

/**
 * Waits until the relay has Ben's message: "Bei der Schule angekommen", or already "Gelesen" (Mia has the chat
 * open). The acknowledgement follows the upload and the entry's fsync, so it gets longer on a loaded machine; when
 * it does not come, the error says what the relay and Ben's engine worker logged.
 */
async function reachedRelay(line: Locator, relay: RelayProcess, worker: string[]): Promise<void> {
  await line
    .getByText('Bei der Schule angekommen', { exact: true })
    .or(line.getByText('Gelesen', { exact: true }))
    .waitFor({ state: 'attached', timeout: 3 * WAIT })
    .catch((error: Error) => {
      const relayLog = relay.logs.filter((l) => !l.includes('"admin action"')).slice(-40);
      throw new Error(`${error.message}\nrelay log:\n${relayLog.join('\n')}\nBen's engine worker:\n${worker.join('\n')}`);
    });
}

const close = (actual: number[], expected: number[]) => actual.every((v, i) => Math.abs(v - expected[i]!) <= 24);

describe('web app: two pupils exchange an image and a PDF', () => {
  let webRoot: string;
  let relay: RelayProcess;
  let teacher: NodeDevice;
  let browser: Browser;
  let ben: Pupil;
  let mia: Pupil;

  beforeAll(async () => {
    webRoot = await webBuildDir();
    const school = (async () => {
      relay = await startRelay(await setupRelay('Gymnasium am See', { webRoot }));
      teacher = await nodeDevice(relay, 'schmidt', 'teacher', 'Frau Schmidt');
      const id = relay.info.school.id;
      const group = await teacher.engine.createGroup({
        kind: 'class',
        name: 'Klasse 7a',
        members: [
          { account: accountRef(id, 'ben'), role: 'member' },
          { account: accountRef(id, 'mia'), role: 'member' },
        ],
      });
      await (await teacher.engine.post(group, { text: 'Zeigt eure Tafelbilder!' })).acked;
    })();
    const [, started] = await Promise.all([buildWeb(webRoot), launchChromium(), school]);
    browser = started;
    ben = await openPupil(browser, { viewport: { width: 1100, height: 760 } });
    mia = await openPupil(browser, { viewport: { width: 1100, height: 760 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await teacher?.close();
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
    if (webRoot) await rm(webRoot, { recursive: true, force: true });
  });

  it('Ben sends a downscaled image; Mia sees it inline with the pixels Ben drew, and opens it full size', async () => {
    const [benCode, miaCode] = await Promise.all([relay.issueCode('ben', 'pupil', 'Ben Müller'), relay.issueCode('mia', 'pupil', 'Mia Schneider')]);
    await Promise.all([enroll(ben.page, relay.http, benCode), enroll(mia.page, relay.http, miaCode)]);
    for (const p of [ben, mia]) {
      const entry = p.page.getByRole('link', { name: /Klasse 7a/ });
      await expect.poll(() => entry.textContent(), { timeout: WAIT }).toContain('Tafelbilder');
      await entry.click();
      await p.page.locator('sm-chat article').filter({ hasText: 'Tafelbilder' }).waitFor({ timeout: WAIT });
    }
    await expect.poll(() => ben.page.getByRole('status').first().textContent(), { timeout: WAIT }).toContain('Verbunden');
    const benWorker = await captureWorkerConsole(browser, ben.page);

    // The attach button is a labelled, focusable button; the file goes in through the picker.
    const attach = ben.page.getByRole('button', { name: 'Bild oder PDF anhängen' });
    await attach.focus();
    expect(await attach.evaluate((b) => b === (b.getRootNode() as ShadowRoot).activeElement)).toBe(true);
    await ben.page.getByRole('textbox', { name: /Nachricht an/ }).fill('Mein Tafelbild von heute');
    const png = await testPng(ben.page, 2400, 1200);
    expect(png.length).toBeGreaterThan(1000);
    await ben.page.locator('sm-chat input[type="file"]').setInputFiles({ name: 'tafel.png', mimeType: 'image/png', buffer: png });
    await sendStaged(ben.page, 1);

    // Ben's own bubble shows the image once it is sent; it arrives at the relay.
    const benLine = ben.page.locator('sm-chat .line').filter({ hasText: 'Mein Tafelbild von heute' });
    await benLine.locator('sm-attachment .thumb img').waitFor({ timeout: WAIT });
    await reachedRelay(benLine, relay, benWorker.lines);

    await benWorker.stop();

    // Mia sees it inline: decoded at the downscaled size, with the colours where Ben drew them.
    const miaLine = mia.page.locator('sm-chat .line').filter({ hasText: 'Mein Tafelbild von heute' });
    await miaLine.locator('sm-attachment .thumb img').waitFor({ timeout: WAIT });
    await expect.poll(async () => (await decoded(mia.page)).complete, { timeout: WAIT }).toBe(true);
    const pixels = await decoded(mia.page);
    expect([pixels.width, pixels.height]).toEqual([1600, 800]);
    expect(close(pixels.red, [255, 0, 0]), `red half: ${pixels.red}`).toBe(true);
    expect(close(pixels.blue, [0, 0, 255]), `blue half: ${pixels.blue}`).toBe(true);
    expect(close(pixels.green, [0, 255, 0]), `green corner: ${pixels.green}`).toBe(true);

    await expectNoAxeViolations(mia.page, 'chat with an image');
    await screenshot(mia.page, '10-chat-image');

    // By keyboard: the thumbnail opens a modal dialog with the full image; Escape closes it and focus comes back.
    const thumb = mia.page.getByRole('button', { name: 'Bild tafel.jpg groß anzeigen' });
    await thumb.focus();
    await mia.page.keyboard.press('Enter');
    const dialog = mia.page.locator('sm-attachment dialog[open]');
    await dialog.waitFor({ timeout: WAIT });
    const full = await dialog.locator('img.full').evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight]);
    expect(full).toEqual([1600, 800]);
    await expectNoAxeViolations(mia.page, 'image dialog');
    await screenshot(mia.page, '11-image-dialog');
    await mia.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached', timeout: WAIT });
    expect(await thumb.evaluate((b) => b === (b.getRootNode() as ShadowRoot).activeElement)).toBe(true);
  }, 120_000);

  it('a PDF arrives as a file card that downloads the same bytes', async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n% Schoolmesh test\n'), Buffer.alloc(30_000, 0x41), Buffer.from('\n%%EOF\n')]);
    await ben.page.locator('sm-chat input[type="file"]').setInputFiles({ name: 'Arbeitsblatt.pdf', mimeType: 'application/pdf', buffer: pdf });
    await sendStaged(ben.page, 1);
    const card = mia.page.locator('sm-chat .line').filter({ hasText: 'Arbeitsblatt.pdf' });
    await card.waitFor({ timeout: WAIT });
    const [download] = await Promise.all([mia.page.waitForEvent('download', { timeout: WAIT }), card.getByRole('button', { name: 'Arbeitsblatt.pdf öffnen' }).click()]);
    expect(download.suggestedFilename()).toBe('Arbeitsblatt.pdf');
    const path = await download.path();
    const { readFile } = await import('node:fs/promises');
    expect(Buffer.compare(await readFile(path), pdf)).toBe(0);
    await expectNoAxeViolations(mia.page, 'chat with a PDF');
  });

  it('sends several files in one message: picked together, each shown before sending and removable; Mia gets them all', async () => {
    const files = [
      { name: 'seite1.png', mimeType: 'image/png', buffer: await testPng(ben.page, 600, 300) },
      { name: 'seite2.png', mimeType: 'image/png', buffer: await testPng(ben.page, 300, 600) },
      { name: 'falsch.png', mimeType: 'image/png', buffer: await testPng(ben.page, 200, 200) },
      { name: 'Lösungen.pdf', mimeType: 'application/pdf', buffer: Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(5_000, 0x42), Buffer.from('\n%%EOF\n')]) },
    ];
    await ben.page.locator('sm-chat input[type="file"]').setInputFiles(files);
    const staged = ben.page.getByRole('list', { name: 'Anhänge für die nächste Nachricht' }).getByRole('listitem');
    await expect.poll(() => staged.count(), { timeout: WAIT }).toBe(4);
    // One picked by mistake comes out again before sending.
    await ben.page.getByRole('button', { name: 'falsch.jpg entfernen' }).click();
    await expect.poll(() => staged.count()).toBe(3);
    await ben.page.getByRole('textbox', { name: /Nachricht an/ }).fill('Hausaufgaben mit Lösungen');
    await expectNoAxeViolations(ben.page, 'composer with staged files');
    await screenshot(ben.page, '27-attachments-staged');
    await ben.page.getByRole('textbox', { name: /Nachricht an/ }).press('Enter');
    await expect.poll(() => staged.count(), { timeout: WAIT }).toBe(0);

    const miaLine = mia.page.locator('sm-chat .line').filter({ hasText: 'Hausaufgaben mit Lösungen' });
    await miaLine.waitFor({ timeout: 2 * WAIT });
    const images = miaLine.locator('sm-attachment .thumb img');
    await expect.poll(() => images.count(), { timeout: 2 * WAIT }).toBe(2);
    await expect
      .poll(() => images.evaluateAll((all: HTMLImageElement[]) => all.map((img) => (img.complete ? `${img.naturalWidth}x${img.naturalHeight}` : ''))), { timeout: 2 * WAIT })
      .toEqual(['600x300', '300x600']);
    await miaLine.getByRole('button', { name: 'Lösungen.pdf öffnen' }).waitFor({ timeout: WAIT });
    expect(await miaLine.getByText('falsch').count()).toBe(0);
    await expectNoAxeViolations(mia.page, 'message with several files');
  }, 120_000);

  it('refuses too-large and unsupported files with a clear error, and keeps the typed text', async () => {
    const box = ben.page.getByRole('textbox', { name: /Nachricht an/ });
    await ben.page.locator('sm-chat input[type="file"]').setInputFiles({ name: 'notizen.txt', mimeType: 'text/plain', buffer: Buffer.from('hallo') });
    await expect.poll(() => ben.page.getByRole('alert').first().textContent(), { timeout: WAIT }).toContain('Diese Datei kann nicht gesendet werden');
    await box.fill('Hier das Video');
    await ben.page
      .locator('sm-chat input[type="file"]')
      .setInputFiles({ name: 'riesig.pdf', mimeType: 'application/pdf', buffer: Buffer.alloc(10 * 1024 * 1024 + 1, 0x20) });
    await expect.poll(() => ben.page.getByRole('alert').first().textContent(), { timeout: WAIT }).toContain('Die Datei ist zu groß');
    expect(await box.inputValue()).toBe('Hier das Video');
    expect(ben.errors, 'page errors (Ben)').toEqual([]);
    expect(mia.errors, 'page errors (Mia)').toEqual([]);
  });

  it('sends an image written while the relay is down: pending until the relay is back, then Mia sees it', async () => {
    const http = Number(new URL(relay.http).port);
    const ws = Number(/\/tcp\/(\d+)\/ws/.exec(relay.info.relay.ws[0]!)![1]);
    const tcp = Number(/\/tcp\/(\d+)/.exec(relay.info.relay.tcp[0]!)![1]);
    const setup = relay.setup;
    const benWorker = await captureWorkerConsole(browser, ben.page);
    await relay.stop();
    await ben.page.getByText(/^Offline/).waitFor({ timeout: WAIT });

    await ben.page.getByRole('textbox', { name: /Nachricht an/ }).fill('Tafelbild aus dem Funkloch');
    await ben.page.locator('sm-chat input[type="file"]').setInputFiles({ name: 'funkloch.png', mimeType: 'image/png', buffer: await testPng(ben.page, 800, 400) });
    await sendStaged(ben.page, 1);
    // Written at once, shown from Ben's own copy, marked as waiting for the school.
    const benLine = ben.page.locator('sm-chat .line').filter({ hasText: 'Tafelbild aus dem Funkloch' });
    await benLine.locator('sm-attachment .thumb img').waitFor({ timeout: WAIT });
    await benLine.getByText('Wartet auf die Schule').waitFor({ state: 'attached', timeout: WAIT });
    expect(await ben.page.getByRole('alert').filter({ hasText: 'Datei' }).count()).toBe(0);
    await screenshot(ben.page, '12-image-offline-pending');

    await rewriteConfig(setup, { httpPort: http, wsPort: ws, tcpPort: tcp });
    relay = await startRelay(setup);
    // The entry and the file reach the relay; only then does the mark change (to "Gelesen" at once if Mia reads it).
    await reachedRelay(benLine, relay, benWorker.lines);
    await benWorker.stop();
    const miaLine = mia.page.locator('sm-chat .line').filter({ hasText: 'Tafelbild aus dem Funkloch' });
    await miaLine.locator('sm-attachment .thumb img').waitFor({ timeout: 3 * WAIT });
    expect(await miaLine.locator('sm-attachment .thumb img').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(800);
    expect(ben.errors, 'page errors (Ben)').toEqual([]);
    expect(mia.errors, 'page errors (Mia)').toEqual([]);
  }, 150_000);
});
