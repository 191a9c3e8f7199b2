import { msg, str, updateWhenLocaleChanges } from '@lit/localize';
import { LitElement, css, html, nothing } from 'lit';
import type { Person } from '../api/protocol.ts';
import { dialogStyles } from './dialog-styles.ts';
import { avatarColour, initials, roleLabel } from './format.ts';
import { closeIcon } from './icons.ts';
import { matchesName } from './people-search.ts';
import { base } from './styles.ts';

/**
 * "Neuer Chat": a search over the people this device knows from its groups; picking one asks the app to open (or
 * start) the direct chat. Loaded when first opened.
 */
export class NewChatDialog extends LitElement {
  static override properties = {
    people: { attribute: false },
    error: { type: String },
    busy: { type: Boolean },
    query: { state: true },
  };
  declare people: Person[];
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
  }

  override firstUpdated(): void {
    this.renderRoot.querySelector('dialog')?.showModal();
    this.renderRoot.querySelector<HTMLInputElement>('input')?.focus();
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
    const found = this.people.filter((p) => matchesName(p.name, this.query));
    return html`<dialog aria-labelledby="new-title" @close=${() => this.dispatchEvent(new CustomEvent('close', { bubbles: true, composed: true }))} @keydown=${this.onKey}>
      <div class="head">
        <h2 id="new-title">${msg('Neuer Chat', { id: 'new.title' })}</h2>
        <button class="icon-button" aria-label=${msg('Schließen', { id: 'dialog.close' })} @click=${this.close}>${closeIcon}</button>
      </div>
      <div class="body">
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
          }}
          @keydown=${(e: KeyboardEvent) => {
            if (e.key === 'Enter' && found.length > 0) {
              e.preventDefault();
              this.pick(found[0]!);
            }
          }}
        />
        <p class="muted small">${msg('Du findest alle, die in deinen Gruppen sind.', { id: 'new.hint' })}</p>
        ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
        <p class="sr-only" role="status">${msg(str`${found.length} Treffer`, { id: 'new.count' })}</p>
        ${found.length === 0 ? html`<p class="muted">${msg('Niemand gefunden.', { id: 'new.none' })}</p>` : nothing}
        <ul class="people" aria-label=${msg('Personen', { id: 'new.people' })}>
          ${found.map(
            (p) => html`<li>
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
            </li>`,
          )}
        </ul>
      </div>
    </dialog>`;
  }

  static override styles = [
    base,
    dialogStyles,
    css`
      dialog {
        height: min(640px, calc(100vh - 24px));
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
      .person:hover {
        background: var(--panel-alt);
      }
    `,
  ];
}

customElements.define('sm-new-chat', NewChatDialog);
