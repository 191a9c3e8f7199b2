/**
 * Scanning the sign-in QR code with the camera, end to end: the relay issues a real one-time code, the test draws
 * the QR code of its #enroll= link into a Y4M video, and Chromium's fake camera plays that file to getUserMedia.
 * The scanner (jsQR on the page) reads it, the code is filled in, the pupil enrolls and sees her class.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accountRef } from '@schoolmesh/model';
import type { Browser } from 'playwright-core';
import QRCode from 'qrcode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelayProcess, removeSetup, setupRelay, startRelay } from '../../relay/test/support/relay-process.ts';
import { buildWeb, expectNoAxeViolations, launchChromium, type NodeDevice, nodeDevice, openPupil, screenshot, webBuildDir } from './support.ts';

const WAIT = 20_000;

/**
 * A short Y4M video (640×480, 4:2:0) showing the QR code of `text` in black on white, centred: what a pupil holds up
 * to a laptop camera. Chromium's fake capture device loops it.
 */
function qrVideo(text: string, frames = 10): Buffer {
  const W = 640;
  const H = 480;
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const n = qr.modules.size;
  const quiet = 4;
  const scale = Math.floor(Math.min(W, H) / (n + 2 * quiet));
  const left = Math.floor((W - n * scale) / 2);
  const top = Math.floor((H - n * scale) / 2);
  const y = Buffer.alloc(W * H, 235);
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) {
      if (!qr.modules.get(r, c)) continue;
      for (let dy = 0; dy < scale; dy++) y.fill(16, (top + r * scale + dy) * W + left + c * scale, (top + r * scale + dy) * W + left + (c + 1) * scale);
    }
  const chroma = Buffer.alloc((W / 2) * (H / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), y, chroma]);
  return Buffer.concat([Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`), ...Array.from({ length: frames }, () => frame)]);
}

describe('web app: enrolling by scanning the QR code with the camera', () => {
  let webRoot: string;
  let videoDir: string;
  let relay: RelayProcess;
  let teacher: NodeDevice;
  let browser: Browser;
  let code: string;

  beforeAll(async () => {
    webRoot = await webBuildDir();
    videoDir = await mkdtemp(join(tmpdir(), 'schoolmesh-camera-'));
    const [,] = await Promise.all([
      buildWeb(webRoot),
      (async () => {
        relay = await startRelay(await setupRelay('Grundschule am Bach', { webRoot }));
        teacher = await nodeDevice(relay, 'koenig', 'teacher', 'Frau König');
        await teacher.engine.createGroup({ kind: 'class', name: 'Klasse 4b', members: [{ account: accountRef(relay.info.school.id, 'lena'), role: 'member' }] });
      })(),
    ]);
    // A real one-time code, and the link its printed QR code carries.
    code = await relay.issueCode('lena', 'pupil', 'Lena Krüger');
    const video = join(videoDir, 'qr.y4m');
    await writeFile(video, qrVideo(`${relay.http}/#enroll=${code}`));
    browser = await launchChromium({ extraArgs: ['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${video}`] });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await teacher?.close();
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
    for (const dir of [webRoot, videoDir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads the code from the camera, fills it in, and enrolls', async () => {
    const lena = await openPupil(browser, { viewport: { width: 900, height: 820 } });
    await lena.context.grantPermissions(['camera'], { origin: relay.http });
    await lena.page.goto(relay.http);
    const scan = lena.page.getByRole('button', { name: 'QR-Code scannen' });
    await scan.click();
    const codeBox = lena.page.getByLabel('Anmeldecode');
    await expect.poll(() => codeBox.inputValue(), { timeout: WAIT }).toBe(code);
    // The scanner closed by itself, the camera is off, and the PIN field has the focus.
    expect(await lena.page.getByRole('dialog').count()).toBe(0);
    await expect.poll(() => lena.page.locator('sm-enroll').evaluate((el) => el.shadowRoot?.activeElement?.id)).toBe('pin');
    await lena.page.getByLabel('Neue PIN für dieses Profil').fill('4711');
    await lena.page.getByLabel('PIN wiederholen').fill('4711');
    await lena.page.getByLabel('PIN wiederholen').press('Enter');
    await lena.page.getByRole('link', { name: /Klasse 4b/ }).waitFor({ timeout: WAIT });
    expect(lena.errors).toEqual([]);
    await lena.context.close();
  });

  it('shows the camera view (axe-clean) and says so when the camera is not allowed', async () => {
    // Camera allowed: the scanner dialog with the live picture, before it has found anything to use (the code in the
    // video was redeemed above, but the scanner only reads it: it closes on the first readable code).
    const viewer = await openPupil(browser, { viewport: { width: 900, height: 820 } });
    await viewer.page.goto(relay.http);
    await viewer.page.evaluate(() => {
      // Keep the dialog open for the screenshot: hide what the camera shows from the decoder.
      const real = CanvasRenderingContext2D.prototype.getImageData;
      CanvasRenderingContext2D.prototype.getImageData = function (...args: Parameters<typeof real>) {
        const data = real.apply(this, args);
        data.data.fill(255);
        return data;
      };
    });
    await viewer.context.grantPermissions(['camera'], { origin: relay.http });
    await viewer.page.getByRole('button', { name: 'QR-Code scannen' }).click();
    const dialog = viewer.page.getByRole('dialog', { name: 'QR-Code scannen' });
    await dialog.waitFor({ timeout: WAIT });
    await expect.poll(() => dialog.locator('video').evaluate((v) => (v as HTMLVideoElement).videoWidth), { timeout: WAIT }).toBe(640);
    await expectNoAxeViolations(viewer.page, 'QR scanner');
    await screenshot(viewer.page, '19-qr-scanner');
    await viewer.page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    await expect.poll(() => viewer.page.locator('sm-enroll').evaluate((el) => el.shadowRoot?.activeElement?.className)).toBe('scan-button');
    await viewer.context.close();

    // Camera not allowed (this context was granted no permission, so Chromium refuses): a clear message.
    const denied = await openPupil(browser, { viewport: { width: 900, height: 820 } });
    await denied.page.goto(relay.http);
    await denied.page.getByRole('button', { name: 'QR-Code scannen' }).click();
    await expect
      .poll(() => denied.page.getByRole('dialog', { name: 'QR-Code scannen' }).getByRole('alert').textContent(), { timeout: WAIT })
      .toContain('Kein Zugriff auf die Kamera');
    await denied.context.close();
  });
});
