/**
 * The web app's account and people features end to end, in Chromium against a real relay process: group info from
 * the chat header, direct messages started from the people search (umlauts found by their ASCII spellings, the
 * school's pupil-to-pupil rule honoured), received by a teacher's Node device. Axe runs on every new screen;
 * screenshots go to test/artifacts/.
 */
import { rm } from 'node:fs/promises';
import { accountRef } from '@schoolmesh/model';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelayProcess, removeSetup, setupRelay, startRelay } from '../../relay/test/support/relay-process.ts';
import { buildWeb, enrollWith, expectNoAxeViolations, launchChromium, type NodeDevice, nodeDevice, openPupil, type Pupil, reloadAndUnlock, screenshot, sendMessage, webBuildDir } from './support.ts';

const WAIT = 20_000;
const PIN = '2580';

describe('web app: group info and direct messages', () => {
  let webRoot: string;
  let relay: RelayProcess;
  let teacher: NodeDevice;
  let mia: NodeDevice;
  let browser: Browser;
  let ben: Pupil;
  let group: string;

  beforeAll(async () => {
    webRoot = await webBuildDir();
    const school = (async () => {
      // This school does not let pupils write to each other directly.
      relay = await startRelay(await setupRelay('Gesamtschule Nord', { webRoot, policy: { pupilDirectMessages: false } }));
      teacher = await nodeDevice(relay, 'muessig', 'teacher', 'Herr Müßig');
      const id = relay.info.school.id;
      group = await teacher.engine.createGroup({
        kind: 'class',
        name: 'Klasse 8c',
        members: [
          { account: accountRef(id, 'ben'), role: 'member' },
          { account: accountRef(id, 'mia'), role: 'moderator' },
          { account: accountRef(id, 'lukas'), role: 'member' },
        ],
      });
      await (await teacher.engine.post(group, { text: 'Willkommen in der 8c!' })).acked;
      mia = await nodeDevice(relay, 'mia', 'pupil', 'Mia Schäfer');
    })();
    const [, started] = await Promise.all([buildWeb(webRoot), launchChromium(), school]);
    browser = started;
    ben = await openPupil(browser, { viewport: { width: 1100, height: 760 } });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await mia?.close();
    await teacher?.close();
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
    if (webRoot) await rm(webRoot, { recursive: true, force: true });
  });

  it('shows group info: kind, policy, members with roles, own devices', async () => {
    const code = await relay.issueCode('ben', 'pupil', 'Ben Öztürk');
    await ben.page.goto(relay.http);
    // This school has no password sign-in: the enrollment screen offers codes only.
    await ben.page.getByText('Gesamtschule Nord').waitFor({ timeout: WAIT });
    expect(await ben.page.getByRole('tab').count()).toBe(0);
    await enrollWith(ben.page, code, PIN);
    const entry = ben.page.getByRole('link', { name: /Klasse 8c/ });
    await entry.waitFor({ timeout: WAIT });
    await expect.poll(() => entry.textContent(), { timeout: WAIT }).toContain('Willkommen');
    await entry.click();
    // Mia's device joined the group too (her name comes from her certificate).
    await expect.poll(() => teacher.engine.state(group)?.devices.size, { timeout: WAIT }).toBeGreaterThanOrEqual(3);

    const infoButton = ben.page.getByRole('button', { name: 'Gruppeninfo' });
    await infoButton.click();
    const dialog = ben.page.getByRole('dialog', { name: 'Klasse 8c' });
    await dialog.waitFor({ timeout: WAIT });
    await expect.poll(() => dialog.textContent()).toContain('4 Mitglieder');
    const text = (await dialog.textContent()) ?? '';
    expect(text).toContain('Klasse');
    expect(text).toContain('14 Tage, dann werden Nachrichten gelöscht');
    expect(text).toContain('alle Mitglieder');
    const members = dialog.getByRole('listitem');
    await expect.poll(() => members.count()).toBe(4);
    // The owner first, then the moderator, then the rest by name; roles from the certificates.
    const rows = await members.allTextContents();
    expect(rows[0]).toContain('Herr Müßig');
    expect(rows[0]).toContain('Lehrkraft');
    expect(rows[0]).toContain('Gruppenleitung');
    expect(rows[1]).toContain('Mia Schäfer');
    expect(rows[1]).toContain('Moderation');
    expect(rows[2]).toContain('Ben Öztürk');
    expect(rows[2]).toContain('(Du)');
    expect(rows[3]).toContain('lukas'); // no device yet: known by the account id
    expect(text).toMatch(/Deine Geräte in dieser Gruppe\s*1/);
    await expectNoAxeViolations(ben.page, 'group info');
    await screenshot(ben.page, '10-group-info');
    // Escape closes it, and the focus goes back to the button that opened it.
    await ben.page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    await expect.poll(() => infoButton.evaluate((el) => el.matches(':focus'))).toBe(true);
  });

  it('starts a direct chat from the people search; the teacher receives it; a second start reopens it', async () => {
    const page = ben.page;
    await page.getByRole('button', { name: 'Neuer Chat' }).click();
    const dialog = page.getByRole('dialog', { name: 'Neuer Chat' });
    await dialog.waitFor({ timeout: WAIT });
    const search = dialog.getByRole('searchbox', { name: 'Person suchen' });
    await expect.poll(() => search.evaluate((el) => el.matches(':focus'))).toBe(true);
    const people = dialog.getByRole('list', { name: 'Personen' }).getByRole('button');
    await expect.poll(() => people.count(), { timeout: WAIT }).toBe(3);
    // German collation: Herr Müßig, lukas, Mia Schäfer.
    expect(await dialog.locator('ul .name').allTextContents()).toEqual(['Herr Müßig', 'lukas', 'Mia Schäfer']);
    // Umlauts and ß are found by their ASCII spellings.
    for (const q of ['muessig', 'mussig', 'Müß', 'schaefer', 'schafer']) {
      await search.fill(q);
      await expect.poll(() => people.count(), { message: q }).toBe(1);
    }
    await search.fill('xyz');
    await expect.poll(() => dialog.getByText('Niemand gefunden.').count()).toBe(1);

    // A pupil may not start a chat with another pupil at this school: a clear refusal, nothing created.
    await search.fill('mia');
    await people.first().click();
    await expect.poll(() => dialog.getByRole('alert').textContent(), { timeout: WAIT }).toContain('erlaubt diesen Direktchat nicht');
    expect(await page.getByRole('link', { name: /Mia/ }).count()).toBe(0);
    await expectNoAxeViolations(page, 'new chat (refused)');
    await screenshot(page, '11-new-chat-refused');

    // The teacher is allowed: Enter on the search picks the first hit.
    await search.fill('muess');
    await expectNoAxeViolations(page, 'new chat');
    await screenshot(page, '12-new-chat-search');
    await search.press('Enter');
    await expect.poll(() => dialog.count(), { timeout: WAIT }).toBe(0);
    await expect.poll(() => page.locator('sm-chat h1').textContent(), { timeout: WAIT }).toBe('Herr Müßig');
    const box = page.getByRole('textbox', { name: /Nachricht an/ });
    await box.fill('Guten Tag Herr Müßig, eine Frage zu den Hausaufgaben.');
    await box.press('Enter');

    // The teacher's device gets the direct chat and, once it holds the key, the message.
    let direct = '';
    await expect
      .poll(
        async () => {
          direct = teacher.engine.groups().find((g) => g.kind === 'direct')?.id ?? '';
          if (!direct || !teacher.engine.canRead(direct)) return [];
          const all = await Promise.all(teacher.engine.liveBuckets(direct).map((b) => teacher.engine.messages(direct, b)));
          return all.flat().map((m) => m.text);
        },
        { timeout: WAIT },
      )
      .toContain('Guten Tag Herr Müßig, eine Frage zu den Hausaufgaben.');
    await (await teacher.engine.post(direct, { text: 'Gern, Ben. Was ist unklar?' })).acked;
    await expect.poll(() => page.locator('sm-chat article').filter({ hasText: 'Was ist unklar?' }).count(), { timeout: WAIT }).toBe(1);
    await screenshot(page, '13-direct-chat');

    // Starting it again opens the same chat instead of a second one.
    await page.getByRole('link', { name: /Klasse 8c/ }).click();
    await page.getByRole('button', { name: 'Neuer Chat' }).click();
    await dialog.waitFor({ timeout: WAIT });
    await search.fill('Müßig');
    await expect.poll(() => people.first().textContent()).toContain('Chat vorhanden');
    await people.first().click();
    await expect.poll(() => page.locator('sm-chat h1').textContent(), { timeout: WAIT }).toBe('Herr Müßig');
    expect(await page.getByRole('link', { name: /^Herr Müßig/ }).count()).toBe(1);
    expect(teacher.engine.groups().filter((g) => g.kind === 'direct')).toHaveLength(1);
    expect(ben.errors).toEqual([]);
  });

  it("finds people of the whole school in 'Neuer Chat', as the school's policy allows, and starts a chat with one outside his groups", async () => {
    // Frau Schulz teaches at the school but in none of Ben's groups; Tom is a pupil (pupils may not write to each other here).
    const schulz = await nodeDevice(relay, 'schulz', 'teacher', 'Frau Schulz');
    const tom = await nodeDevice(relay, 'tom', 'pupil', 'Tom Weiß');
    try {
      const page = ben.page;
      await page.getByRole('button', { name: 'Neuer Chat' }).click();
      const dialog = page.getByRole('dialog', { name: 'Neuer Chat' });
      await dialog.waitFor({ timeout: WAIT });
      const search = dialog.getByRole('searchbox', { name: 'Person suchen' });
      const school = dialog.getByRole('list', { name: 'Weitere Personen der Schule', exact: true }).getByRole('button');
      await search.fill('schulz');
      await expect.poll(() => school.allTextContents(), { timeout: WAIT }).toEqual([expect.stringContaining('Frau Schulz')]);
      expect(await dialog.getByRole('list', { name: 'Personen', exact: true }).getByRole('button').count()).toBe(0);
      await expectNoAxeViolations(page, 'new chat (school directory)');
      await screenshot(page, '26-new-chat-school');
      // The relay does not list a pupil to a pupil where they may not write to each other.
      await search.fill('weiss');
      await expect.poll(() => dialog.getByText('Niemand gefunden.').count(), { timeout: WAIT }).toBe(1);
      expect(await school.count()).toBe(0);

      await search.fill('schulz');
      await expect.poll(() => school.count(), { timeout: WAIT }).toBe(1);
      await school.first().click();
      await expect.poll(() => dialog.count(), { timeout: WAIT }).toBe(0);
      await expect.poll(() => page.locator('sm-chat h1').textContent(), { timeout: WAIT }).toBe('Frau Schulz');
      await sendMessage(page, 'Guten Tag Frau Schulz, ist in der AG Chor noch Platz?');
      await expect
        .poll(
          async () => {
            const direct = schulz.engine.groups().find((g) => g.kind === 'direct')?.id;
            if (!direct || !schulz.engine.canRead(direct)) return [];
            return (await schulz.engine.messages(direct)).map((m) => m.text);
          },
          { timeout: WAIT },
        )
        .toContain('Guten Tag Frau Schulz, ist in der AG Chor noch Platz?');
      expect(ben.errors).toEqual([]);
    } finally {
      await tom.close();
      await schulz.close();
    }
  });

  it('lets a teacher create a group with picked members from "Neuer Chat"; a pupil is not offered it', async () => {
    // The pupil's dialog has no "Neue Gruppe" (the school's whoMayCreateGroups: teachers, staff, admins).
    await ben.page.getByRole('button', { name: 'Neuer Chat' }).click();
    const benDialog = ben.page.getByRole('dialog', { name: 'Neuer Chat' });
    await benDialog.waitFor({ timeout: WAIT });
    expect(await benDialog.getByRole('button', { name: 'Neue Gruppe' }).count()).toBe(0);
    await ben.page.keyboard.press('Escape');
    await expect.poll(() => benDialog.count(), { timeout: WAIT }).toBe(0);

    // A teacher of the class, on a browser of her own.
    await teacher.engine.addMember(group, accountRef(relay.info.school.id, 'weber'), 'member');
    const weber = await openPupil(browser, { viewport: { width: 1100, height: 760 } });
    try {
      await weber.page.goto(relay.http);
      await enrollWith(weber.page, await relay.issueCode('weber', 'teacher', 'Frau Weber'), PIN);
      await weber.page.getByRole('link', { name: /Klasse 8c/ }).waitFor({ timeout: WAIT });
      const page = weber.page;
      await page.getByRole('button', { name: 'Neuer Chat' }).click();
      const start = page.getByRole('dialog', { name: 'Neuer Chat' });
      await start.waitFor({ timeout: WAIT });
      await start.getByRole('button', { name: 'Neue Gruppe' }).click();
      const dialog = page.getByRole('dialog', { name: 'Neue Gruppe' });
      await dialog.waitFor({ timeout: WAIT });
      const name = dialog.getByRole('textbox', { name: 'Name der Gruppe' });
      await expect.poll(() => name.evaluate((el) => el.matches(':focus'))).toBe(true);
      // No name: a clear message, nothing created.
      await dialog.getByRole('button', { name: 'Gruppe erstellen' }).click();
      await expect.poll(() => dialog.getByRole('alert').textContent()).toContain('Gib der Gruppe einen Namen');
      await name.fill('AG Robotik');
      // Members are picked from the people of her groups, by keyboard as well.
      await expect.poll(() => dialog.getByRole('checkbox', { name: /Ben Öztürk/ }).count(), { timeout: WAIT }).toBe(1);
      await dialog.getByRole('checkbox', { name: /Ben Öztürk/ }).check();
      await dialog.getByRole('searchbox', { name: 'Person suchen' }).fill('schafer');
      const miaBox = dialog.getByRole('checkbox', { name: /Mia Schäfer/ });
      await miaBox.focus();
      await page.keyboard.press('Space');
      await expect.poll(() => dialog.getByRole('status').textContent()).toContain('2 Personen ausgewählt');
      await expectNoAxeViolations(page, 'new group');
      await screenshot(page, '21-new-group');
      await dialog.getByRole('button', { name: 'Gruppe erstellen' }).click();
      await expect.poll(() => dialog.count(), { timeout: WAIT }).toBe(0);
      await expect.poll(() => page.locator('sm-chat h1').textContent(), { timeout: WAIT }).toBe('AG Robotik');
      await sendMessage(page, 'Erstes Treffen am Donnerstag im Werkraum.');
      // The chat tells the group's history between its messages.
      await expect.poll(() => page.locator('sm-chat .pill.event').allTextContents(), { timeout: WAIT }).toEqual([expect.stringContaining('Du hast die Gruppe „AG Robotik“ erstellt')]);

      // Both picked pupils get the group and the message, Ben in his browser and Mia on her device.
      const benEntry = ben.page.getByRole('link', { name: /AG Robotik/ });
      await expect.poll(() => benEntry.textContent(), { timeout: WAIT }).toContain('Werkraum');

      // Ben finds a chat by its name or its last message, however he types it; Escape shows every chat again.
      const chats = ben.page.getByRole('navigation', { name: 'Chats' }).getByRole('link');
      const all = await chats.count();
      expect(all).toBeGreaterThan(1);
      const search = ben.page.getByRole('searchbox', { name: 'Chats durchsuchen' });
      await search.fill('robo');
      await expect.poll(() => chats.allTextContents()).toEqual([expect.stringContaining('AG Robotik')]);
      await search.fill('WERKRAUM');
      await expect.poll(() => chats.allTextContents()).toEqual([expect.stringContaining('AG Robotik')]);
      await search.fill('klasse');
      await expect.poll(() => chats.allTextContents()).toEqual([expect.stringContaining('Klasse 8c')]);
      await expectNoAxeViolations(ben.page, 'chat search');
      await screenshot(ben.page, '22-chat-search');
      await search.fill('Zeugnisse');
      await expect.poll(() => ben.page.getByRole('status').filter({ hasText: 'Keine Chats' }).textContent()).toContain('Keine Chats zu „Zeugnisse“ gefunden.');
      expect(await chats.count()).toBe(0);
      await search.press('Escape');
      await expect.poll(() => chats.count()).toBe(all);
      expect(await search.inputValue()).toBe('');
      const id = decodeURIComponent(await weber.page.evaluate(() => location.hash)).slice('#chat='.length);
      await expect
        .poll(
          async () => {
            if (!mia.engine.canRead(id)) return [];
            const all = await Promise.all(mia.engine.liveBuckets(id).map((b) => mia.engine.messages(id, b)));
            return all.flat().map((m) => m.text);
          },
          { timeout: WAIT },
        )
        .toContain('Erstes Treffen am Donnerstag im Werkraum.');
      expect(mia.engine.state(id)?.kind).toBe('custom');
      expect(mia.engine.state(id)?.name).toBe('AG Robotik');
      expect(weber.errors).toEqual([]);
    } finally {
      await weber.context.close();
    }
  });

  it('lists, renames and revokes own devices, and approves a new device with a code shown as text and QR code', async () => {
    const page = ben.page;
    const openDevices = async () => {
      await page.getByRole('button', { name: 'Meine Geräte' }).click();
      const dialog = page.getByRole('dialog', { name: 'Meine Geräte' });
      await dialog.waitFor({ timeout: WAIT });
      return dialog;
    };
    let dialog = await openDevices();
    let items = dialog.getByRole('list', { name: 'Geräte deines Kontos' }).getByRole('listitem');
    await expect.poll(() => items.count(), { timeout: WAIT }).toBe(1);
    expect(await items.first().textContent()).toContain('Dieses Gerät');
    expect(await items.first().textContent()).toContain('jetzt verbunden');

    // Rename: the form opens in place, Enter saves, the focus returns to the button.
    await dialog.getByRole('button', { name: /umbenennen$/ }).click();
    const nameBox = dialog.getByRole('textbox', { name: /Neuer Name für/ });
    await nameBox.fill('Laptop im Kinderzimmer');
    await nameBox.press('Enter');
    await expect.poll(() => items.first().locator('.name').textContent(), { timeout: WAIT }).toBe('Laptop im Kinderzimmer');

    // A one-time code for a new device of this account, as text and as a QR code.
    await dialog.getByRole('button', { name: 'Code für ein neues Gerät' }).click();
    const codeText = dialog.locator('p.code');
    await codeText.waitFor({ timeout: WAIT });
    const code = ((await codeText.textContent()) ?? '').trim();
    expect(code).toMatch(/^[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}$/);
    const qr = dialog.getByRole('img', { name: 'QR-Code mit dem Anmeldelink' });
    await expect.poll(() => qr.evaluate((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth), { timeout: WAIT }).toBeGreaterThan(0);
    expect(await dialog.textContent()).toMatch(/Gültig bis \d\d:\d\d Uhr/);
    await expectNoAxeViolations(page, 'my devices');
    await screenshot(page, '14-my-devices-code');

    // Ben's phone (another browser) enters the code: it is Ben's device, in Ben's class.
    const phone = await openPupil(browser, { viewport: { width: 400, height: 760 } });
    await phone.page.goto(relay.http);
    await enrollWith(phone.page, code, '1357');
    await phone.page.getByRole('link', { name: /Klasse 8c/ }).waitFor({ timeout: WAIT });
    expect(await phone.page.locator('sm-chat-list .sub').first().textContent()).toContain('Ben Öztürk');
    await expect.poll(() => phone.page.getByRole('status').first().textContent(), { timeout: WAIT }).toContain('Verbunden');
    // The laptop asked for the code, so it approves the phone into its chats by itself: the phone reads the class.
    await expect.poll(() => phone.page.getByRole('link', { name: /Klasse 8c/ }).textContent(), { timeout: WAIT }).toContain('Willkommen in der 8c');

    // The laptop lists it, approved by one of Ben's devices, and signs it out.
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    dialog = await openDevices();
    items = dialog.getByRole('list', { name: 'Geräte deines Kontos' }).getByRole('listitem');
    await expect.poll(() => items.count(), { timeout: WAIT }).toBe(2);
    expect(await items.nth(1).textContent()).toContain('von einem deiner Geräte bestätigt');
    await screenshot(page, '15-my-devices-list');
    await items.nth(1).getByRole('button', { name: /abmelden$/ }).click();
    const confirm = dialog.getByRole('group', { name: /abmelden\?$/ });
    await confirm.getByRole('button', { name: 'Abmelden' }).click();
    await expect.poll(() => items.nth(1).textContent(), { timeout: WAIT }).toContain('Abgemeldet');
    await expectNoAxeViolations(page, 'my devices (revoked)');
    await screenshot(page, '16-my-devices-revoked');
    // The relay drops the phone within seconds and refuses it from then on: the phone says so (not just "offline").
    await phone.page.getByRole('alert').filter({ hasText: 'Die Schule lässt dieses Gerät nicht mehr herein' }).waitFor({ timeout: WAIT });
    expect(relay.logs.some((l) => l.includes('device revoked by its account'))).toBe(true);
    // The laptop itself stays connected.
    expect(await items.first().textContent()).toContain('jetzt verbunden');
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    await phone.context.close();
    // Every member of the class sees that Ben has a further device there; Ben's laptop says it is his.
    await page.getByRole('link', { name: /Klasse 8c/ }).click();
    await expect
      .poll(() => page.locator('sm-chat .pill.event').allTextContents(), { timeout: WAIT })
      .toContainEqual(expect.stringContaining('Ein weiteres Gerät von dir ist jetzt in dieser Gruppe'));
    await expectNoAxeViolations(page, 'chat with group events');
    await screenshot(page, '24-chat-group-events');

    // A tablet signed in with a code from the school (not from one of Ben's devices): the school alone cannot put a
    // device into Ben's chats. It waits until Ben confirms it on the laptop.
    const tablet = await openPupil(browser, { viewport: { width: 400, height: 760 } });
    try {
      await tablet.page.goto(relay.http);
      await enrollWith(tablet.page, await relay.issueCode('ben', 'pupil', 'Ben Öztürk'), '2468');
      const tabletClass = tablet.page.getByRole('link', { name: /Klasse 8c/ });
      await expect.poll(() => tabletClass.textContent(), { timeout: WAIT }).toContain('Bestätige dieses Gerät');
      dialog = await openDevices();
      items = dialog.getByRole('list', { name: 'Geräte deines Kontos' }).getByRole('listitem');
      const waiting = items.filter({ hasText: 'Wartet auf Bestätigung' });
      await expect.poll(() => waiting.count(), { timeout: WAIT }).toBe(1);
      await waiting.getByRole('button', { name: /bestätigen$/ }).click();
      const approve = dialog.getByRole('group', { name: /bestätigen\?$/ });
      await expect.poll(() => approve.textContent()).toContain('alle deine Chats lesen');
      await expectNoAxeViolations(page, 'my devices (approve)');
      await screenshot(page, '23-my-devices-approve');
      await approve.getByRole('button', { name: 'Bestätigen' }).click();
      await expect.poll(() => waiting.count(), { timeout: WAIT }).toBe(0);
      await expect.poll(() => tabletClass.textContent(), { timeout: WAIT }).toContain('Willkommen in der 8c');
      await page.keyboard.press('Escape');
      await expect.poll(() => dialog.count()).toBe(0);
      expect(tablet.errors).toEqual([]);
    } finally {
      await tablet.context.close();
    }
    expect(ben.errors).toEqual([]);
    // Two more browsers enroll in this test: more than the default minute on a loaded machine.
  }, 240_000);

  it('keeps a group Ben was removed from, read-only, says who removed him (live and after a reload), and lets him take it off the list', async () => {
    const page = ben.page;
    const id = relay.info.school.id;
    const club = await teacher.engine.createGroup({ kind: 'club', name: 'AG Fotografie', members: [{ account: accountRef(id, 'ben'), role: 'member' }] });
    await (await teacher.engine.post(club, { text: 'Bringt eure Kameras mit!' })).acked;
    const entry = page.getByRole('link', { name: /AG Fotografie/ });
    await expect.poll(() => entry.textContent(), { timeout: WAIT }).toContain('Kameras');
    await entry.click();
    await page.getByRole('textbox', { name: /Nachricht an AG Fotografie/ }).waitFor({ timeout: WAIT });

    await teacher.engine.removeMember(club, accountRef(id, 'ben'));
    const banner = page.locator('sm-chat').getByRole('status').filter({ hasText: 'hat dich aus der Gruppe entfernt' });
    await expect.poll(() => banner.textContent(), { timeout: WAIT }).toContain('Herr Müßig hat dich aus der Gruppe entfernt');
    // Read-only: the messages stay, the composer is gone; the chat list says so too.
    expect(await page.getByRole('textbox', { name: /Nachricht an/ }).count()).toBe(0);
    await expect.poll(() => page.locator('sm-chat').getByText('Bringt eure Kameras mit!').count()).toBe(1);
    await expect.poll(() => entry.textContent()).toContain('Du wurdest aus der Gruppe entfernt');
    await expect.poll(() => page.locator('sm-chat .pill.event').allTextContents()).toContainEqual(expect.stringContaining('Herr Müßig hat dich entfernt'));
    // The laptop listed the tablet Ben confirmed in the new group, and not the phone he signed out before.
    const further = (await page.locator('sm-chat .pill.event').allTextContents()).filter((t) => t.includes('weiteres Gerät'));
    expect(further).toHaveLength(1);
    await expectNoAxeViolations(page, 'removed from a group');
    await screenshot(page, '25-removed-from-group');

    // After a reload (the profile opens with its PIN again) the chat is still there, still read-only.
    await reloadAndUnlock(page, PIN, entry);
    await expect.poll(() => entry.textContent(), { timeout: WAIT }).toContain('Du wurdest aus der Gruppe entfernt');
    await entry.click();
    await expect.poll(() => banner.count(), { timeout: WAIT }).toBe(1);
    await banner.getByRole('button', { name: 'Chat aus der Liste entfernen' }).click();
    await expect.poll(() => entry.count(), { timeout: WAIT }).toBe(0);
    await expect.poll(() => page.getByRole('link', { name: /Klasse 8c/ }).count()).toBe(1);
    expect(ben.errors).toEqual([]);
  }, 120_000);

  it('locks itself after a stretch without input, and removes a profile from the picker only with its PIN', async () => {
    const page = ben.page;
    // The setting: 15 minutes by default, in "Meine Geräte".
    await page.getByRole('button', { name: 'Meine Geräte' }).click();
    const dialog = page.getByRole('dialog', { name: 'Meine Geräte' });
    await dialog.waitFor({ timeout: WAIT });
    const setting = dialog.getByLabel('Automatisch sperren nach');
    expect(await setting.inputValue()).toBe('15');
    await setting.selectOption('5');
    expect(await page.evaluate(() => localStorage.getItem('schoolmesh.autoLockMinutes'))).toBe('5');
    await page.keyboard.press('Escape');

    // A short setting for the test (3 s; the menu offers 5 to 60 minutes). After the last input, the profile locks.
    await page.evaluate(() => localStorage.setItem('schoolmesh.autoLockMinutes', '0.05'));
    await page.getByRole('link', { name: /Klasse 8c/ }).focus();
    await page.keyboard.press('ArrowDown');
    const pin = page.getByLabel('PIN oder Passwort');
    await pin.waitFor({ timeout: WAIT });
    expect(await page.getByRole('heading', { name: 'Ben Öztürk' }).count()).toBe(1);
    // Locked in the engine worker too: the chats need the PIN again.
    await page.evaluate(() => localStorage.setItem('schoolmesh.autoLockMinutes', '15'));
    await pin.fill(PIN);
    await pin.press('Enter');
    await page.getByRole('link', { name: /Klasse 8c/ }).waitFor({ timeout: WAIT });

    // Remove the profile: the picker asks for its PIN; a wrong one deletes nothing.
    await page.getByRole('button', { name: 'Profil wechseln' }).click();
    await page.getByRole('button', { name: 'Profil Ben Öztürk entfernen' }).click();
    const remove = page.getByRole('dialog', { name: 'Profil Ben Öztürk entfernen' });
    await remove.waitFor({ timeout: WAIT });
    const removePin = remove.getByLabel('PIN des Profils');
    await removePin.fill('0000');
    await removePin.press('Enter');
    await expect.poll(() => remove.getByRole('alert').textContent(), { timeout: WAIT }).toContain('Falsche PIN');
    const databases = () => page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name ?? '').filter((n) => n.startsWith('schoolmesh-profile-')));
    expect(await databases()).toHaveLength(1);
    await expectNoAxeViolations(page, 'remove profile');
    await screenshot(page, '20-remove-profile');
    await removePin.fill(PIN);
    await removePin.press('Enter');
    // Gone, with its database: the browser has no profile left and offers the sign-in.
    await page.getByLabel('Anmeldecode').waitFor({ timeout: WAIT });
    await expect.poll(databases, { timeout: WAIT }).toEqual([]);
    expect(ben.errors).toEqual([]);
  });
});
