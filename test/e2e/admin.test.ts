/**
 * The admin console end to end: a real slapd directory, a real relay process (serving the built app) whose sync
 * account keeps the school's groups, an admin enrolled in Chromium who opens the console (#admin), runs a sync and
 * reads the report, revokes a pupil's device (the relay drops the pupil's session; the class key rotates), and
 * changes the class retention (the group's policy op reaches a teacher's device). Axe runs on every tab;
 * screenshots of each go to test/artifacts/admin-*.png.
 */
import { rm } from 'node:fs/promises';
import AxeBuilder from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERIC, SERVICE_DN, SERVICE_PASSWORD, SUFFIX, generateSchool, writeTrees } from '../../packages/directory/test/support/fixture.ts';
import { type Slapd, slapdAvailable, startSlapd } from '../../packages/directory/test/support/slapd.ts';
import { enroll } from '@schoolmesh/client';
import { until } from '../../relay/test/support/devices.ts';
import { type RelayProcess, removeSetup, setupRelay, startRelay } from '../../relay/test/support/relay-process.ts';
import { type NodeDevice, type Pupil, buildWeb, launchChromium, measureInitialJs, nodeDevice, openPupil, screenshot, webBuildDir } from './support.ts';

const WAIT = 30_000;
const PIN = '2580';

async function expectNoAxeViolations(page: Page, screen: string): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`);
  expect(found, `axe on the ${screen} tab`).toEqual([]);
}

describe.skipIf(!slapdAvailable)('admin console: sync, revoke, policy in Chromium against a real relay and slapd', () => {
  let webRoot: string;
  let slapd: Slapd;
  let relay: RelayProcess;
  let browser: Browser;
  let admin: Pupil;
  let pupil: NodeDevice;
  let teacher: NodeDevice;
  const school = generateSchool(17, 60);
  const people = school.directory.people;
  const klass = school.directory.classes.find((c) => c.teachers.length > 0 && people.some((p) => p.class === c.name))!;
  const pupilPerson = people.find((p) => p.role === 'pupil' && p.class === klass.name)!;
  const teacherPerson = people.find((p) => p.id === klass.teachers[0])!;
  const className = `Klasse ${klass.name} (2026/27)`;

  const tab = (page: Page, name: string) => page.getByRole('tab', { name });

  beforeAll(async () => {
    webRoot = await webBuildDir();
    const trees = writeTrees(school);
    const [, started, ldap] = await Promise.all([
      buildWeb(webRoot),
      launchChromium(),
      startSlapd({
        suffix: SUFFIX,
        rootPassword: 'root-secret',
        ldif: trees.ldif,
        databaseConfig: [
          'access to attrs=userPassword by anonymous auth by * none',
          `access to * by dn.exact="${SERVICE_DN}" read by * none`,
          `limits dn.exact="${SERVICE_DN}" size.prtotal=unlimited`,
        ].join('\n'),
      }),
    ]);
    browser = started;
    slapd = ldap;
    relay = await startRelay(
      await setupRelay('Gesamtschule Nord', {
        webRoot,
        directory: { url: slapd.url, allowPlaintext: true, bindDn: SERVICE_DN, bindPassword: SERVICE_PASSWORD, schoolYear: '2026/27', preset: { name: 'inetorgperson', base: GENERIC } },
        directorySync: { intervalMinutes: 600, syncAtStart: false },
      }),
    );
    admin = await openPupil(browser, { viewport: { width: 1200, height: 800 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await pupil?.close();
    await teacher?.close();
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
    await slapd?.stop();
    if (webRoot) await rm(webRoot, { recursive: true, force: true });
  });

  it('keeps the console out of the first visit (its own chunk)', async () => {
    const report = await measureInitialJs(webRoot);
    expect(report.files.some((f) => f.file.includes('admin-console'))).toBe(false);
    expect(report.initialJsGzipKb).toBeLessThanOrEqual(250);
  });

  it('an admin opens the console, syncs the directory and reads the report', async () => {
    const page = admin.page;
    const code = await relay.issueCode('frau.admin', 'admin', 'Frau Admin');
    await page.goto(`${relay.http}/#enroll=${code}`);
    await page.getByLabel('Neue PIN für dieses Profil').fill(PIN);
    await page.getByLabel('PIN wiederholen').fill(PIN);
    await page.getByLabel('PIN wiederholen').press('Enter');
    const link = page.getByRole('link', { name: 'Schulverwaltung' });
    await link.waitFor({ timeout: WAIT });
    await link.click();
    await page.getByRole('heading', { name: 'Schulverwaltung', level: 1 }).waitFor({ timeout: WAIT });
    await expect.poll(() => page.url()).toContain('#admin');
    // The first tab loads at once (before any sync, the accounts the relay enrolled).
    await page.getByText(/\d+ Konten gefunden\./).waitFor({ timeout: WAIT });

    // Keyboard: the tabs move with the arrow keys.
    await tab(page, 'Konten').focus();
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => tab(page, 'Gruppen').getAttribute('aria-selected')).toBe('true');
    await page.keyboard.press('End');
    await expect.poll(() => tab(page, 'Protokoll').getAttribute('aria-selected')).toBe('true');

    await tab(page, 'Verzeichnis').click();
    await page
      .getByText(slapd.url)
      .waitFor({ timeout: WAIT })
      .catch(async (error: Error) => {
        await screenshot(page, 'admin-directory-failed');
        throw new Error(`${error.message}\nconsole shows:\n${await page.locator('sm-admin-console main').textContent()}\n${admin.errors.join('\n')}`);
      });
    await page.getByRole('button', { name: 'Jetzt synchronisieren' }).click();
    await page.getByRole('heading', { name: /Bericht vom .*: übernommen/ }).waitFor({ timeout: WAIT });
    await expect.poll(() => page.getByText(`${people.length} Personen gelesen.`, { exact: false }).count()).toBe(1);
    await expect.poll(() => page.getByRole('listitem').filter({ hasText: className }).count()).toBeGreaterThan(0);
    await screenshot(page, 'admin-directory');
    await expectNoAxeViolations(page, 'directory');

    await tab(page, 'Konten').click();
    await page.getByLabel('Name, Benutzername oder Klasse').fill(pupilPerson.id);
    await page.getByRole('button', { name: 'Suchen' }).click();
    await page.getByRole('cell', { name: pupilPerson.id, exact: true }).waitFor({ timeout: WAIT });
    // A sign-in code for the pupil, shown with its QR code; it enrolls a device of that account.
    // (Names repeat in a school of this size: the row is the one with the pupil's user name.)
    const row = page.getByRole('row').filter({ has: page.getByRole('cell', { name: pupilPerson.id, exact: true }) });
    await row.getByRole('button', { name: `Code für ${pupilPerson.displayName} erstellen` }).click();
    const card = page.locator('.code-card').filter({ hasText: pupilPerson.displayName });
    await card.waitFor({ timeout: WAIT });
    const shown = (await card.locator('.code').textContent())!;
    expect(shown).toMatch(/^[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}$/);
    expect(await card.getByRole('img', { name: `QR-Code für ${pupilPerson.displayName}` }).count()).toBe(1);
    const enrolled = await enroll(relay.http, { code: shown });
    expect(enrolled.identity.certificate).toMatchObject({ account: pupilPerson.id, role: 'pupil' });
    await screenshot(page, 'admin-accounts');
    await expectNoAxeViolations(page, 'accounts');

    await tab(page, 'Gruppen').click();
    await page.getByRole('cell', { name: className, exact: true }).waitFor({ timeout: WAIT });
    await screenshot(page, 'admin-groups');
    await expectNoAxeViolations(page, 'groups');
  });

  it("revokes a pupil's device: the relay drops its session and the class key rotates", async () => {
    const page = admin.page;
    pupil = await nodeDevice(relay, pupilPerson.id, 'pupil', pupilPerson.displayName);
    teacher = await nodeDevice(relay, teacherPerson.id, 'teacher', teacherPerson.displayName);
    const group = () => teacher.engine.groups().find((g) => g.name === className)?.id;
    await until(() => group() !== undefined && pupil.engine.canRead(group()!) && teacher.engine.canRead(group()!), WAIT, 'both devices in the class with its key');
    const pupilDevice = pupil.engine.deviceId;
    const epochBefore = teacher.engine.state(group()!)!.currentEpoch;

    await tab(page, 'Geräte').click();
    await page.getByLabel('Benutzername (leer: alle)').fill(pupilPerson.id);
    await page.getByRole('button', { name: 'Anzeigen' }).click();
    const item = page.getByRole('listitem').filter({ hasText: pupilDevice });
    await item.waitFor({ timeout: WAIT });
    await item.getByLabel('Neuer Name').fill('Laptop Raum 104');
    await item.getByRole('button', { name: 'Umbenennen' }).click();
    await item.getByText('Laptop Raum 104').waitFor({ timeout: WAIT });
    await expectNoAxeViolations(page, 'devices');
    await item.getByRole('button', { name: 'Widerrufen' }).click();
    await item.getByRole('button', { name: 'Ja, widerrufen' }).click();
    await item.getByText('widerrufen', { exact: true }).waitFor({ timeout: WAIT });
    await screenshot(page, 'admin-devices');

    await until(() => relay.logs.some((l) => l.includes('dropping session') && l.includes(pupilDevice)), WAIT, "the relay drops the pupil's session");
    await until(() => {
      const s = teacher.engine.state(group()!)!;
      return !s.devices.has(pupilDevice) && s.currentEpoch !== epochBefore;
    }, WAIT, 'the class without the device, under a new key');
  });

  it('changes the class retention: the policy op reaches the teacher; the audit log shows every action', async () => {
    const page = admin.page;
    await tab(page, 'Richtlinien').click();
    const field = page.getByLabel('Klassen');
    await field.waitFor({ timeout: WAIT });
    await field.fill('9');
    await page.getByRole('button', { name: 'Speichern' }).click();
    await page.getByText(/Gespeichert\. \d+ Gruppen wurden angepasst\./).waitFor({ timeout: WAIT });
    await screenshot(page, 'admin-policies');
    await expectNoAxeViolations(page, 'policies');
    const group = teacher.engine.groups().find((g) => g.name === className)!.id;
    await until(() => teacher.engine.state(group)!.policy.retentionDays === 9, WAIT, "the new retention at the teacher's device");

    await tab(page, 'Partnerschulen').click();
    await page.getByText('Keine Partnerschulen eingetragen.').waitFor({ timeout: WAIT });
    await screenshot(page, 'admin-federation');
    await expectNoAxeViolations(page, 'federation');

    await tab(page, 'Protokoll').click();
    await page.getByText(/Kette geprüft: \d+ Einträge, unverändert und vollständig\./).waitFor({ timeout: WAIT });
    // Checked in the admin's own browser, which keeps the head as its anchor for the next check (the tab may have
    // loaded twice already, then it says so).
    await page.getByText(/Auf diesem Gerät (zum ersten Mal geprüft|geprüft: die \d+ Einträge vom letzten Mal)/).waitFor({ timeout: WAIT });
    for (const action of ['Verzeichnis synchronisiert', 'Gerät umbenannt', 'Gerät widerrufen', 'Richtlinien geändert'])
      await expect.poll(() => page.getByRole('cell', { name: action }).count(), { timeout: WAIT }).toBeGreaterThan(0);
    await screenshot(page, 'admin-audit');
    await expectNoAxeViolations(page, 'audit');
    await tab(page, 'Konten').click();
    await tab(page, 'Protokoll').click();
    await page.getByText(/Auf diesem Gerät geprüft: die \d+ Einträge vom letzten Mal sind unverändert\./).waitFor({ timeout: WAIT });

    expect(admin.errors).toEqual([]);
  });
});
