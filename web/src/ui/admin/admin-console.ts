/**
 * The admin console (route `#admin`, admin profiles only, loaded as its own chunk): accounts, groups, devices,
 * policies, federation, directory with "sync now" and its report, and the audit log. Every call goes through the
 * engine worker, which signs it with this device's key (`adminRequest`); the page never holds the key.
 */
import { msg, str, updateWhenLocaleChanges } from '@lit/localize';
import { LitElement, type TemplateResult, css, html, nothing } from 'lit';
import { EngineCallError, type EngineClient } from '../../api/client.ts';
import { base } from '../styles.ts';

type Tab = 'accounts' | 'groups' | 'devices' | 'policies' | 'federation' | 'directory' | 'audit';
const TABS: Tab[] = ['accounts', 'groups', 'devices', 'policies', 'federation', 'directory', 'audit'];
const KINDS = ['class', 'announcement', 'department', 'club', 'custom', 'direct'] as const;
const ROLES = ['pupil', 'teacher', 'parent', 'staff', 'admin'] as const;

interface Account {
  id: string;
  displayName: string;
  role: string;
  class: string | null;
  locked: boolean;
  devices: number;
}
/** A one-time code issued here for an account (shown, and printable as a sheet). */
interface IssuedCode {
  account: string;
  displayName: string;
  class: string | null;
  code: string;
  expiresAt: number;
  qrSvg?: string;
}

/** Accounts asked for per page, and codes issued at most in one go ("Codes für alle angezeigten"). */
const PAGE = 200;
const MAX_BULK_CODES = 40;

interface Group {
  id: string;
  name: string;
  kind: string;
  members: number;
  devices: number;
  retentionDays: number;
  directory?: { key: string; ended: boolean };
}
interface Device {
  device: string;
  account: string;
  role: string;
  issuedAt: number;
  notAfter: number;
  via: string;
  name?: string;
  revoked: boolean;
}
interface Policy {
  pupilDirectMessages: boolean;
  whoMayCreateGroups: string[];
  retentionDays: Record<string, number>;
}
interface GroupReport {
  key: string;
  name: string;
  action: string;
  added: unknown[];
  removed: unknown[];
  roles: unknown[];
}
interface Report {
  trigger: string;
  outcome: 'applied' | 'refused' | 'failed';
  error?: string;
  startedAt: number;
  finishedAt: number;
  source: { kind: string; people: number; problems: string[] };
  created: GroupReport[];
  changed: GroupReport[];
  removed: GroupReport[];
  joiners: string[];
  leavers: string[];
  totals: { groupsCreated: number; groupsChanged: number; groupsEnded: number; groupsClosed: number; added: number; removed: number; roleChanges: number };
  revokedDevices: string[];
  policyUpdates: { name: string; retentionDays: number }[];
}
interface AuditEntry {
  seq: number;
  time: number;
  action: string;
  body: string;
  actor: { kind: 'operator' } | { kind: 'device'; account: string; device: string };
}

/** A code in groups of five, as people read it out and type it ("ABCDE-FGHIJ-KLMNO"; dashes are ignored). */
const groupCode = (code: string): string => code.replace(/-/g, '').replace(/(.{5})(?=.)/g, '$1-');

const roleName = (role: string): string =>
  ({
    pupil: msg('Schüler(in)', { id: 'admin.role.pupil' }),
    teacher: msg('Lehrkraft', { id: 'admin.role.teacher' }),
    parent: msg('Eltern', { id: 'admin.role.parent' }),
    staff: msg('Personal', { id: 'admin.role.staff' }),
    admin: msg('Verwaltung', { id: 'admin.role.admin' }),
  })[role] ?? role;

const kindName = (kind: string): string =>
  ({
    class: msg('Klassen', { id: 'admin.kind.class' }),
    announcement: msg('Ankündigungen', { id: 'admin.kind.announcement' }),
    department: msg('Fachschaften', { id: 'admin.kind.department' }),
    club: msg('AGs', { id: 'admin.kind.club' }),
    custom: msg('Eigene Gruppen', { id: 'admin.kind.custom' }),
    direct: msg('Direktnachrichten', { id: 'admin.kind.direct' }),
  })[kind] ?? kind;

const actionName = (action: string): string =>
  ({
    'issue-code': msg('Einmalcode ausgestellt', { id: 'admin.audit.issue-code' }),
    revoke: msg('Gerät widerrufen', { id: 'admin.audit.revoke' }),
    'rename-device': msg('Gerät umbenannt', { id: 'admin.audit.rename-device' }),
    policy: msg('Richtlinien geändert', { id: 'admin.audit.policy' }),
    sync: msg('Verzeichnis synchronisiert', { id: 'admin.audit.sync' }),
  })[action] ?? action;

const when = (ts: number) => new Date(ts).toLocaleString(document.documentElement.lang || 'de', { dateStyle: 'short', timeStyle: 'short' });

export class AdminConsole extends LitElement {
  static override properties = {
    // A reactive property, so that a value the app set before this lazily loaded element was defined survives the
    // upgrade (lit keeps it), and never assigned in the constructor.
    client: { attribute: false },
    tab: { state: true },
    busy: { state: true },
    error: { state: true },
    notice: { state: true },
    accounts: { state: true },
    accountTotal: { state: true },
    groups: { state: true },
    deviceAccount: { state: true },
    devices: { state: true },
    confirmRevoke: { state: true },
    policy: { state: true },
    partners: { state: true },
    settings: { state: true },
    report: { state: true },
    audit: { state: true },
    verdict: { state: true },
    codes: { state: true },
    anchoredAt: { state: true },
  };
  declare client: EngineClient | undefined;
  declare tab: Tab;
  declare busy: boolean;
  declare error: string;
  declare notice: string;
  declare accounts: Account[];
  declare accountTotal: number;
  declare groups: Group[];
  declare deviceAccount: string;
  declare devices: Device[];
  declare confirmRevoke: string;
  declare policy: Policy | undefined;
  declare partners: { name: string; root: string; connected: boolean }[];
  declare settings: { ldap: Record<string, unknown> | null; sync: Record<string, unknown> | null } | null;
  declare report: Report | null;
  declare audit: AuditEntry[];
  declare verdict: { ok: boolean; entries?: number; at?: number; problem?: string } | undefined;
  declare codes: IssuedCode[];
  /** The audit entry this profile had verified before this check (its anchor). */
  declare anchoredAt: number | undefined;

  private query = '';

  constructor() {
    super();
    updateWhenLocaleChanges(this);
    this.tab = 'accounts';
    this.busy = false;
    this.error = '';
    this.notice = '';
    this.accounts = [];
    this.accountTotal = 0;
    this.groups = [];
    this.deviceAccount = '';
    this.devices = [];
    this.confirmRevoke = '';
    this.policy = undefined;
    this.partners = [];
    this.settings = null;
    this.report = null;
    this.audit = [];
    this.verdict = undefined;
    this.codes = [];
  }

  override firstUpdated(): void {
    void this.load('accounts');
  }

  private async request<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: Record<string, unknown>): Promise<T | undefined> {
    if (!this.client) return undefined;
    this.error = '';
    try {
      return (await this.client.call('adminRequest', { method, path, ...(body ? { body } : {}) })) as T;
    } catch (error) {
      const reason = error instanceof EngineCallError ? error.message : String(error);
      this.error = msg(str`Die Schule hat abgelehnt: ${reason}`, { id: 'admin.error' });
      return undefined;
    }
  }

  private async load(tab: Tab): Promise<void> {
    this.busy = true;
    try {
      if (tab === 'accounts') {
        const r = await this.request<{ total: number; accounts: Account[] }>('GET', `/api/admin/accounts?q=${encodeURIComponent(this.query)}&limit=${PAGE}`);
        if (r) [this.accounts, this.accountTotal] = [r.accounts, r.total];
      } else if (tab === 'groups') {
        const r = await this.request<{ groups: Group[] }>('GET', '/api/admin/groups');
        if (r) this.groups = [...r.groups].sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name, 'de', { numeric: true }));
      } else if (tab === 'devices') {
        const q = this.deviceAccount ? `?account=${encodeURIComponent(this.deviceAccount)}` : '';
        const r = await this.request<{ devices: Device[] }>('GET', `/api/admin/devices${q}`);
        if (r) this.devices = r.devices;
      } else if (tab === 'policies') {
        const r = await this.request<{ policy: Policy }>('GET', '/api/admin/policy');
        if (r) this.policy = r.policy;
      } else if (tab === 'federation') {
        const r = await this.request<{ partners: { name: string; root: string; connected: boolean }[] }>('GET', '/api/admin/federation');
        if (r) this.partners = r.partners;
      } else if (tab === 'directory') {
        const [s, r] = await Promise.all([
          this.request<{ settings: AdminConsole['settings'] }>('GET', '/api/admin/directory'),
          this.request<{ report: Report | null }>('GET', '/api/admin/sync'),
        ]);
        if (s) this.settings = s.settings;
        if (r) this.report = r.report;
      } else if (tab === 'audit') {
        // Verified in this browser's worker against the last head this profile saw, not taken from the relay's word.
        const r = await this.client?.call('adminAudit').catch((error: unknown) => {
          this.error = msg(str`Die Schule hat abgelehnt: ${error instanceof EngineCallError ? error.message : String(error)}`, { id: 'admin.error' });
          return undefined;
        });
        if (r) [this.audit, this.verdict, this.anchoredAt] = [[...r.entries].reverse(), r.verdict, r.anchoredAt];
      }
    } finally {
      this.busy = false;
    }
  }

  private select(tab: Tab, focus = false): void {
    this.tab = tab;
    this.notice = '';
    this.error = '';
    void this.load(tab);
    if (focus) void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLButtonElement>(`#tab-${tab}`)?.focus());
  }

  private onTabKey(e: KeyboardEvent): void {
    const i = TABS.indexOf(this.tab);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    this.select(TABS[(next + TABS.length) % TABS.length]!, true);
  }

  /** The next page of accounts for the same search, appended. */
  private async moreAccounts(): Promise<void> {
    this.busy = true;
    try {
      const offset = this.accounts.length;
      const r = await this.request<{ total: number; accounts: Account[] }>('GET', `/api/admin/accounts?q=${encodeURIComponent(this.query)}&limit=${PAGE}&offset=${offset}`);
      if (r) [this.accounts, this.accountTotal] = [[...this.accounts, ...r.accounts], r.total];
    } finally {
      this.busy = false;
    }
  }

  /** Issues one-time sign-in codes for accounts (each replaces nothing: an account may hold several codes). */
  private async issueCodes(accounts: readonly Account[]): Promise<void> {
    this.busy = true;
    this.notice = '';
    try {
      const issued: IssuedCode[] = [];
      for (const a of accounts) {
        const r = await this.request<{ code: string; expiresAt: number; qrSvg?: string }>('POST', '/api/admin/codes', { account: a.id, displayName: a.displayName, role: a.role });
        if (!r) break;
        issued.push({ account: a.id, displayName: a.displayName, class: a.class, code: r.code, expiresAt: r.expiresAt, ...(r.qrSvg ? { qrSvg: r.qrSvg } : {}) });
      }
      if (issued.length === 0) return;
      const fresh = new Set(issued.map((c) => c.account));
      this.codes = [...issued, ...this.codes.filter((c) => !fresh.has(c.account))];
      this.notice =
        issued.length === 1
          ? msg(str`Anmeldecode für ${issued[0]!.displayName} erstellt.`, { id: 'admin.codes.one' })
          : msg(str`${issued.length} Anmeldecodes erstellt.`, { id: 'admin.codes.many' });
      await this.updateComplete;
      this.renderRoot.querySelector<HTMLElement>('#codes-title')?.focus();
    } finally {
      this.busy = false;
    }
  }

  private async syncNow(): Promise<void> {
    this.busy = true;
    this.notice = msg('Synchronisierung läuft …', { id: 'admin.sync.running' });
    const r = await this.request<{ report: Report }>('POST', '/api/admin/sync', {});
    this.busy = false;
    this.notice = '';
    if (r) {
      this.report = r.report;
      this.notice = msg('Synchronisierung abgeschlossen.', { id: 'admin.sync.done' });
    }
  }

  private async revoke(device: string): Promise<void> {
    const r = await this.request('POST', '/api/admin/revoke', { devices: [device] });
    this.confirmRevoke = '';
    if (r) {
      this.notice = msg('Das Gerät ist widerrufen. Die Schlüssel seiner Gruppen werden erneuert.', { id: 'admin.devices.revoked-notice' });
      await this.load('devices');
    }
  }

  private async rename(device: string, input: HTMLInputElement): Promise<void> {
    const name = input.value.trim();
    if (!name) return;
    if (await this.request('POST', '/api/admin/devices/rename', { device, name })) {
      this.notice = msg('Der Name ist gespeichert.', { id: 'admin.devices.renamed' });
      await this.load('devices');
    }
  }

  private async savePolicy(form: HTMLFormElement): Promise<void> {
    const data = new FormData(form);
    const retentionDays: Record<string, number> = {};
    for (const kind of KINDS) retentionDays[kind] = Number(data.get(`retention-${kind}`));
    const body = { retentionDays, pupilDirectMessages: data.get('pupil-dm') === 'on', whoMayCreateGroups: ROLES.filter((r) => data.get(`create-${r}`) === 'on') };
    const r = await this.request<{ policy: Policy; updates: unknown[] }>('PUT', '/api/admin/policy', body);
    if (r) {
      this.policy = r.policy;
      this.notice = msg(str`Gespeichert. ${r.updates.length} Gruppen wurden angepasst.`, { id: 'admin.policy.saved' });
    }
  }

  private tabLabel(tab: Tab): string {
    return {
      accounts: msg('Konten', { id: 'admin.tab.accounts' }),
      groups: msg('Gruppen', { id: 'admin.tab.groups' }),
      devices: msg('Geräte', { id: 'admin.tab.devices' }),
      policies: msg('Richtlinien', { id: 'admin.tab.policies' }),
      federation: msg('Partnerschulen', { id: 'admin.tab.federation' }),
      directory: msg('Verzeichnis', { id: 'admin.tab.directory' }),
      audit: msg('Protokoll', { id: 'admin.tab.audit' }),
    }[tab];
  }

  override render() {
    return html`<main class="console">
      <header>
        <h1>${msg('Schulverwaltung', { id: 'admin.title' })}</h1>
        <a href="#" class="back">${msg('Zurück zu den Chats', { id: 'admin.back' })}</a>
      </header>
      <div role="tablist" aria-label=${msg('Bereiche der Verwaltung', { id: 'admin.tabs' })} @keydown=${this.onTabKey}>
        ${TABS.map(
          (t) => html`<button
            role="tab"
            id="tab-${t}"
            aria-selected=${t === this.tab ? 'true' : 'false'}
            aria-controls="panel"
            tabindex=${t === this.tab ? '0' : '-1'}
            @click=${() => this.select(t)}
          >
            ${this.tabLabel(t)}
          </button>`,
        )}
      </div>
      <section id="panel" role="tabpanel" aria-labelledby="tab-${this.tab}" aria-busy=${this.busy ? 'true' : 'false'}>
        <div class="messages" aria-live="polite">
          ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing} ${this.notice ? html`<p class="notice">${this.notice}</p>` : nothing}
        </div>
        ${this.panel()}
      </section>
    </main>`;
  }

  private panel(): TemplateResult {
    switch (this.tab) {
      case 'accounts':
        return this.accountsPanel();
      case 'groups':
        return this.groupsPanel();
      case 'devices':
        return this.devicesPanel();
      case 'policies':
        return this.policiesPanel();
      case 'federation':
        return this.federationPanel();
      case 'directory':
        return this.directoryPanel();
      case 'audit':
        return this.auditPanel();
    }
  }

  private accountsPanel(): TemplateResult {
    return html`<h2>${msg('Konten', { id: 'admin.tab.accounts' })}</h2>
      <form
        class="search"
        role="search"
        @submit=${(e: Event) => {
          e.preventDefault();
          this.query = (this.renderRoot.querySelector<HTMLInputElement>('#account-search')?.value ?? '').trim();
          void this.load('accounts');
        }}
      >
        <label for="account-search">${msg('Name, Benutzername oder Klasse', { id: 'admin.accounts.search' })}</label>
        <input id="account-search" type="search" .value=${this.query} />
        <button type="submit">${msg('Suchen', { id: 'admin.accounts.search-button' })}</button>
      </form>
      <p>${msg(str`${this.accountTotal} Konten gefunden.`, { id: 'admin.accounts.total' })}</p>
      <table>
        <thead>
          <tr>
            <th scope="col">${msg('Name', { id: 'admin.col.name' })}</th>
            <th scope="col">${msg('Benutzername', { id: 'admin.col.id' })}</th>
            <th scope="col">${msg('Rolle', { id: 'admin.col.role' })}</th>
            <th scope="col">${msg('Klasse', { id: 'admin.col.class' })}</th>
            <th scope="col">${msg('Geräte', { id: 'admin.tab.devices' })}</th>
            <th scope="col">${msg('Anmeldung', { id: 'admin.col.sign-in' })}</th>
          </tr>
        </thead>
        <tbody>
          ${this.accounts.map(
            (a) => html`<tr>
              <td>${a.displayName}${a.locked ? html` <span class="tag">${msg('gesperrt', { id: 'admin.accounts.locked' })}</span>` : nothing}</td>
              <td>${a.id}</td>
              <td>${roleName(a.role)}</td>
              <td>${a.class ?? ''}</td>
              <td>
                <button
                  class="link"
                  aria-label=${msg(str`${a.devices} Geräte von ${a.displayName}`, { id: 'admin.accounts.devices-of' })}
                  @click=${() => {
                    this.deviceAccount = a.id;
                    this.select('devices');
                  }}
                >
                  ${a.devices}
                </button>
              </td>
              <td>
                ${a.locked
                  ? nothing
                  : html`<button
                      class="link"
                      ?disabled=${this.busy}
                      aria-label=${msg(str`Code für ${a.displayName} erstellen`, { id: 'admin.codes.issue-for' })}
                      @click=${() => this.issueCodes([a])}
                    >
                      ${msg('Code', { id: 'admin.codes.issue' })}
                    </button>`}
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${this.accounts.length < this.accountTotal
        ? html`<p>
            <button ?disabled=${this.busy} @click=${() => this.moreAccounts()}>
              ${msg(str`Weitere anzeigen (${this.accounts.length} von ${this.accountTotal})`, { id: 'admin.accounts.more' })}
            </button>
          </p>`
        : nothing}
      ${this.codesSection()}`;
  }

  /** Codes issued in this session: to hand out, or to print as a sheet (one card per person, with the QR code). */
  private codesSection(): TemplateResult {
    const open = this.accounts.filter((a) => !a.locked);
    const bulk = open.slice(0, MAX_BULK_CODES);
    return html`<section class="codes" aria-labelledby="codes-title">
      <h3 id="codes-title" tabindex="-1">${msg('Anmeldecodes', { id: 'admin.codes.title' })}</h3>
      <p class="hint">
        ${msg('Ein Code meldet ein Gerät einmal an (eintippen oder QR-Code scannen). Wer ihn hat, kann sich als diese Person anmelden: nur persönlich aushändigen.', { id: 'admin.codes.hint' })}
      </p>
      <p class="actions">
        ${bulk.length > 1
          ? html`<button ?disabled=${this.busy} @click=${() => this.issueCodes(bulk)}>
              ${msg(str`Codes für die ${bulk.length} angezeigten Konten erstellen`, { id: 'admin.codes.bulk' })}
            </button>`
          : nothing}
        ${this.codes.length > 0 ? html`<button @click=${() => window.print()}>${msg('Codes drucken', { id: 'admin.codes.print' })}</button>` : nothing}
      </p>
      <ul class="code-cards">
        ${this.codes.map(
          (c) => html`<li class="code-card">
            <div>
              <strong>${c.displayName}</strong>${c.class ? html` <span class="tag">${c.class}</span>` : nothing}
              <p class="code" aria-label=${msg(str`Code ${c.code.replace(/-/g, '').split('').join(' ')}`, { id: 'admin.codes.code-label' })}>${groupCode(c.code)}</p>
              <p class="hint">${msg(str`Gültig bis ${when(c.expiresAt)}`, { id: 'admin.codes.valid' })}</p>
            </div>
            ${c.qrSvg
              ? html`<img class="qr" width="120" height="120" alt=${msg(str`QR-Code für ${c.displayName}`, { id: 'admin.codes.qr' })} src=${`data:image/svg+xml;charset=utf-8,${encodeURIComponent(c.qrSvg)}`} />`
              : nothing}
          </li>`,
        )}
      </ul>
    </section>`;
  }

  private groupsPanel(): TemplateResult {
    return html`<h2>${msg('Gruppen', { id: 'admin.tab.groups' })}</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">${msg('Name', { id: 'admin.col.name' })}</th>
            <th scope="col">${msg('Art', { id: 'admin.col.kind' })}</th>
            <th scope="col">${msg('Mitglieder', { id: 'admin.col.members' })}</th>
            <th scope="col">${msg('Geräte', { id: 'admin.tab.devices' })}</th>
            <th scope="col">${msg('Aufbewahrung (Tage)', { id: 'admin.col.retention' })}</th>
          </tr>
        </thead>
        <tbody>
          ${this.groups.map(
            (g) => html`<tr>
              <td>${g.name}${g.directory?.ended ? html` <span class="tag">${msg('beendet', { id: 'admin.groups.ended' })}</span>` : nothing}</td>
              <td>${kindName(g.kind)}</td>
              <td>${g.members}</td>
              <td>${g.devices}</td>
              <td>${g.retentionDays}</td>
            </tr>`,
          )}
        </tbody>
      </table>`;
  }

  private devicesPanel(): TemplateResult {
    return html`<h2>${msg('Geräte', { id: 'admin.tab.devices' })}</h2>
      <form
        class="search"
        @submit=${(e: Event) => {
          e.preventDefault();
          this.deviceAccount = (this.renderRoot.querySelector<HTMLInputElement>('#device-account')?.value ?? '').trim();
          void this.load('devices');
        }}
      >
        <label for="device-account">${msg('Benutzername (leer: alle)', { id: 'admin.devices.account' })}</label>
        <input id="device-account" type="search" .value=${this.deviceAccount} />
        <button type="submit">${msg('Anzeigen', { id: 'admin.devices.show' })}</button>
      </form>
      <ul class="devices">
        ${this.devices.map(
          (d) => html`<li>
            <div class="device-head">
              <strong>${d.name ?? msg('Gerät ohne Namen', { id: 'admin.devices.unnamed' })}</strong>
              <span>${d.account} · ${roleName(d.role)}</span>
              ${d.revoked
                ? html`<span class="tag danger">${msg('widerrufen', { id: 'admin.devices.is-revoked' })}</span>`
                : html`<span>${msg(str`gültig bis ${when(d.notAfter)}`, { id: 'admin.devices.valid-until' })}</span>`}
            </div>
            <code class="device-id">${d.device}</code>
            ${d.revoked
              ? nothing
              : html`<div class="device-actions">
                  <label for="rename-${d.device}">${msg('Neuer Name', { id: 'admin.devices.new-name' })}</label>
                  <input id="rename-${d.device}" maxlength="100" />
                  <button @click=${(e: Event) => this.rename(d.device, (e.target as HTMLElement).parentElement!.querySelector('input')!)}>
                    ${msg('Umbenennen', { id: 'admin.devices.rename' })}
                  </button>
                  ${this.confirmRevoke === d.device
                    ? html`<button class="danger" @click=${() => this.revoke(d.device)}>${msg('Ja, widerrufen', { id: 'admin.devices.confirm' })}</button>
                        <button @click=${() => (this.confirmRevoke = '')}>${msg('Abbrechen', { id: 'admin.cancel' })}</button>`
                    : html`<button class="danger" @click=${() => (this.confirmRevoke = d.device)}>${msg('Widerrufen', { id: 'admin.devices.revoke' })}</button>`}
                </div>`}
          </li>`,
        )}
      </ul>`;
  }

  private policiesPanel(): TemplateResult {
    const p = this.policy;
    if (!p) return html`<h2>${msg('Richtlinien', { id: 'admin.tab.policies' })}</h2>`;
    return html`<h2>${msg('Richtlinien', { id: 'admin.tab.policies' })}</h2>
      <form
        class="policy"
        @submit=${(e: Event) => {
          e.preventDefault();
          void this.savePolicy(e.target as HTMLFormElement);
        }}
      >
        <fieldset>
          <legend>${msg('Aufbewahrung in Tagen', { id: 'admin.policy.retention' })}</legend>
          ${KINDS.map(
            (k) => html`<label
              >${kindName(k)} <input name="retention-${k}" type="number" min="1" max="3650" required .value=${String(p.retentionDays[k] ?? '')}
            /></label>`,
          )}
        </fieldset>
        <fieldset>
          <legend>${msg('Direktnachrichten', { id: 'admin.kind.direct' })}</legend>
          <label><input type="checkbox" name="pupil-dm" ?checked=${p.pupilDirectMessages} /> ${msg('Schüler dürfen Schülern direkt schreiben', { id: 'admin.policy.pupil-dm' })}</label>
        </fieldset>
        <fieldset>
          <legend>${msg('Wer darf Gruppen anlegen?', { id: 'admin.policy.create' })}</legend>
          ${ROLES.map((r) => html`<label><input type="checkbox" name="create-${r}" ?checked=${p.whoMayCreateGroups.includes(r)} /> ${roleName(r)}</label>`)}
        </fieldset>
        <button type="submit" class="primary">${msg('Speichern', { id: 'admin.save' })}</button>
      </form>`;
  }

  private federationPanel(): TemplateResult {
    return html`<h2>${msg('Partnerschulen', { id: 'admin.tab.federation' })}</h2>
      <p>${msg('Partnerschulen werden in der Konfigurationsdatei des Relays eingetragen und gelten nach einem Neustart.', { id: 'admin.federation.note' })}</p>
      ${this.partners.length === 0
        ? html`<p>${msg('Keine Partnerschulen eingetragen.', { id: 'admin.federation.none' })}</p>`
        : html`<table>
            <thead>
              <tr>
                <th scope="col">${msg('Name', { id: 'admin.col.name' })}</th>
                <th scope="col">${msg('Schul-ID', { id: 'admin.col.school' })}</th>
                <th scope="col">${msg('Verbindung', { id: 'admin.col.link' })}</th>
              </tr>
            </thead>
            <tbody>
              ${this.partners.map(
                (p) => html`<tr>
                  <td>${p.name}</td>
                  <td><code>${p.root}</code></td>
                  <td>${p.connected ? msg('verbunden', { id: 'admin.federation.up' }) : msg('nicht verbunden', { id: 'admin.federation.down' })}</td>
                </tr>`,
              )}
            </tbody>
          </table>`}`;
  }

  private directoryPanel(): TemplateResult {
    const ldap = this.settings?.ldap;
    const sync = this.settings?.sync;
    const preset = ldap?.preset as { name?: string } | undefined;
    return html`<h2>${msg('Verzeichnis', { id: 'admin.tab.directory' })}</h2>
      <dl>
        <dt>${msg('LDAP-Server', { id: 'admin.directory.url' })}</dt>
        <dd>${String(ldap?.url ?? msg('keiner (CSV)', { id: 'admin.directory.no-ldap' }))}</dd>
        ${ldap ? html`<dt>${msg('Dienstkonto', { id: 'admin.directory.bind' })}</dt><dd>${String(ldap.bindDn ?? '')}</dd>` : nothing}
        ${preset?.name ? html`<dt>${msg('Vorlage', { id: 'admin.directory.preset' })}</dt><dd>${preset.name}</dd>` : nothing}
        <dt>${msg('Abgleich alle (Minuten)', { id: 'admin.directory.interval' })}</dt>
        <dd>${sync ? String(sync.intervalMinutes ?? '') : msg('kein Abgleich eingerichtet', { id: 'admin.directory.no-sync' })}</dd>
      </dl>
      <button class="primary" ?disabled=${this.busy || !sync} @click=${this.syncNow}>${msg('Jetzt synchronisieren', { id: 'admin.sync.now' })}</button>
      ${this.report ? this.reportView(this.report) : html`<p>${msg('Noch kein Abgleich gelaufen.', { id: 'admin.sync.none' })}</p>`}`;
  }

  private reportView(r: Report): TemplateResult {
    const outcome = {
      applied: msg('übernommen', { id: 'admin.report.applied' }),
      refused: msg('abgelehnt (zu viele Abgänge)', { id: 'admin.report.refused' }),
      failed: msg('fehlgeschlagen', { id: 'admin.report.failed' }),
    }[r.outcome];
    const groupList = (title: string, groups: GroupReport[]) =>
      groups.length === 0
        ? nothing
        : html`<h4>${title}</h4>
            <ul>
              ${groups.map((g) => html`<li>${g.name}: +${g.added.length} −${g.removed.length}${g.roles.length ? html` ±${g.roles.length}` : nothing}</li>`)}
            </ul>`;
    return html`<section class="report" aria-labelledby="report-title">
      <h3 id="report-title">${msg(str`Bericht vom ${when(r.finishedAt)}: ${outcome}`, { id: 'admin.report.title' })}</h3>
      ${r.error ? html`<p class="error">${r.error}</p>` : nothing}
      <p>
        ${msg(str`${r.source.people} Personen gelesen. Gruppen: ${r.totals.groupsCreated} neu, ${r.totals.groupsChanged} geändert, ${r.totals.groupsEnded + r.totals.groupsClosed} beendet. Mitglieder: ${r.totals.added} hinzugefügt, ${r.totals.removed} entfernt.`, { id: 'admin.report.summary' })}
      </p>
      <p>${msg(str`Zugänge: ${r.joiners.length}, Abgänge: ${r.leavers.length}, widerrufene Geräte: ${r.revokedDevices.length}.`, { id: 'admin.report.people' })}</p>
      ${groupList(msg('Neue Gruppen', { id: 'admin.report.created' }), r.created)} ${groupList(msg('Geänderte Gruppen', { id: 'admin.report.changed' }), r.changed)}
      ${groupList(msg('Beendete Gruppen', { id: 'admin.report.removed' }), r.removed)}
      ${r.leavers.length ? html`<h4>${msg('Abgänge', { id: 'admin.report.leavers' })}</h4><p>${r.leavers.join(', ')}</p>` : nothing}
    </section>`;
  }

  private auditPanel(): TemplateResult {
    const v = this.verdict;
    return html`<h2>${msg('Protokoll', { id: 'admin.tab.audit' })}</h2>
      ${v
        ? v.ok
          ? html`<p class="ok">${msg(str`Kette geprüft: ${v.entries ?? 0} Einträge, unverändert und vollständig.`, { id: 'admin.audit.ok' })}</p>
              ${this.anchoredAt
                ? html`<p>${msg(str`Auf diesem Gerät geprüft: die ${this.anchoredAt} Einträge vom letzten Mal sind unverändert.`, { id: 'admin.audit.anchored' })}</p>`
                : html`<p>${msg('Auf diesem Gerät zum ersten Mal geprüft; ab jetzt fällt hier auf, wenn jemand frühere Einträge ändert oder entfernt.', { id: 'admin.audit.first' })}</p>`}`
          : html`<p class="error" role="alert">${msg(str`Das Protokoll ist verändert worden (Eintrag ${v.at ?? 0}): ${v.problem ?? ''}`, { id: 'admin.audit.broken' })}</p>`
        : nothing}
      <table>
        <thead>
          <tr>
            <th scope="col">${msg('Nr.', { id: 'admin.col.seq' })}</th>
            <th scope="col">${msg('Zeit', { id: 'admin.col.time' })}</th>
            <th scope="col">${msg('Aktion', { id: 'admin.col.action' })}</th>
            <th scope="col">${msg('Wer', { id: 'admin.col.actor' })}</th>
          </tr>
        </thead>
        <tbody>
          ${this.audit.map(
            (e) => html`<tr>
              <td>${e.seq}</td>
              <td>${when(e.time)}</td>
              <td>${actionName(e.action)}</td>
              <td>${e.actor.kind === 'device' ? e.actor.account : msg('Betreiber (Relay)', { id: 'admin.audit.operator' })}</td>
            </tr>`,
          )}
        </tbody>
      </table>`;
  }

  static override styles = [
    base,
    css`
      :host {
        display: block;
        height: 100%;
        overflow: auto;
        background: var(--panel);
      }
      .console {
        max-width: 1100px;
        margin: 0 auto;
        padding: 1rem 1.25rem 3rem;
      }
      header {
        display: flex;
        align-items: baseline;
        justify-content: space-between;
        gap: 1rem;
      }
      h1 {
        font-size: 1.4rem;
        margin: 0.5rem 0 1rem;
      }
      h2 {
        font-size: 1.15rem;
      }
      a {
        color: var(--brand-strong);
      }
      [role='tablist'] {
        display: flex;
        flex-wrap: wrap;
        gap: 0.25rem;
        border-bottom: 2px solid var(--line);
      }
      [role='tab'] {
        border: none;
        background: none;
        padding: 0.6rem 0.9rem;
        font: inherit;
        color: var(--ink-soft);
        cursor: pointer;
        border-bottom: 3px solid transparent;
      }
      [role='tab'][aria-selected='true'] {
        color: var(--brand-strong);
        border-bottom-color: var(--brand-strong);
        font-weight: 600;
      }
      table {
        border-collapse: collapse;
        width: 100%;
        margin: 0.5rem 0;
      }
      th,
      td {
        text-align: left;
        padding: 0.4rem 0.5rem;
        border-bottom: 1px solid var(--line);
      }
      button {
        font: inherit;
        padding: 0.4rem 0.8rem;
        border-radius: 8px;
        border: 1px solid var(--line);
        background: var(--panel-alt);
        color: var(--ink);
        cursor: pointer;
      }
      button.primary {
        background: var(--brand-strong);
        border-color: var(--brand-strong);
        color: #fff;
      }
      button.danger {
        color: var(--danger);
        border-color: var(--danger);
        background: #fff;
      }
      button.link {
        background: none;
        border: none;
        color: var(--brand-strong);
        text-decoration: underline;
      }
      button:disabled {
        opacity: 0.6;
        cursor: default;
      }
      input {
        font: inherit;
        padding: 0.35rem 0.5rem;
        border: 1px solid #8a9794;
        border-radius: 6px;
      }
      .search {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0.5rem;
      }
      .tag {
        font-size: 0.8rem;
        padding: 0.05rem 0.4rem;
        border-radius: 4px;
        background: var(--warn-bg);
        color: var(--warn-ink);
      }
      .tag.danger {
        background: #fde7e5;
        color: var(--danger);
      }
      .error {
        color: var(--danger);
      }
      .ok {
        color: var(--brand-strong);
      }
      .devices {
        list-style: none;
        padding: 0;
      }
      .devices li {
        border: 1px solid var(--line);
        border-radius: var(--radius);
        padding: 0.6rem 0.8rem;
        margin: 0.5rem 0;
      }
      .device-head {
        display: flex;
        flex-wrap: wrap;
        gap: 0.75rem;
        align-items: baseline;
      }
      .device-id {
        font-size: 0.8rem;
        color: var(--ink-soft);
        word-break: break-all;
      }
      .device-actions {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: center;
        margin-top: 0.4rem;
      }
      fieldset {
        border: 1px solid var(--line);
        border-radius: var(--radius);
        margin: 0 0 1rem;
        display: flex;
        flex-wrap: wrap;
        gap: 0.75rem 1.5rem;
      }
      dl {
        display: grid;
        grid-template-columns: max-content 1fr;
        gap: 0.3rem 1rem;
      }
      dt {
        font-weight: 600;
      }
      dd {
        margin: 0;
      }
      .report {
        margin-top: 1rem;
        padding: 0.6rem 1rem;
        border: 1px solid var(--line);
        border-radius: var(--radius);
        background: var(--panel-alt);
      }
      h3 {
        font-size: 1.05rem;
      }
      h4 {
        font-size: 0.95rem;
        margin: 0.6rem 0 0.2rem;
      }
      .codes {
        margin-top: 1.5rem;
      }
      .hint {
        color: var(--ink-soft);
        font-size: 0.9rem;
      }
      .actions {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
      }
      .code-cards {
        list-style: none;
        padding: 0;
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(300px, 1fr));
        gap: 0.8rem;
      }
      .code-card {
        display: flex;
        justify-content: space-between;
        gap: 0.8rem;
        padding: 0.6rem 0.8rem;
        border: 1px solid var(--line);
        border-radius: var(--radius);
        break-inside: avoid;
      }
      .code-card .code {
        font-family: ui-monospace, monospace;
        font-size: 1.15rem;
        letter-spacing: 0.05em;
        white-space: nowrap;
        margin: 0.4rem 0 0.2rem;
      }
      .qr {
        flex: none;
      }
      /* The printed sheet: only the cards, to cut apart and hand out. */
      @media print {
        header,
        [role='tablist'],
        .messages,
        #panel > :not(.codes),
        .codes > :not(.code-cards) {
          display: none !important;
        }
        :host {
          overflow: visible;
        }
      }
    `,
  ];
}

customElements.define('sm-admin-console', AdminConsole);
