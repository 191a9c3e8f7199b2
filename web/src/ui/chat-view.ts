import '@lit-labs/virtualizer';
import type { LitVirtualizer } from '@lit-labs/virtualizer';
import { flow } from '@lit-labs/virtualizer/layouts/flow.js';
import { msg, str, updateWhenLocaleChanges } from '@lit/localize';
import { LitElement, type PropertyValues, css, html, nothing } from 'lit';
import type { ChatSummary, FileToSend, GroupEventView, MessageView } from '../api/protocol.ts';
import './attachment-view.ts';
import type { AttachmentLoader } from './attachment-view.ts';
import { FileProblem, prepareFile } from './files.ts';
import { avatarColour, dayKey, dayLabel, fullTime, initials, kindLabel, membersLabel, nameColour, roleLabel, timeOf } from './format.ts';
import { attachIcon, backIcon, checkIcon, clockIcon, closeIcon, deleteIcon, doubleCheckIcon, editIcon, infoIcon, lockIcon, moreIcon, replyIcon, sendIcon } from './icons.ts';
import { groupEventText } from './group-events.ts';
import { base } from './styles.ts';

type Row =
  | { kind: 'notice'; id: string }
  | { kind: 'more'; id: string }
  | { kind: 'day'; id: string; ts: number }
  | { kind: 'event'; id: string; e: GroupEventView }
  | { kind: 'msg'; id: string; m: MessageView; first: boolean };

/** Set once: a new layout object would make the virtualizer start over. */
const LAYOUT = flow();

/** The quick reactions of the message menu. */
const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];

export interface MessageRefDetail {
  group: string;
  bucket: number;
  key: string;
}

export interface ReactDetail extends MessageRefDetail {
  emoji: string | null;
}

export interface EditDetail extends MessageRefDetail {
  text: string;
}

export interface SendDetail {
  group: string;
  text: string;
  replyTo?: { bucket: number; key: string };
}

/** A message with files: the app posts it and calls `filesSent` when it is through (or `sendFailed`). */
export interface SendFilesDetail extends SendDetail {
  files: FileToSend[];
}

/** How the chat gets an attachment's bytes: the app asks the worker. */
export type LoadAttachment = (ref: { group: string; bucket: number; key: string; id: string }) => ReturnType<AttachmentLoader>;

/** At most this many files go in one message (the content schema allows 16). */
const MAX_FILES_PER_MESSAGE = 10;

/** Rows a chat shows when it opens (the newest screenful and a little more); the older loaded rows follow when idle. */
const FIRST_ROWS = 24;

/** The newest `FIRST_ROWS` rows, headed by the day separator of the first of them. */
function newestRows(all: Row[]): Row[] {
  if (all.length <= FIRST_ROWS + 2) return all;
  const rows = all.slice(-FIRST_ROWS);
  const first = rows[0]!;
  if (first.kind === 'msg') {
    const day = all.findLast((r, i) => r.kind === 'day' && i < all.length - FIRST_ROWS);
    if (day) rows.unshift(day);
  }
  return rows;
}

const whenIdle = (fn: () => void): void => {
  if (typeof requestIdleCallback === 'function') requestIdleCallback(fn, { timeout: 1_000 });
  else setTimeout(fn, 50);
};

/** One chat: header, the virtualized message list with day separators, and the composer. */
export class ChatView extends LitElement {
  static override properties = {
    chat: { attribute: false },
    messages: { attribute: false },
    events: { attribute: false },
    hasMore: { type: Boolean },
    loaded: { type: Boolean },
    replyTo: { state: true },
    editing: { state: true },
    sendError: { state: true },
    menu: { state: true },
    sending: { state: true },
    uploaded: { state: true },
    staged: { state: true },
    loadAttachment: { attribute: false },
  };
  declare sending: boolean;
  /** Files picked, dropped or pasted for the next message, each with a preview URL for images. */
  declare staged: { file: FileToSend; url?: string }[];
  /** Percent of the files uploaded, while sending. */
  declare uploaded: number | undefined;
  declare loadAttachment: LoadAttachment | undefined;
  declare chat: ChatSummary | undefined;
  declare messages: MessageView[];
  /** Changes of the group over the time of the messages, shown between them. */
  declare events: GroupEventView[];
  declare hasMore: boolean;
  declare loaded: boolean;
  declare replyTo: MessageView | undefined;
  declare editing: MessageView | undefined;
  declare sendError: string;
  /** The message whose action menu is open: its row id, where it opens, and whether it asks to confirm a delete. */
  declare menu: { id: string; up: boolean; confirm: boolean } | undefined;

  private rows: Row[] = [];
  private stickToBottom = true;
  private lastGroup = '';
  private anchorKey: string | undefined;
  private loadingMore = false;
  /** Only the newest rows are given to the list (a chat just opened): the first frame lays out a screenful, not 60+ messages. */
  private partial = true;
  /** The newest rows of the chat just opened are on screen (before that, scroll events are the list's own layout). */
  private firstShown = false;

  constructor() {
    super();
    updateWhenLocaleChanges(this);
    this.chat = undefined;
    this.messages = [];
    this.events = [];
    this.hasMore = false;
    this.loaded = false;
    this.replyTo = undefined;
    this.editing = undefined;
    this.sendError = '';
    this.menu = undefined;
    this.staged = [];
    // Files dragged onto the chat are staged for the next message.
    this.addEventListener('dragover', (e) => {
      if (this.chat?.canPost && e.dataTransfer?.types.includes('Files')) e.preventDefault();
    });
    this.addEventListener('drop', (e) => this.onDrop(e));
  }

  private get list(): LitVirtualizer<Row> | null {
    return this.renderRoot.querySelector<LitVirtualizer<Row>>('lit-virtualizer');
  }

  private get textarea(): HTMLTextAreaElement | null {
    return this.renderRoot.querySelector('textarea');
  }

  /** Puts the keyboard focus into the composer (after opening a chat). */
  focusComposer(): void {
    this.textarea?.focus();
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('chat') && this.chat?.id !== this.lastGroup) {
      this.lastGroup = this.chat?.id ?? '';
      this.stickToBottom = true;
      this.replyTo = undefined;
      this.editing = undefined;
      this.menu = undefined;
      this.sendError = '';
      // Files staged for another chat do not follow into this one.
      if (!this.sending) this.clearStaged();
      this.partial = true;
      this.firstShown = false;
    } else if (changed.has('messages')) {
      const el = this.list;
      if (el) this.stickToBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 120;
    }
    if (changed.has('messages') || changed.has('events') || changed.has('chat') || changed.has('hasMore')) {
      const all = this.buildRows();
      this.rows = this.partial ? newestRows(all) : all;
    }
  }

  protected override async updated(changed: PropertyValues<this>): Promise<void> {
    if (!changed.has('messages') && !changed.has('chat')) return;
    if (this.anchorKey) {
      // More history arrived above: keep the message that was on top where it was.
      const index = this.rows.findIndex((r) => r.id === this.anchorKey);
      this.anchorKey = undefined;
      this.loadingMore = false;
      if (index >= 0) await this.reveal(index, 'start');
      return;
    }
    if (this.stickToBottom && this.rows.length > 0) await this.reveal(this.rows.length - 1, 'end');
    if (this.partial && this.messages.length > 0) {
      this.firstShown = true;
      const group = this.lastGroup;
      whenIdle(() => {
        if (this.lastGroup === group) void this.showAllRows();
      });
    }
  }

  /** Gives the list every loaded row (after the newest screenful), keeping what is on screen where it was. */
  private async showAllRows(): Promise<void> {
    if (!this.partial) return;
    this.partial = false;
    const top = this.rows.find((r) => r.kind === 'msg')?.id;
    const all = this.buildRows();
    if (all.length === this.rows.length) return;
    const el = this.list;
    const atBottom = !el || el.scrollHeight - el.scrollTop - el.clientHeight < 120;
    this.rows = all;
    this.requestUpdate();
    await this.updateComplete;
    if (atBottom) await this.reveal(this.rows.length - 1, 'end');
    else if (top) await this.reveal(Math.max(0, this.rows.findIndex((r) => r.id === top)), 'start');
  }

  /**
   * Scrolls a row into view. The virtualizer pins its layout to that row until the user scrolls, so the newest
   * message stays at the bottom while rows above are measured. The virtualizer takes the new rows in its own update,
   * after this one, and starts its layout asynchronously: until it knows the row, try again on the next frames (on a
   * slow machine this takes many; giving up early left a chat opened at its oldest loaded message).
   */
  private async reveal(index: number, block: 'start' | 'end'): Promise<void> {
    for (let attempt = 0; attempt < 120; attempt++) {
      const el = this.list;
      if (!el) return;
      await el.updateComplete;
      try {
        const row = el.element(index);
        if (row) {
          row.scrollIntoView({ block });
          return;
        }
      } catch {
        // no layout yet
      }
      await new Promise((r) => requestAnimationFrame(r));
    }
  }

  private buildRows(): Row[] {
    const rows: Row[] = [];
    if (!this.chat) return rows;
    if (this.hasMore) rows.push({ kind: 'more', id: 'more' });
    else rows.push({ kind: 'notice', id: 'notice' });
    let day = -1;
    let prev: MessageView | undefined;
    const dayOf = (ts: number) => {
      const d = dayKey(ts);
      if (d === day) return;
      rows.push({ kind: 'day', id: `day/${d}`, ts });
      day = d;
      prev = undefined;
    };
    // Messages and group changes in time order; a change before the oldest message of the page shows only when no
    // older page exists (else it belongs to that page).
    const events = this.events.filter((e) => !this.hasMore || (this.messages.length > 0 && e.ts >= this.messages[0]!.ts));
    let next = 0;
    for (const m of this.messages) {
      for (; next < events.length && events[next]!.ts <= m.ts; next++) {
        dayOf(events[next]!.ts);
        rows.push({ kind: 'event', id: `event/${events[next]!.id}`, e: events[next]! });
        prev = undefined;
      }
      dayOf(m.ts);
      const first = !prev || prev.authorAccount !== m.authorAccount || m.ts - prev.ts > 10 * 60_000;
      rows.push({ kind: 'msg', id: `${m.bucket}/${m.key}`, m, first });
      prev = m;
    }
    for (; next < events.length; next++) {
      dayOf(events[next]!.ts);
      rows.push({ kind: 'event', id: `event/${events[next]!.id}`, e: events[next]! });
    }
    return rows;
  }

  private onScroll(): void {
    const el = this.list;
    if (el && this.partial) {
      // Scrolled up before the older loaded rows were shown: show them first (they may be enough).
      if (this.firstShown && el.scrollTop < 200) void this.showAllRows();
      return;
    }
    if (!el || !this.hasMore || this.loadingMore) return;
    if (el.scrollTop < 200) {
      this.loadingMore = true;
      this.anchorKey = this.rows.find((r) => r.kind === 'msg')?.id;
      this.dispatchEvent(new CustomEvent('load-more', { bubbles: true, composed: true }));
    }
  }

  private send(): void {
    const area = this.textarea;
    if (!area || !this.chat) return;
    const text = area.value.replace(/^\s+|\s+$/g, '');
    if (this.staged.length > 0 && !this.editing) {
      this.sendFiles(text);
      return;
    }
    if (!text) return;
    if (this.editing) {
      const m = this.editing;
      this.editing = undefined;
      area.value = '';
      if (text !== m.text) this.emit<EditDetail>('edit-message', { group: this.chat.id, bucket: m.bucket, key: m.key, text });
      return;
    }
    const detail: SendDetail = { group: this.chat.id, text, ...(this.replyTo ? { replyTo: { bucket: this.replyTo.bucket, key: this.replyTo.key } } : {}) };
    area.value = '';
    this.replyTo = undefined;
    this.sendError = '';
    this.stickToBottom = true;
    this.dispatchEvent(new CustomEvent<SendDetail>('send', { detail, bubbles: true, composed: true }));
  }

  private pickFile(): void {
    this.renderRoot.querySelector<HTMLInputElement>('input[type="file"]')?.click();
  }

  private onFilePicked(e: Event): void {
    const input = e.target as HTMLInputElement;
    const files = [...(input.files ?? [])];
    input.value = '';
    void this.stage(files);
  }

  /**
   * Files picked, dropped or pasted: checked and (images) downscaled here, then shown above the composer, where each
   * can be taken out again; they go with the composer's text as one message when it is sent.
   */
  private async stage(files: File[]): Promise<void> {
    if (files.length === 0 || !this.chat || this.sending || this.editing) return;
    this.sendError = '';
    const room = MAX_FILES_PER_MESSAGE - this.staged.length;
    if (files.length > room) this.sendError = msg(str`Höchstens ${MAX_FILES_PER_MESSAGE} Dateien in einer Nachricht.`, { id: 'att.error.too-many' });
    for (const file of files.slice(0, Math.max(0, room))) {
      try {
        const prepared = await prepareFile(file);
        const url = prepared.mime.startsWith('image/') ? URL.createObjectURL(new Blob([new Uint8Array(prepared.bytes)], { type: prepared.mime })) : undefined;
        this.staged = [...this.staged, { file: prepared, ...(url ? { url } : {}) }];
      } catch (error) {
        const code = error instanceof FileProblem ? error.code : 'unreadable';
        this.sendError =
          code === 'unsupported'
            ? msg('Diese Datei kann nicht gesendet werden. Möglich sind Bilder (JPEG, PNG, WebP, GIF) und PDF-Dateien.', { id: 'att.error.unsupported' })
            : code === 'too-large'
              ? msg('Die Datei ist zu groß. Möglich sind höchstens 10 MB.', { id: 'att.error.too-large' })
              : msg('Die Datei konnte nicht gelesen werden.', { id: 'att.error.unreadable' });
      }
    }
    this.textarea?.focus();
  }

  private unstage(index: number): void {
    const [gone] = this.staged.slice(index, index + 1);
    if (gone?.url) URL.revokeObjectURL(gone.url);
    this.staged = this.staged.filter((_, i) => i !== index);
    this.textarea?.focus();
  }

  private clearStaged(): void {
    for (const s of this.staged) if (s.url) URL.revokeObjectURL(s.url);
    this.staged = [];
  }

  /** Sends the staged files with the composer's text as one message; they stay staged until it is through. */
  private sendFiles(text: string): void {
    if (!this.chat || this.sending) return;
    const area = this.textarea;
    if (area) area.value = '';
    const detail: SendFilesDetail = {
      group: this.chat.id,
      text,
      files: this.staged.map((s) => s.file),
      ...(this.replyTo ? { replyTo: { bucket: this.replyTo.bucket, key: this.replyTo.key } } : {}),
    };
    this.replyTo = undefined;
    this.sending = true;
    this.stickToBottom = true;
    this.emit<SendFilesDetail>('send-files', detail);
  }

  /** Files dropped on the chat, or pasted into the composer, are staged like picked ones. */
  private onDrop(e: DragEvent): void {
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length === 0 || !this.chat?.canPost) return;
    e.preventDefault();
    void this.stage(files);
  }

  private onPaste(e: ClipboardEvent): void {
    const files = [...(e.clipboardData?.files ?? [])];
    if (files.length === 0) return;
    e.preventDefault();
    void this.stage(files);
  }

  /** The app calls this when a message with files is through. */
  filesSent(): void {
    this.sending = false;
    this.uploaded = undefined;
    this.clearStaged();
  }

  /** Upload progress of the message being sent (from the worker). */
  uploadProgress(done: number, total: number): void {
    if (this.sending) this.uploaded = total > 0 ? Math.floor((done / total) * 100) : undefined;
  }

  /** The app calls this when a send failed: the text comes back so nothing is lost. */
  sendFailed(text: string, reason: string): void {
    this.sending = false;
    this.uploaded = undefined;
    const area = this.textarea;
    if (area && !area.value) area.value = text;
    this.sendError = reason;
  }

  private onKeyDown(e: KeyboardEvent): void {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.send();
    } else if (e.key === 'Escape' && (this.replyTo || this.editing)) {
      this.replyTo = undefined;
      if (this.editing) this.cancelEdit();
    }
  }

  private emit<T>(type: string, detail: T): void {
    this.dispatchEvent(new CustomEvent<T>(type, { detail, bubbles: true, composed: true }));
  }

  private startReply(m: MessageView): void {
    this.closeMenu(false);
    this.editing = undefined;
    this.replyTo = m;
    this.updateComplete.then(() => this.focusComposer());
  }

  private startEdit(m: MessageView): void {
    this.closeMenu(false);
    this.replyTo = undefined;
    this.editing = m;
    this.updateComplete.then(() => {
      const area = this.textarea;
      if (!area) return;
      area.value = m.text;
      area.focus();
      area.setSelectionRange(area.value.length, area.value.length);
    });
  }

  private cancelEdit(): void {
    this.editing = undefined;
    const area = this.textarea;
    if (area) area.value = '';
  }

  private react(m: MessageView, emoji: string): void {
    this.closeMenu(true);
    const already = m.reactions.some((r) => r.mine && r.emoji === emoji);
    this.emit<ReactDetail>('react', { group: this.chat!.id, bucket: m.bucket, key: m.key, emoji: already ? null : emoji });
  }

  private deleteForEveryone(m: MessageView): void {
    this.closeMenu(true);
    this.emit<MessageRefDetail>('delete-message', { group: this.chat!.id, bucket: m.bucket, key: m.key });
  }

  private openMenu(id: string, button: HTMLElement): void {
    if (this.menu?.id === id) {
      this.closeMenu(true);
      return;
    }
    const list = this.list;
    const box = list?.getBoundingClientRect();
    const at = button.getBoundingClientRect();
    // Open upwards in the lower half of the list, so the menu stays inside it.
    const up = !!box && at.top - box.top > box.height / 2;
    this.menu = { id, up, confirm: false };
    this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>('.menu [role="menuitem"]')?.focus());
  }

  /** Closes the message menu; with `refocus`, the keyboard focus goes back to the button that opened it. */
  private closeMenu(refocus: boolean): void {
    const id = this.menu?.id;
    this.menu = undefined;
    if (refocus && id)
      this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`.line[data-id="${CSS.escape(id)}"] .more`)?.focus());
  }

  private onMenuKey(e: KeyboardEvent): void {
    const items = [...this.renderRoot.querySelectorAll<HTMLElement>('.menu [role="menuitem"]')];
    const index = items.indexOf(this.renderRoot.querySelector<HTMLElement>('.menu [role="menuitem"]:focus') ?? (e.target as HTMLElement));
    let next = -1;
    if (e.key === 'ArrowDown' || e.key === 'ArrowRight') next = (index + 1) % items.length;
    else if (e.key === 'ArrowUp' || e.key === 'ArrowLeft') next = (index - 1 + items.length) % items.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = items.length - 1;
    else if (e.key === 'Escape' || e.key === 'Tab') {
      e.preventDefault();
      this.closeMenu(true);
      return;
    }
    if (next < 0) return;
    e.preventDefault();
    items[next]!.focus();
  }

  private renderMenu(m: MessageView) {
    const menu = this.menu!;
    if (menu.confirm)
      return html`<div class="menu ${menu.up ? 'up' : ''}" role="menu" aria-label=${msg('Nachricht für alle löschen?', { id: 'msg.delete-confirm' })} @keydown=${this.onMenuKey}>
        <p class="menu-title" aria-hidden="true">${msg('Nachricht für alle löschen?', { id: 'msg.delete-confirm' })}</p>
        <button role="menuitem" class="item danger" @click=${() => this.deleteForEveryone(m)}>${deleteIcon}${msg('Löschen', { id: 'msg.delete-yes' })}</button>
        <button role="menuitem" class="item" @click=${() => this.closeMenu(true)}>${msg('Abbrechen', { id: 'chat.cancel-reply' })}</button>
      </div>`;
    return html`<div class="menu ${menu.up ? 'up' : ''}" role="menu" aria-label=${msg('Aktionen', { id: 'msg.actions' })} @keydown=${this.onMenuKey}>
      ${this.chat?.canPost
        ? html`<div class="emoji-row" role="group" aria-label=${msg('Reagieren', { id: 'msg.react' })}>
            ${QUICK_REACTIONS.map(
              (emoji) => html`<button
                role="menuitem"
                class="emoji ${m.reactions.some((r) => r.mine && r.emoji === emoji) ? 'chosen' : ''}"
                aria-label=${msg(str`Reagieren mit ${emoji}`, { id: 'msg.react-with' })}
                @click=${() => this.react(m, emoji)}
              >
                ${emoji}
              </button>`,
            )}
          </div>
          <button role="menuitem" class="item" @click=${() => this.startReply(m)}>${replyIcon}${msg('Antworten', { id: 'msg.reply' })}</button>`
        : nothing}
      ${m.mine && !m.deleted
        ? html`<button role="menuitem" class="item" @click=${() => this.startEdit(m)}>${editIcon}${msg('Bearbeiten', { id: 'msg.edit' })}</button>
            <button
              role="menuitem"
              class="item danger"
              @click=${() => {
                this.menu = { ...menu, confirm: true };
                this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>('.menu [role="menuitem"]')?.focus());
              }}
            >
              ${deleteIcon}${msg('Für alle löschen', { id: 'msg.delete' })}
            </button>`
        : nothing}
    </div>`;
  }

  private renderRow(row: Row) {
    switch (row.kind) {
      case 'more':
        return html`<div class="system"><span class="pill">${msg('Ältere Nachrichten werden geladen …', { id: 'chat.loading-more' })}</span></div>`;
      case 'notice':
        return html`<div class="system">
          <span class="pill notice">${lockIcon}<span
              >${this.chat?.retentionDays === 1
                ? msg('Ende-zu-Ende-verschlüsselt. Nachrichten werden nach einem Tag gelöscht.', { id: 'chat.retention-one' })
                : msg(str`Ende-zu-Ende-verschlüsselt. Nachrichten werden nach ${this.chat?.retentionDays ?? 14} Tagen gelöscht.`, { id: 'chat.retention' })}</span
            ></span
          >
        </div>`;
      case 'day':
        return html`<div class="system day" role="separator" aria-label=${dayLabel(row.ts)}><span class="pill" aria-hidden="true">${dayLabel(row.ts)}</span></div>`;
      case 'event':
        return html`<div class="system event"><span class="pill event">${groupEventText(row.e)} · <time datetime=${new Date(row.e.ts).toISOString()}>${timeOf(row.e.ts)}</time></span></div>`;
      case 'msg':
        return this.renderMessage(row.m, row.first);
      default:
        return nothing;
    }
  }

  private renderStatus(m: MessageView) {
    if (!m.mine) return nothing;
    if (m.pending)
      return html`<span class="state pending" title=${msg('Wartet auf die Schule', { id: 'msg.pending' })}>${clockIcon}<span class="sr-only"
          >${msg('Wartet auf die Schule', { id: 'msg.pending' })}</span
        ></span>`;
    if (m.readBy > 0)
      return html`<span class="state read" title=${msg('Gelesen', { id: 'msg.read' })}>${doubleCheckIcon}<span class="sr-only">${msg('Gelesen', { id: 'msg.read' })}</span></span>`;
    return html`<span class="state sent" title=${msg('Bei der Schule angekommen', { id: 'msg.sent' })}>${checkIcon}<span class="sr-only"
        >${msg('Bei der Schule angekommen', { id: 'msg.sent' })}</span
      ></span>`;
  }

  private renderMessage(m: MessageView, first: boolean) {
    const group = this.chat?.kind !== 'direct';
    const showName = group && !m.mine && first;
    const who = m.mine ? msg('Du', { id: 'list.you' }) : m.authorName;
    const id = `${m.bucket}/${m.key}`;
    const open = this.menu?.id === id;
    return html`<div class="line ${m.mine ? 'mine' : 'theirs'} ${first ? 'first' : ''} ${open ? 'menu-open' : ''}" data-id=${id}>
      <article class="bubble" aria-label=${`${who}, ${timeOf(m.ts)}`}>
        ${showName
          ? html`<span class="author" style="color:${nameColour(m.authorAccount)}"
              >${m.authorName}${m.authorRole === 'teacher' ? html`<span class="tag">${roleLabel('teacher')}</span>` : nothing}${m.partnerSchool
                ? html`<span class="tag school">${m.partnerSchool}</span>`
                : nothing}</span
            >`
          : nothing}
        ${m.replyTo
          ? html`<div class="quote"><span class="quote-author">${m.replyTo.authorName}</span><span class="quote-text">${m.replyTo.text || '…'}</span></div>`
          : nothing}
        ${m.attachments && this.chat
          ? m.attachments.map((a) => {
              const ref = { group: this.chat!.id, bucket: m.bucket, key: m.key, id: a.id };
              return html`<sm-attachment .att=${a} .load=${() => this.loadAttachment?.(ref) ?? Promise.reject(new Error('no loader'))}></sm-attachment>`;
            })
          : nothing}
        ${m.deleted
          ? html`<p class="text deleted">${msg('Diese Nachricht wurde gelöscht.', { id: 'msg.deleted' })}</p>`
          : m.text || !m.attachments
            ? html`<p class="text">${m.text}</p>`
            : nothing}
        <span class="meta">
          ${m.editedAt ? html`<span>${msg('bearbeitet', { id: 'msg.edited' })}</span>` : nothing}
          <time datetime=${new Date(m.ts).toISOString()} title=${fullTime(m.ts)}>${timeOf(m.ts)}</time>
          ${this.renderStatus(m)}
        </span>
        ${m.reactions.length > 0
          ? html`<span class="reactions">${m.reactions.map(
              (r) =>
                html`<button
                  class=${r.mine ? 'reaction mine' : 'reaction'}
                  aria-pressed=${r.mine ? 'true' : 'false'}
                  aria-label=${msg(str`Reaktion ${r.emoji}, ${r.count}`, { id: 'msg.reaction-count' })}
                  ?disabled=${!this.chat?.canPost}
                  @click=${() => this.react(m, r.emoji)}
                >
                  ${r.emoji} ${r.count}
                </button>`,
            )}</span>`
          : nothing}
      </article>
      ${!m.deleted && (this.chat?.canPost || m.mine)
        ? html`<div class="actions">
            <button
              class="icon-button more"
              aria-label=${msg(str`Aktionen für die Nachricht von ${who}`, { id: 'msg.actions-for' })}
              aria-haspopup="menu"
              aria-expanded=${open ? 'true' : 'false'}
              @click=${(e: Event) => this.openMenu(id, e.currentTarget as HTMLElement)}
            >
              ${moreIcon}
            </button>
            ${open ? this.renderMenu(m) : nothing}
          </div>`
        : nothing}
    </div>`;
  }

  private renderComposer() {
    const chat = this.chat!;
    if (chat.removed)
      return html`<div class="composer-note removed" role="status">
        <p>${msg(str`${chat.removed.by} hat dich aus der Gruppe entfernt. Du kannst die bisherigen Nachrichten lesen, aber nicht mehr schreiben.`, { id: 'chat.removed' })}</p>
        <button class="link-button" @click=${() => this.dispatchEvent(new CustomEvent('dismiss-chat', { detail: chat.id, bubbles: true, composed: true }))}>
          ${msg('Chat aus der Liste entfernen', { id: 'chat.dismiss' })}
        </button>
      </div>`;
    if (chat.awaitingApproval)
      return html`<p class="composer-note">${msg('Dieses Gerät ist noch nicht bestätigt. Öffne „Meine Geräte“ auf einem anderen deiner Geräte und bestätige es dort; dann siehst du hier alle Nachrichten.', { id: 'chat.awaiting-approval' })}</p>`;
    if (!chat.canRead) return html`<p class="composer-note">${msg('Dieses Gerät wartet noch auf die Schlüssel der Gruppe. Das dauert nur einen Moment, wenn jemand aus der Gruppe online ist.', { id: 'chat.waiting-keys' })}</p>`;
    if (!chat.canPost)
      return html`<p class="composer-note">${msg('Nur Lehrkräfte können in dieser Gruppe schreiben.', { id: 'chat.read-only' })}</p>`;
    return html`<div class="composer-wrap">
      ${this.replyTo
        ? html`<div class="reply-bar">
            <div class="quote">
              <span class="quote-author">${this.replyTo.mine ? msg('Du', { id: 'list.you' }) : this.replyTo.authorName}</span
              ><span class="quote-text">${this.replyTo.text}</span>
            </div>
            <button class="link-button" @click=${() => (this.replyTo = undefined)}>${msg('Abbrechen', { id: 'chat.cancel-reply' })}</button>
          </div>`
        : nothing}
      ${this.editing
        ? html`<div class="reply-bar">
            <div class="quote edit">
              <span class="quote-author">${editIcon}${msg('Nachricht bearbeiten', { id: 'chat.editing' })}</span><span class="quote-text">${this.editing.text}</span>
            </div>
            <button class="link-button" @click=${() => this.cancelEdit()}>${msg('Abbrechen', { id: 'chat.cancel-reply' })}</button>
          </div>`
        : nothing}
      ${this.sendError ? html`<p class="send-error" role="alert">${this.sendError}</p>` : nothing}
      ${this.sending
        ? html`<p class="sending" role="status">
            ${msg('Datei wird verschlüsselt und gesendet …', { id: 'att.sending' })}
            ${this.uploaded !== undefined
              ? html`<progress max="100" value=${this.uploaded} aria-label=${msg('Hochgeladen', { id: 'att.uploaded' })}></progress> ${this.uploaded} %`
              : nothing}
          </p>`
        : nothing}
      ${this.staged.length > 0
        ? html`<ul class="staged" aria-label=${msg('Anhänge für die nächste Nachricht', { id: 'att.staged' })}>
            ${this.staged.map(
              (s, i) => html`<li>
                ${s.url ? html`<img src=${s.url} alt="" />` : html`<span class="doc" aria-hidden="true">PDF</span>`}
                <span class="staged-name">${s.file.name}</span>
                <button
                  class="icon-button remove"
                  type="button"
                  ?disabled=${this.sending}
                  aria-label=${msg(str`${s.file.name} entfernen`, { id: 'att.unstage' })}
                  title=${msg(str`${s.file.name} entfernen`, { id: 'att.unstage' })}
                  @click=${() => this.unstage(i)}
                >
                  ${closeIcon}
                </button>
              </li>`,
            )}
          </ul>`
        : nothing}
      <form
        class="composer"
        @submit=${(e: Event) => {
          e.preventDefault();
          this.send();
        }}
      >
        <button
          class="icon-button attach"
          type="button"
          aria-label=${msg('Bild oder PDF anhängen', { id: 'att.attach' })}
          title=${msg('Bild oder PDF anhängen', { id: 'att.attach' })}
          ?disabled=${this.sending || !!this.editing}
          @click=${() => this.pickFile()}
        >
          ${attachIcon}
        </button>
        <input type="file" hidden multiple accept="image/jpeg,image/png,image/webp,image/gif,application/pdf" @change=${this.onFilePicked} />
        <textarea
          rows="1"
          aria-label=${msg(str`Nachricht an ${chat.name}`, { id: 'chat.composer-label' })}
          placeholder=${msg('Nachricht schreiben', { id: 'chat.composer-placeholder' })}
          aria-describedby="composer-hint"
          @keydown=${this.onKeyDown}
          @paste=${this.onPaste}
        ></textarea>
        <span id="composer-hint" class="sr-only">${msg('Enter sendet, Umschalt+Enter beginnt eine neue Zeile.', { id: 'chat.composer-hint' })}</span>
        <button
          class="send"
          type="submit"
          aria-label=${this.editing ? msg('Speichern', { id: 'chat.save' }) : msg('Senden', { id: 'chat.send' })}
          title=${this.editing ? msg('Speichern', { id: 'chat.save' }) : msg('Senden', { id: 'chat.send' })}
        >
          ${this.editing ? checkIcon : sendIcon}
        </button>
      </form>
    </div>`;
  }

  override render() {
    const chat = this.chat;
    if (!chat)
      return html`<div class="placeholder">
        <div>
          ${lockIcon}
          <h2>${msg('Schoolmesh', { id: 'app.name' })}</h2>
          <p>${msg('Wähle links einen Chat aus.', { id: 'chat.pick' })}</p>
          <p class="small">${msg('Ende-zu-Ende-verschlüsselt. Deine Nachrichten liegen nur auf den Geräten deiner Gruppe.', { id: 'chat.pick-privacy' })}</p>
        </div>
      </div>`;
    return html`
      <header class="bar">
        <a class="icon-button back" href="#" aria-label=${msg('Zurück zu den Chats', { id: 'chat.back' })}>${backIcon}</a>
        <span class="avatar small" style="background:${avatarColour(chat.id)}" aria-hidden="true">${initials(chat.name)}</span>
        <div class="title">
          <h1 id="chat-title">${chat.name}</h1>
          <span class="sub">${kindLabel(chat.kind)} · ${membersLabel(chat.members)}</span>
        </div>
        <button
          class="icon-button info"
          aria-label=${msg('Gruppeninfo', { id: 'chat.info' })}
          title=${msg('Gruppeninfo', { id: 'chat.info' })}
          @click=${() => this.dispatchEvent(new CustomEvent('show-info', { detail: chat.id, bubbles: true, composed: true }))}
        >
          ${infoIcon}
        </button>
      </header>
      <lit-virtualizer
        scroller
        class="log"
        role="log"
        aria-labelledby="chat-title"
        tabindex="0"
        .layout=${LAYOUT}
        .items=${this.rows}
        .keyFunction=${(r: Row) => r.id}
        .renderItem=${(r: Row) => this.renderRow(r)}
        @scroll=${this.onScroll}
      ></lit-virtualizer>
      ${this.loaded && this.messages.length === 0 && chat.canRead
        ? html`<p class="empty">${msg('Noch keine Nachrichten. Schreib die erste!', { id: 'chat.empty' })}</p>`
        : nothing}
      ${this.renderComposer()}
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
        background: var(--chat-bg);
        position: relative;
      }
      .bar {
        display: flex;
        align-items: center;
        gap: 12px;
        padding: 10px 16px 10px 8px;
        min-height: 64px;
        background: var(--panel-alt);
        border-bottom: 1px solid var(--line);
      }
      .title {
        display: grid;
        min-width: 0;
      }
      h1 {
        margin: 0;
        font-size: 1.08rem;
        white-space: nowrap;
        overflow: hidden;
        text-overflow: ellipsis;
      }
      .sub {
        color: var(--ink-soft);
        font-size: 0.85rem;
      }
      .log {
        flex: 1;
        min-height: 0;
        padding: 8px 0 12px;
        background-color: var(--chat-bg);
        background-image: radial-gradient(rgba(11, 110, 99, 0.06) 1px, transparent 1px);
        background-size: 18px 18px;
      }
      .log:focus-visible {
        outline-offset: -3px;
        border-radius: 0;
      }
      .system {
        display: flex;
        justify-content: center;
        width: 100%;
        padding: 8px 16px;
      }
      .pill {
        display: inline-flex;
        align-items: center;
        gap: 6px;
        background: #fff;
        color: var(--ink-soft);
        font-size: 0.8rem;
        padding: 5px 12px;
        border-radius: 8px;
        box-shadow: 0 1px 0.5px rgba(0, 0, 0, 0.13);
        text-align: center;
        max-width: 520px;
      }
      .pill.notice {
        background: var(--warn-bg);
        color: var(--warn-ink);
      }
      .pill .icon {
        width: 14px;
        height: 14px;
      }
      .day .pill {
        text-transform: none;
        font-weight: 500;
      }
      .pill.event {
        display: inline-block;
        background: #eef3f2;
        color: var(--ink);
        line-height: 1.4;
      }
      .line {
        display: flex;
        align-items: center;
        gap: 4px;
        width: 100%;
        padding: 1px 5% 1px 16px;
      }
      .line.first {
        padding-top: 8px;
      }
      .line.mine {
        flex-direction: row-reverse;
        padding: 1px 16px 1px 5%;
      }
      .line.mine.first {
        padding-top: 8px;
      }
      .bubble {
        position: relative;
        max-width: min(560px, 78%);
        padding: 6px 9px 6px 10px;
        border-radius: 10px;
        background: var(--bubble-other);
        box-shadow: 0 1px 0.5px rgba(0, 0, 0, 0.13);
        overflow-wrap: anywhere;
      }
      .mine .bubble {
        background: var(--bubble-own);
      }
      .first.theirs .bubble {
        border-top-left-radius: 2px;
      }
      .first.mine .bubble {
        border-top-right-radius: 2px;
      }
      .author {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 6px;
        font-weight: 600;
        font-size: 0.86rem;
        margin-bottom: 2px;
      }
      .tag {
        font-weight: 500;
        font-size: 0.72rem;
        color: var(--ink-soft);
        border: 1px solid var(--line);
        border-radius: 6px;
        padding: 0 5px;
      }
      .tag.school {
        color: #1c5a9e;
        border-color: #b7cbe6;
      }
      .text {
        margin: 0;
        white-space: pre-wrap;
        line-height: 1.38;
        font-size: 0.96rem;
        display: inline;
      }
      .text.deleted {
        font-style: italic;
        color: var(--ink-soft);
      }
      .meta {
        float: right;
        display: inline-flex;
        align-items: center;
        gap: 3px;
        margin: 6px 0 -3px 12px;
        color: var(--ink-soft);
        font-size: 0.72rem;
        line-height: 1;
        position: relative;
        top: 4px;
      }
      .state .icon {
        width: 16px;
        height: 16px;
      }
      .state.read {
        color: #1c5a9e;
      }
      .quote {
        display: grid;
        border-left: 4px solid var(--brand);
        background: rgba(0, 0, 0, 0.05);
        border-radius: 6px;
        padding: 4px 8px;
        margin: 2px 0 4px;
        font-size: 0.85rem;
      }
      .quote-author {
        color: var(--brand-strong);
        font-weight: 600;
      }
      .quote-text {
        color: var(--ink-soft);
        white-space: nowrap;
        overflow: hidden;
        text-overflow: ellipsis;
      }
      .reactions {
        display: flex;
        gap: 4px;
        clear: both;
        margin-top: 4px;
      }
      .reaction {
        font: inherit;
        background: #fff;
        border: 1px solid var(--line);
        border-radius: 12px;
        padding: 1px 7px;
        font-size: 0.8rem;
        cursor: pointer;
        color: var(--ink);
      }
      .reaction.mine {
        border-color: var(--brand);
        background: var(--brand-soft);
      }
      .reaction[disabled] {
        cursor: default;
      }
      .actions {
        position: relative;
        flex: none;
        align-self: flex-start;
      }
      .more {
        width: 32px;
        height: 32px;
        opacity: 0;
      }
      .more .icon {
        width: 20px;
        height: 20px;
      }
      .line:hover .more,
      .line:focus-within .more,
      .line.menu-open .more {
        opacity: 1;
      }
      @media (hover: none) {
        .more {
          opacity: 0.7;
        }
      }
      .line.menu-open {
        z-index: 10;
      }
      .menu {
        position: absolute;
        top: 34px;
        z-index: 20;
        min-width: 220px;
        padding: 6px;
        background: #fff;
        border-radius: 12px;
        box-shadow: 0 6px 24px rgba(0, 0, 0, 0.18);
        display: grid;
        gap: 2px;
      }
      .menu.up {
        top: auto;
        bottom: 34px;
      }
      .theirs .menu {
        left: 0;
      }
      .mine .menu {
        right: 0;
      }
      .menu-title {
        margin: 6px 10px;
        font-weight: 600;
        font-size: 0.92rem;
      }
      .emoji-row {
        display: flex;
        justify-content: space-between;
        padding: 2px 2px 6px;
        border-bottom: 1px solid var(--line);
        margin-bottom: 4px;
      }
      .emoji {
        font-size: 1.35rem;
        width: 36px;
        height: 36px;
        border: none;
        background: none;
        border-radius: 50%;
        cursor: pointer;
        line-height: 1;
      }
      .emoji:hover,
      .emoji.chosen {
        background: var(--brand-soft);
      }
      .item {
        display: flex;
        align-items: center;
        gap: 12px;
        border: none;
        background: none;
        text-align: left;
        padding: 8px 10px;
        border-radius: 8px;
        cursor: pointer;
        font-size: 0.95rem;
      }
      .item .icon {
        width: 20px;
        height: 20px;
        color: var(--ink-soft);
      }
      .item:hover {
        background: var(--panel-alt);
      }
      .item.danger,
      .item.danger .icon {
        color: var(--danger);
      }
      .quote.edit .quote-author {
        display: inline-flex;
        align-items: center;
        gap: 6px;
      }
      .quote.edit .icon {
        width: 16px;
        height: 16px;
      }
      .staged {
        list-style: none;
        display: flex;
        gap: 8px;
        margin: 0;
        padding: 8px 16px 0;
        overflow-x: auto;
        background: var(--panel-alt);
      }
      .staged li {
        position: relative;
        flex: none;
        width: 96px;
        display: grid;
        gap: 4px;
        justify-items: center;
      }
      .staged img,
      .staged .doc {
        width: 96px;
        height: 72px;
        object-fit: cover;
        border-radius: 8px;
        border: 1px solid var(--line);
        background: #fff;
      }
      .staged .doc {
        display: grid;
        place-items: center;
        font-weight: 700;
        color: var(--danger);
      }
      .staged-name {
        width: 100%;
        font-size: 0.75rem;
        white-space: nowrap;
        overflow: hidden;
        text-overflow: ellipsis;
        text-align: center;
      }
      .staged .remove {
        position: absolute;
        top: -6px;
        right: -6px;
        width: 28px;
        height: 28px;
        background: #fff;
        border: 1px solid var(--line);
        border-radius: 50%;
      }
      .composer-wrap {
        background: var(--panel-alt);
        border-top: 1px solid var(--line);
      }
      .reply-bar {
        display: flex;
        align-items: center;
        gap: 8px;
        padding: 8px 16px 0;
      }
      .reply-bar .quote {
        flex: 1;
        min-width: 0;
        margin: 0;
      }
      .composer {
        display: flex;
        align-items: flex-end;
        gap: 8px;
        padding: 8px 12px;
      }
      textarea {
        flex: 1;
        font: inherit;
        font-size: 1rem;
        line-height: 1.4;
        resize: none;
        field-sizing: content;
        min-height: 44px;
        max-height: 160px;
        padding: 10px 16px;
        border: 1px solid #c9d3d0;
        border-radius: 22px;
        background: #fff;
        color: var(--ink);
      }
      textarea:focus-visible {
        outline-offset: 0;
        border-radius: 22px;
      }
      .send {
        display: inline-grid;
        place-items: center;
        flex: none;
        width: 44px;
        height: 44px;
        border-radius: 50%;
        border: none;
        background: var(--brand);
        color: #fff;
        cursor: pointer;
      }
      .send:hover {
        background: var(--brand-strong);
      }
      .send:focus-visible {
        border-radius: 50%;
      }
      .sending {
        margin: 8px 16px 0;
        color: var(--ink-soft);
        font-size: 0.9rem;
      }
      .attach {
        flex: none;
        align-self: center;
      }
      .send-error {
        margin: 8px 16px 0;
        color: var(--danger);
        font-size: 0.9rem;
      }
      .composer-note {
        margin: 0;
        padding: 14px 20px;
        text-align: center;
        color: var(--ink-soft);
        background: var(--panel-alt);
        border-top: 1px solid var(--line);
        font-size: 0.92rem;
      }
      .composer-note.removed {
        background: var(--warn-bg);
        color: var(--warn-ink);
      }
      .composer-note.removed p {
        margin: 0 0 6px;
      }
      .empty {
        position: absolute;
        top: 50%;
        left: 0;
        right: 0;
        text-align: center;
        color: var(--ink-soft);
        margin: 0;
        pointer-events: none;
      }
      @media (min-width: 760px) {
        .back {
          display: none;
        }
        .bar {
          padding-left: 16px;
        }
      }
      .placeholder {
        flex: 1;
        display: grid;
        place-items: center;
        text-align: center;
        background: var(--panel-alt);
        color: var(--ink-soft);
        border-bottom: 6px solid var(--brand);
        padding: 24px;
      }
      .placeholder .icon {
        width: 48px;
        height: 48px;
        color: var(--brand);
      }
      .placeholder h2 {
        color: var(--ink);
        font-size: 1.6rem;
        font-weight: 400;
        margin: 12px 0;
      }
      .placeholder .small {
        font-size: 0.85rem;
        max-width: 420px;
      }
    `,
  ];
}

customElements.define('sm-chat', ChatView);
