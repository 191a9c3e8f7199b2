import { msg, str, updateWhenLocaleChanges } from '@lit/localize';
import { LitElement, css, html, nothing } from 'lit';
import { repeat } from 'lit/directives/repeat.js';
import type { ChatSummary, ConnectionStatus, ProfileSummary } from '../api/protocol.ts';
import { currentLocale, switchLocale } from '../i18n/locale.ts';
import { avatarColour, initials, kindLabel, listTime } from './format.ts';
import { bellIcon, devicesIcon, globeIcon, linkIcon, newChatIcon, offlineIcon, switchIcon } from './icons.ts';
import { matchesName } from './people-search.ts';
import { base } from './styles.ts';

/** The chat list: every group of the profile with its last message, time and unread count. */
export class ChatList extends LitElement {
  static override properties = {
    chats: { attribute: false },
    profile: { attribute: false },
    status: { attribute: false },
    selected: { type: String },
    loaded: { type: Boolean },
    canAskNotify: { type: Boolean, attribute: 'can-ask-notify' },
    query: { state: true },
  };
  declare chats: ChatSummary[];
  declare profile: ProfileSummary | undefined;
  declare status: ConnectionStatus;
  declare selected: string;
  declare loaded: boolean;
  declare canAskNotify: boolean;
  /** What is typed into the search field: chats are filtered by their name, last message and its author. */
  declare query: string;

  constructor() {
    super();
    updateWhenLocaleChanges(this);
    this.chats = [];
    this.profile = undefined;
    this.status = { state: 'connecting' };
    this.selected = '';
    this.loaded = false;
    this.canAskNotify = false;
    this.query = '';
  }

  /** The chats the search lets through (all of them while it is empty). */
  private shown(): ChatSummary[] {
    const q = this.query.trim();
    if (!q) return this.chats;
    return this.chats.filter((c) => matchesName(`${c.name} ${c.last && !c.last.deleted ? `${c.last.authorName} ${c.last.text}` : ''}`, q));
  }

  /** Escape empties the search first; ArrowDown goes to the first chat found. */
  private onSearchKey(e: KeyboardEvent): void {
    if (e.key === 'Escape' && this.query) {
      e.preventDefault();
      e.stopPropagation();
      this.query = '';
      (e.target as HTMLInputElement).value = '';
    } else if (e.key === 'ArrowDown') {
      const first = this.renderRoot.querySelector<HTMLAnchorElement>('a.chat');
      if (first) {
        e.preventDefault();
        first.focus();
      }
    }
  }

  /** Arrow keys move between chats; Home and End jump. */
  private onKey(e: KeyboardEvent): void {
    const links = [...this.renderRoot.querySelectorAll<HTMLAnchorElement>('a.chat')];
    const index = links.indexOf(e.target as HTMLAnchorElement);
    if (index < 0) return;
    let next = -1;
    if (e.key === 'ArrowDown') next = Math.min(links.length - 1, index + 1);
    else if (e.key === 'ArrowUp') next = Math.max(0, index - 1);
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = links.length - 1;
    if (next < 0) return;
    e.preventDefault();
    links[next]!.focus();
  }

  private banner() {
    const s = this.status;
    if (s.state === 'refused')
      return html`<div class="banner offline" role="alert">
        ${offlineIcon}<span>${msg('Die Schule lässt dieses Gerät nicht mehr herein (gesperrt oder zu lange nicht benutzt). Deine Nachrichten hier bleiben lesbar; melde das Gerät mit einem neuen Code an.', { id: 'status.refused' })}</span>
      </div>`;
    if (s.state === 'offline')
      return html`<div class="banner offline" role="status">
        ${offlineIcon}<span>${msg('Offline – neue Nachrichten werden gesendet, sobald die Verbindung zur Schule wieder da ist.', { id: 'status.offline' })}</span>
      </div>`;
    if (s.sync && s.sync.expected > 0)
      return html`<div class="banner sync" role="status">
        <span>${msg(str`${s.sync.received} von ${s.sync.expected} Nachrichten geladen`, { id: 'status.sync' })}</span>
        <progress max=${s.sync.expected} value=${s.sync.received} aria-hidden="true"></progress>
      </div>`;
    if (s.state === 'connecting') return html`<div class="banner connecting" role="status"><span>${msg('Verbinde mit der Schule …', { id: 'status.connecting' })}</span></div>`;
    return html`<div class="sr-only" role="status">${msg('Verbunden', { id: 'status.online' })}</div>`;
  }

  /** Honest about direct links: shown only while sync sessions with other devices run over WebRTC. */
  private directNote() {
    const n = this.status.direct ?? 0;
    if (n === 0) return nothing;
    const text = n === 1 ? msg('Direkt verbunden mit 1 Gerät in der Nähe', { id: 'status.direct-one' }) : msg(str`Direkt verbunden mit ${n} Geräten in der Nähe`, { id: 'status.direct-many' });
    return html`<p class="direct" role="status">${linkIcon}<span>${text}</span></p>`;
  }

  private preview(chat: ChatSummary) {
    if (chat.removed) return html`<span class="muted">${msg('Du wurdest aus der Gruppe entfernt', { id: 'list.removed' })}</span>`;
    if (chat.awaitingApproval) return html`<span class="muted">${msg('Bestätige dieses Gerät unter „Meine Geräte“ auf einem anderen deiner Geräte.', { id: 'list.awaiting-approval' })}</span>`;
    if (!chat.canRead) return html`<span class="muted">${msg('Warte auf die Schlüssel der Gruppe …', { id: 'list.waiting-keys' })}</span>`;
    const last = chat.last;
    if (!last) return html`<span class="muted">${msg('Noch keine Nachrichten', { id: 'list.empty-chat' })}</span>`;
    const who = last.mine ? msg('Du', { id: 'list.you' }) : last.authorName;
    const text = last.deleted ? msg('Diese Nachricht wurde gelöscht.', { id: 'msg.deleted' }) : last.text;
    return html`${chat.kind === 'direct' && !last.mine ? nothing : html`<span class="who">${who}: </span>`}<span>${text}</span>`;
  }

  override render() {
    const other = currentLocale() === 'de' ? 'en' : 'de';
    const p = this.profile;
    const shown = this.shown();
    return html`
      <header class="bar">
        ${p ? html`<span class="avatar small" style="background:${avatarColour(p.account)}" aria-hidden="true">${initials(p.displayName)}</span>` : nothing}
        <div class="me">
          <h1>${msg('Chats', { id: 'list.title' })}</h1>
          ${p ? html`<span class="sub">${p.displayName} · ${p.schoolName}</span>` : nothing}
        </div>
        <button class="icon-button" lang=${other} aria-label=${other === 'en' ? 'English' : 'Deutsch'} title=${other === 'en' ? 'English' : 'Deutsch'} @click=${() => switchLocale(other)}>
          ${globeIcon}
        </button>
        <button
          class="icon-button"
          aria-label=${msg('Neuer Chat', { id: 'new.title' })}
          title=${msg('Neuer Chat', { id: 'new.title' })}
          @click=${() => this.dispatchEvent(new CustomEvent('new-chat', { bubbles: true, composed: true }))}
        >
          ${newChatIcon}
        </button>
        <button
          class="icon-button"
          aria-label=${msg('Meine Geräte', { id: 'devices.title' })}
          title=${msg('Meine Geräte', { id: 'devices.title' })}
          @click=${() => this.dispatchEvent(new CustomEvent('my-devices', { bubbles: true, composed: true }))}
        >
          ${devicesIcon}
        </button>
        <button
          class="icon-button"
          aria-label=${msg('Profil wechseln', { id: 'list.switch-profile' })}
          title=${msg('Profil wechseln', { id: 'list.switch-profile' })}
          @click=${() => this.dispatchEvent(new CustomEvent('switch-profile', { bubbles: true, composed: true }))}
        >
          ${switchIcon}
        </button>
      </header>
      ${this.banner()} ${this.directNote()}
      ${this.canAskNotify
        ? html`<div class="banner notify">
            ${bellIcon}<span>${msg('Benachrichtigungen für neue Nachrichten?', { id: 'notify.ask' })}</span>
            <button class="link-button" @click=${() => this.dispatchEvent(new CustomEvent('ask-notify', { bubbles: true, composed: true }))}>
              ${msg('Einschalten', { id: 'notify.enable' })}
            </button>
          </div>`
        : nothing}
      ${this.chats.length > 0
        ? html`<div class="search" role="search">
            <input
              type="search"
              .value=${this.query}
              aria-label=${msg('Chats durchsuchen', { id: 'list.search' })}
              placeholder=${msg('Suchen', { id: 'list.search-placeholder' })}
              enterkeyhint="search"
              autocomplete="off"
              @input=${(e: InputEvent) => {
                this.query = (e.target as HTMLInputElement).value;
              }}
              @keydown=${this.onSearchKey}
            />
          </div>`
        : nothing}
      <nav aria-label=${msg('Chats', { id: 'list.title' })}>
        ${this.loaded && this.chats.length === 0
          ? html`<p class="empty">${msg('Noch keine Chats. Sobald deine Lehrkraft dich zu einer Gruppe hinzufügt, erscheint sie hier.', { id: 'list.empty' })}</p>`
          : nothing}
        ${this.query.trim() && shown.length === 0
          ? html`<p class="empty" role="status">${msg(str`Keine Chats zu „${this.query.trim()}“ gefunden.`, { id: 'list.search-none' })}</p>`
          : nothing}
        <ul @keydown=${this.onKey}>
          ${repeat(
            shown,
            (c) => c.id,
            (c) => html`<li>
              <a class="chat" href="#chat=${encodeURIComponent(c.id)}" aria-current=${c.id === this.selected ? 'page' : 'false'}>
                <span class="avatar" style="background:${avatarColour(c.id)}" aria-hidden="true">${initials(c.name)}</span>
                <span class="body">
                  <span class="row">
                    <span class="name">${c.name}</span>
                    ${c.last ? html`<time class=${c.unread > 0 ? 'time unread' : 'time'} datetime=${new Date(c.last.ts).toISOString()}>${listTime(c.last.ts)}</time>` : nothing}
                  </span>
                  <span class="row">
                    <span class="preview">${this.preview(c)}</span>
                    ${c.unread > 0
                      ? html`<span class="badge" aria-hidden="true">${c.unread > 99 ? '99+' : c.unread}</span><span class="sr-only"
                            >${msg(str`${c.unread} ungelesen`, { id: 'list.unread' })}</span
                          >`
                      : nothing}
                  </span>
                  <span class="sr-only">${kindLabel(c.kind)}</span>
                </span>
              </a>
            </li>`,
          )}
        </ul>
      </nav>
    `;
  }

  static override styles = [
    base,
    css`
      :host {
        display: flex;
        flex-direction: column;
        height: 100%;
        min-height: 0;
        background: var(--panel);
      }
      .bar {
        display: flex;
        align-items: center;
        gap: 12px;
        padding: 10px 8px 10px 16px;
        background: var(--panel-alt);
        border-bottom: 1px solid var(--line);
        min-height: 64px;
      }
      .me {
        flex: 1;
        min-width: 0;
        display: grid;
      }
      h1 {
        margin: 0;
        font-size: 1.25rem;
        line-height: 1.2;
      }
      .sub {
        color: var(--ink-soft);
        font-size: 0.85rem;
        white-space: nowrap;
        overflow: hidden;
        text-overflow: ellipsis;
      }
      .banner {
        display: flex;
        align-items: center;
        gap: 10px;
        padding: 10px 16px;
        font-size: 0.9rem;
        line-height: 1.35;
      }
      .banner.offline {
        background: var(--warn-bg);
        color: var(--warn-ink);
      }
      .banner.sync,
      .banner.connecting {
        background: var(--brand-soft);
        color: var(--brand-strong);
        flex-wrap: wrap;
      }
      .direct {
        display: flex;
        align-items: center;
        gap: 8px;
        margin: 0;
        padding: 6px 16px;
        font-size: 0.85rem;
        color: var(--brand-strong);
        border-bottom: 1px solid var(--line);
      }
      .banner.notify {
        background: var(--panel-alt);
        border-bottom: 1px solid var(--line);
      }
      .banner.notify span {
        flex: 1;
      }
      .banner.notify .link-button {
        padding: 4px;
      }
      .banner progress {
        width: 100%;
        height: 6px;
        accent-color: var(--brand);
      }
      .search {
        padding: 8px 12px;
        border-bottom: 1px solid var(--line);
      }
      .search input {
        width: 100%;
        box-sizing: border-box;
        padding: 8px 14px;
        border: 1px solid var(--line);
        border-radius: 20px;
        background: var(--panel-alt);
        color: inherit;
        font: inherit;
        font-size: 0.95rem;
      }
      .search input:focus-visible {
        outline: 2px solid var(--brand);
        outline-offset: 1px;
        background: var(--panel);
      }
      nav {
        flex: 1;
        overflow-y: auto;
        min-height: 0;
      }
      ul {
        list-style: none;
        margin: 0;
        padding: 0;
      }
      .chat {
        display: flex;
        gap: 12px;
        align-items: center;
        padding: 10px 16px;
        color: inherit;
        text-decoration: none;
        border-radius: 0;
      }
      .chat:hover {
        background: var(--panel-alt);
      }
      .chat[aria-current='page'] {
        background: #e6eeec;
      }
      .chat:focus-visible {
        outline-offset: -3px;
        border-radius: 0;
      }
      .body {
        flex: 1;
        min-width: 0;
        display: grid;
        gap: 2px;
        padding: 4px 0;
        border-bottom: 1px solid var(--line);
      }
      .row {
        display: flex;
        align-items: center;
        gap: 8px;
        min-width: 0;
      }
      .name {
        flex: 1;
        font-weight: 600;
        font-size: 1.02rem;
        white-space: nowrap;
        overflow: hidden;
        text-overflow: ellipsis;
      }
      .time {
        color: var(--ink-soft);
        font-size: 0.78rem;
        flex: none;
      }
      .time.unread {
        color: var(--badge);
        font-weight: 600;
      }
      .preview {
        flex: 1;
        color: var(--ink-soft);
        font-size: 0.92rem;
        white-space: nowrap;
        overflow: hidden;
        text-overflow: ellipsis;
      }
      .who {
        color: var(--ink);
      }
      .muted {
        font-style: italic;
      }
      .badge {
        flex: none;
        min-width: 22px;
        height: 22px;
        padding: 0 7px;
        border-radius: 11px;
        background: var(--badge);
        color: #fff;
        font-size: 0.78rem;
        font-weight: 700;
        display: inline-grid;
        place-items: center;
      }
      .empty {
        padding: 32px 24px;
        color: var(--ink-soft);
        text-align: center;
        line-height: 1.5;
      }
    `,
  ];
}

customElements.define('sm-chat-list', ChatList);
