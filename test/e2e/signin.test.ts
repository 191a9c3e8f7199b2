/**
 * Signing in with the school password in the web app, end to end: a real slapd, a relay process whose config names
 * the directory, Chromium. The enrollment screen offers the password only where /api/school says the school has it
 * (account.test.ts checks a school without); wrong passwords, locked accounts and too many attempts get clear
 * messages; the right password gives a device certified for that account.
 */
import { rm } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERIC, SERVICE_DN, SERVICE_PASSWORD, SUFFIX, generateSchool, ldifEntry, passwordOf, ssha, writeTrees } from '../../packages/directory/test/support/fixture.ts';
import { type Slapd, slapdAvailable, startSlapd } from '../../packages/directory/test/support/slapd.ts';
import { type RelayProcess, removeSetup, setupRelay, startRelay } from '../../relay/test/support/relay-process.ts';
import { buildWeb, expectNoAxeViolations, launchChromium, openPupil, screenshot, webBuildDir } from './support.ts';

const WAIT = 20_000;
const LOCKED = { id: 'gesperrt.gustav', password: 'Gustavs-Passwort-7' };

async function signIn(page: Page, username: string, password: string, pin = '2580'): Promise<void> {
  await page.getByLabel('Benutzername').fill(username);
  await page.getByLabel('Passwort der Schule').fill(password);
  await page.getByLabel('Neue PIN für dieses Profil').fill(pin);
  await page.getByLabel('PIN wiederholen').fill(pin);
  await page.getByRole('button', { name: 'Gerät anmelden' }).click();
}

describe.skipIf(!slapdAvailable)('web app: sign in with the school password', () => {
  let webRoot: string;
  let slapd: Slapd;
  let relay: RelayProcess;
  let browser: Browser;
  const school = generateSchool(11, 40);
  const pupils = school.directory.people.filter((p) => p.role === 'pupil');

  beforeAll(async () => {
    webRoot = await webBuildDir();
    const directory = (async () => {
      const trees = writeTrees(school);
      // One more pupil whose account the school has locked (shadowExpire in the past).
      const locked = ldifEntry(`cn=Gustav Gesperrt,ou=people,${GENERIC}`, {
        objectClass: ['inetOrgPerson', 'shadowAccount'],
        cn: 'Gustav Gesperrt',
        uid: LOCKED.id,
        sn: 'Gesperrt',
        givenName: 'Gustav',
        displayName: 'Gustav Gesperrt',
        employeeType: 'pupil',
        userPassword: ssha(LOCKED.password),
        shadowExpire: '1',
      });
      slapd = await startSlapd({
        suffix: SUFFIX,
        rootPassword: 'root-secret',
        ldif: trees.ldif + locked,
        databaseConfig: ['access to attrs=userPassword by anonymous auth by * none', `access to * by dn.exact="${SERVICE_DN}" read by * none`].join('\n'),
      });
      relay = await startRelay(
        await setupRelay('Gymnasium mit LDAP', {
          webRoot,
          directory: {
            url: slapd.url,
            allowPlaintext: true,
            bindDn: SERVICE_DN,
            bindPassword: SERVICE_PASSWORD,
            schoolYear: '2026/27',
            preset: { name: 'inetorgperson', base: GENERIC },
            login: { maxFailuresPerUser: 3 },
          },
        }),
      );
    })();
    const [, started] = await Promise.all([buildWeb(webRoot), launchChromium(), directory]);
    browser = started;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
    await slapd?.stop();
    if (webRoot) await rm(webRoot, { recursive: true, force: true });
  });

  it('offers the school password, refuses a wrong one and a locked account clearly, and signs in with the right one', async () => {
    const pupil = pupils[0]!;
    const { page, errors } = await openPupil(browser, { viewport: { width: 1000, height: 820 } });
    await page.goto(relay.http);
    const passwordTab = page.getByRole('tab', { name: 'Mit Schulpasswort' });
    await passwordTab.waitFor({ timeout: WAIT });
    // Keyboard: the arrow key moves from one tab to the other and selects it.
    await page.getByRole('tab', { name: 'Mit Code' }).focus();
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => passwordTab.getAttribute('aria-selected')).toBe('true');
    await expect.poll(() => passwordTab.evaluate((el) => el.matches(':focus'))).toBe(true);
    await expectNoAxeViolations(page, 'password sign-in');
    await screenshot(page, '17-signin-password');

    const alert = page.locator('sm-enroll #form-error');
    await signIn(page, pupil.id, 'falsch');
    await expect.poll(() => alert.textContent(), { timeout: WAIT }).toContain('Benutzername oder Passwort stimmt nicht');
    // The password box is emptied; the user name stays.
    expect(await page.getByLabel('Passwort der Schule').inputValue()).toBe('');
    expect(await page.getByLabel('Benutzername').inputValue()).toBe(pupil.id);

    // A locked account: the right password does not help, and the message says it may be locked.
    await page.getByLabel('Benutzername').fill('');
    await signIn(page, LOCKED.id, LOCKED.password);
    await expect.poll(() => relay.logs.some((l) => l.includes('sign-in refused') && l.includes('"locked"')), { timeout: WAIT }).toBe(true);
    await expect.poll(() => alert.textContent(), { timeout: WAIT }).toContain('gesperrt');
    await expectNoAxeViolations(page, 'password sign-in (refused)');
    await screenshot(page, '18-signin-refused');

    await page.getByLabel('Benutzername').fill('');
    await signIn(page, pupil.id, passwordOf(pupil.id));
    await expect.poll(() => page.locator('sm-chat-list .sub').first().textContent(), { timeout: WAIT }).toContain(pupil.displayName);
    await expect.poll(() => page.getByRole('status').first().textContent(), { timeout: WAIT }).toContain('Verbunden');
    expect(relay.logs.join('\n')).not.toContain('falsch');
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('tells the user to wait after too many wrong passwords', async () => {
    const pupil = pupils[1]!;
    const { page } = await openPupil(browser, { viewport: { width: 1000, height: 820 } });
    await page.goto(relay.http);
    await page.getByRole('tab', { name: 'Mit Schulpasswort' }).click();
    const alert = page.locator('sm-enroll #form-error');
    for (let i = 0; i < 3; i++) {
      await signIn(page, pupil.id, `falsch-${i}`);
      await expect.poll(() => relay.logs.filter((l) => l.includes('sign-in refused') && l.includes(pupil.id)).length, { timeout: WAIT }).toBe(i + 1);
      await expect.poll(() => page.getByRole('button', { name: 'Gerät anmelden' }).isEnabled(), { timeout: WAIT }).toBe(true);
      await page.getByLabel('Benutzername').fill('');
    }
    // Even the right password waits now: the school's limit per user name.
    await signIn(page, pupil.id, passwordOf(pupil.id));
    await expect.poll(() => alert.textContent(), { timeout: WAIT }).toContain('Zu viele Versuche');
    await page.context().close();
  });
});
