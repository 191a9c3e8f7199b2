import { msg, str, updateWhenLocaleChanges } from '@lit/localize';
import { LitElement, css, html, nothing } from 'lit';
import type { Person } from '../api/protocol.ts';
import { dialogStyles } from './dialog-styles.ts';
import { avatarColour, initials, roleLabel } from './format.ts';
import { closeIcon } from './icons.ts';
import { matchesName } from './people-search.ts';
import { base } from './styles.ts';

/** What "Neue Gruppe" asks the app to create. */
export interface NewGroup {
  name: string;
  announcement: boolean;
  members: string[];
}

/**
 * "Neuer Chat": a search over the people this device knows from its groups; picking one asks the app to open (or
 * start) the direct chat. Where the school lets this account create groups, "Neue Gruppe" switches to a form: a
 * name, announcement or not, members picked from the same people. Loaded when first opened.
 */
export class NewChatDialog extends LitElement {
  static override properties = {
    people: { attribute: false },
    error: { type: String },
    busy: { type: Boolean },
    mayCreateGroups: { type: Boolean },
    query: { state: true },
    mode: { state: true },
    picked: { state: true },
    searchSchool: { attribute: false },
    school: { state: true },
  };
  declare people: Person[];
  /** Asks the school's directory (through the worker and the relay); absent: only known people are searched. */
  declare searchSchool: ((query: string) => Promise<Person[]>) | undefined;
  /** What the school's directory answered for the current query (people not among `people`), or why it did not. */
  declare school: { query: string; people: Person[] } | { query: string; failed: true } | undefined;
  private schoolTimer: ReturnType<typeof setTimeout> | undefined;
  /** The school lets this account create groups: "Neue Gruppe" is offered. */
  declare mayCreateGroups: boolean;
  declare mode: 'person' | 'group';
  declare picked: ReadonlySet<string>;
  /** Why the last pick was refused (set by the app). */
  declare error: string;
  declare busy: boolean;
  declare query: string;

  constructor() {
    super();
    updateWhenLocaleChanges(this);
    this.people = [];
    this.error = '';
    this.busy = false;
    this.query = '';
    this.mayCreateGroups = false;
    this.mode = 'person';
    this.picked = new Set();
    this.searchSchool = undefined;
    this.school = undefined;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearTimeout(this.schoolTimer);
  }

  /** Asks the school's directory a moment after typing stops (two characters at least). */
  private askSchool(): void {
    clearTimeout(this.schoolTimer);
    const query = this.query.trim();
    const search = this.searchSchool;
    if (!search || query.length < 2) {
      this.school = undefined;
      return;
    }
    this.schoolTimer = setTimeout(async () => {
      try {
        const people = await search(query);
        if (this.query.trim() !== query) return;
        const known = new Set(this.people.map((p) => p.account));
        this.school = { query, people: people.filter((p) => !known.has(p.account)) };
      } catch {
        if (this.query.trim() === query) this.school = { query, failed: true };
      }
    }, 250);
  }

  private renderPerson(p: Person) {
    return html`<li>
      <button class="person" ?disabled=${this.busy} @click=${() => this.pick(p)}>
        <span class="avatar small" style="background:${avatarColour(p.account)}" aria-hidden="true">${initials(p.name)}</span>
        <span class="who">
          <span class="name">${p.name}</span>
          <span class="tags">
            ${p.role ? html`<span class=${p.role === 'teacher' ? 'tag teacher' : 'tag'}>${roleLabel(p.role)}</span>` : nothing}${p.partnerSchool
              ? html`<span class="tag school">${msg(str`Schule: ${p.partnerSchool}`, { id: 'info.partner-school' })}</span>`
              : nothing}${p.direct ? html`<span class="tag">${msg('Chat vorhanden', { id: 'new.existing' })}</span>` : nothing}${p.mayMessage
              ? nothing
              : html`<span class="tag">${msg('Direktchat nicht erlaubt', { id: 'new.not-allowed' })}</span>`}
          </span>
        </span>
      </button>
    </li>`;
  }

  override firstUpdated(): void {
    this.renderRoot.querySelector('dialog')?.showModal();
    this.renderRoot.querySelector<HTMLInputElement>('input')?.focus();
  }

  /** Switches between the person search and the group form, and puts the focus on the first field. */
  private async switchTo(mode: 'person' | 'group'): Promise<void> {
    this.mode = mode;
    this.query = '';
    this.error = '';
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLInputElement>('input')?.focus();
  }

  private toggle(account: string, on: boolean): void {
    const next = new Set(this.picked);
    if (on) next.add(account);
    else next.delete(account);
    this.picked = next;
  }

  private submitGroup(e: Event): void {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    const name = String(data.get('name') ?? '').trim();
    if (name === '') {
      this.error = msg('Gib der Gruppe einen Namen.', { id: 'group.new.no-name' });
      form.querySelector<HTMLInputElement>('#group-name')?.focus();
      return;
    }
    const detail: NewGroup = { name, announcement: data.get('announcement') === 'on', members: [...this.picked] };
    this.dispatchEvent(new CustomEvent<NewGroup>('create-group', { detail, bubbles: true, composed: true }));
  }

  private close(): void {
    this.renderRoot.querySelector('dialog')?.close();
  }

  private pick(p: Person): void {
    this.dispatchEvent(new CustomEvent<Person>('pick-person', { detail: p, bubbles: true, composed: true }));
  }

  /** Arrow keys move from the search box through the results. */
  private onKey(e: KeyboardEvent): void {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const buttons = [...this.renderRoot.querySelectorAll<HTMLButtonElement>('ul.people button')];
    if (buttons.length === 0) return;
    const input = this.renderRoot.querySelector('input');
    const index = buttons.indexOf(e.target as HTMLButtonElement);
    e.preventDefault();
    if (e.key === 'ArrowDown') buttons[Math.min(buttons.length - 1, index + 1)]!.focus();
    else if (index <= 0) input?.focus();
    else buttons[index - 1]!.focus();
  }

  override render() {
    const title = this.mode === 'group' ? msg('Neue Gruppe', { id: 'group.new.title' }) : msg('Neuer Chat', { id: 'new.title' });
    return html`<dialog aria-labelledby="new-title" @close=${() => this.dispatchEvent(new CustomEvent('close', { bubbles: true, composed: true }))} @keydown=${this.onKey}>
      <div class="head">
        <h2 id="new-title">${title}</h2>
        <button class="icon-button" aria-label=${msg('Schließen', { id: 'dialog.close' })} @click=${this.close}>${closeIcon}</button>
      </div>
      ${this.mode === 'group' ? this.renderGroupForm() : this.renderSearch()}
    </dialog>`;
  }

  private renderGroupForm() {
    const found = this.people.filter((p) => matchesName(p.name, this.query));
    const count = this.picked.size;
    return html`<form class="body" @submit=${this.submitGroup}>
      <label class="field" for="group-name">${msg('Name der Gruppe', { id: 'group.new.name' })}</label>
      <input id="group-name" name="name" type="text" maxlength="80" autocomplete="off" @input=${() => (this.error = '')} placeholder=${msg('zum Beispiel AG Robotik', { id: 'group.new.name-placeholder' })} />
      <label class="check"
        ><input type="checkbox" name="announcement" /> ${msg('Ankündigungen: nur du (und wen du zur Moderation machst) schreibst', { id: 'group.new.announcement' })}</label
      >
      <fieldset>
        <legend>${msg('Mitglieder', { id: 'group.new.members' })}</legend>
        <label class="sr-only" for="member-q">${msg('Person suchen', { id: 'new.search' })}</label>
        <input
          id="member-q"
          type="search"
          autocomplete="off"
          placeholder=${msg('Name suchen', { id: 'new.search-placeholder' })}
          .value=${this.query}
          @input=${(e: Event) => (this.query = (e.target as HTMLInputElement).value)}
          @keydown=${(e: KeyboardEvent) => e.key === 'Enter' && e.preventDefault()}
        />
        ${found.length === 0 ? html`<p class="muted">${msg('Niemand gefunden.', { id: 'new.none' })}</p>` : nothing}
        <ul class="people picks" aria-label=${msg('Personen', { id: 'new.people' })}>
          ${found.map(
            (p) => html`<li>
              <label class="pick">
                <input type="checkbox" .checked=${this.picked.has(p.account)} @change=${(e: Event) => this.toggle(p.account, (e.target as HTMLInputElement).checked)} />
                <span class="avatar small" style="background:${avatarColour(p.account)}" aria-hidden="true">${initials(p.name)}</span>
                <span class="who">
                  <span class="name">${p.name}</span>
                  ${p.role ? html`<span class="tags"><span class=${p.role === 'teacher' ? 'tag teacher' : 'tag'}>${roleLabel(p.role)}</span></span>` : nothing}
                </span>
              </label>
            </li>`,
          )}
        </ul>
      </fieldset>
      <p class="muted small" role="status">${count === 1 ? msg('1 Person ausgewählt', { id: 'group.new.one' }) : msg(str`${count} Personen ausgewählt`, { id: 'group.new.count' })}</p>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      <div class="actions">
        <button type="button" class="secondary" @click=${() => this.switchTo('person')}>${msg('Zurück', { id: 'group.new.back' })}</button>
        <button type="submit" class="primary" ?disabled=${this.busy}>${msg('Gruppe erstellen', { id: 'group.new.create' })}</button>
      </div>
    </form>`;
  }

  private renderSearch() {
    const found = this.people.filter((p) => matchesName(p.name, this.query));
    const school = this.school && this.school.query === this.query.trim() ? this.school : undefined;
    const more = school && 'people' in school ? school.people : [];
    const first = found[0] ?? more[0];
    const total = found.length + more.length;
    return html`<div class="body">
        ${this.mayCreateGroups
          ? html`<button class="secondary new-group" @click=${() => this.switchTo('group')}>${msg('Neue Gruppe', { id: 'group.new.title' })}</button>`
          : nothing}
        <label class="sr-only" for="q">${msg('Person suchen', { id: 'new.search' })}</label>
        <input
          id="q"
          type="search"
          autocomplete="off"
          placeholder=${msg('Name suchen', { id: 'new.search-placeholder' })}
          .value=${this.query}
          @input=${(e: Event) => {
            this.query = (e.target as HTMLInputElement).value;
            this.error = '';
            this.askSchool();
          }}
          @keydown=${(e: KeyboardEvent) => {
            if (e.key === 'Enter' && first) {
              e.preventDefault();
              this.pick(first);
            }
          }}
        />
        <p class="muted small">
          ${this.searchSchool
            ? msg('Du findest alle aus deinen Gruppen und, mit Verbindung zur Schule, alle an der Schule, denen du schreiben darfst.', { id: 'new.hint-school' })
            : msg('Du findest alle, die in deinen Gruppen sind.', { id: 'new.hint' })}
        </p>
        ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
        <p class="sr-only" role="status">${msg(str`${total} Treffer`, { id: 'new.count' })}</p>
        ${total === 0 && (!this.searchSchool || this.query.trim().length < 2 || school)
          ? html`<p class="muted">${msg('Niemand gefunden.', { id: 'new.none' })}</p>`
          : nothing}
        <ul class="people" aria-label=${msg('Personen', { id: 'new.people' })}>
          ${found.map((p) => this.renderPerson(p))}
        </ul>
        ${more.length > 0
          ? html`<h3 class="more-title" id="school-title">${msg('Weitere Personen der Schule', { id: 'new.school' })}</h3>
              <ul class="people" aria-labelledby="school-title">
                ${more.map((p) => this.renderPerson(p))}
              </ul>`
          : nothing}
        ${school && 'failed' in school
          ? html`<p class="muted small">${msg('Die Schule ist gerade nicht erreichbar: Gefunden werden nur Personen aus deinen Gruppen.', { id: 'new.school-offline' })}</p>`
          : nothing}
      </div>`;
  }

  static override styles = [
    base,
    dialogStyles,
    css`
      dialog {
        height: min(640px, calc(100vh - 24px));
      }
      .more-title {
        margin: 12px 0 4px;
        font-size: 0.9rem;
        color: var(--brand-strong);
      }
      .small {
        font-size: 0.85rem;
        margin: 6px 0 4px;
      }
      ul.people li {
        padding: 0;
      }
      .person {
        display: flex;
        align-items: center;
        gap: 12px;
        width: 100%;
        padding: 8px 6px;
        border: none;
        background: none;
        text-align: left;
        cursor: pointer;
        border-radius: 10px;
      }
      .person:hover,
      .pick:hover {
        background: var(--panel-alt);
      }
      .secondary {
        min-height: 44px;
        padding: 0 20px;
        border: 1px solid var(--brand);
        border-radius: 22px;
        background: none;
        color: var(--brand);
        font-weight: 600;
        font-size: 1rem;
        cursor: pointer;
      }
      .secondary:hover {
        background: var(--panel-alt);
      }
      .new-group {
        width: 100%;
        margin: 10px 0 6px;
      }
      .field {
        display: block;
        font-weight: 600;
        margin: 12px 0 4px;
      }
      input[type='text'],
      input[type='search'] {
        width: 100%;
        box-sizing: border-box;
      }
      .check {
        display: flex;
        gap: 8px;
        align-items: flex-start;
        margin: 12px 0;
      }
      fieldset {
        border: 1px solid var(--line);
        border-radius: 12px;
        padding: 8px 12px;
        margin: 0;
      }
      legend {
        font-weight: 600;
        padding: 0 4px;
      }
      .pick {
        display: flex;
        align-items: center;
        gap: 12px;
        width: 100%;
        padding: 6px;
        border-radius: 10px;
        cursor: pointer;
      }
      ul.picks {
        max-height: 260px;
        overflow-y: auto;
      }
      .actions {
        display: flex;
        justify-content: flex-end;
        gap: 8px;
        margin-top: 12px;
      }
    `,
  ];
}

customElements.define('sm-new-chat', NewChatDialog);
