import { msg, updateWhenLocaleChanges } from '@lit/localize';
import { LitElement, css, html, nothing } from 'lit';
import { EngineCallError, EngineClient } from '../api/client.ts';
import type { AppEvent, ChatSummary, ConnectionStatus, GroupEventView, GroupInfo, MessageView, Opened, Person, ProfileSummary } from '../api/protocol.ts';
import type { NewGroup } from './new-chat.ts';
import './chat-list.ts';
import './chat-view.ts';
import type { ChatView, EditDetail, MessageRefDetail, ReactDetail, SendDetail, SendFilesDetail } from './chat-view.ts';
import './enroll-view.ts';
import './profile-picker.ts';
import './unlock-view.ts';
import { AutoLockController } from './auto-lock.ts';
import { base } from './styles.ts';

type View = 'loading' | 'enroll' | 'profiles' | 'unlock' | 'chats';

const TAB_PROFILE = 'schoolmesh.profile';
const LAST_PROFILE = 'schoolmesh.lastProfile';
const PAGE = 60;

function readHash(): { enroll?: string; chat?: string; admin?: boolean } {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const out: { enroll?: string; chat?: string; admin?: boolean } = {};
  if (params.has('admin')) out.admin = true;
  const enroll = params.get('enroll');
  const chat = params.get('chat');
  if (enroll) out.enroll = enroll;
  if (chat) out.chat = chat;
  return out;
}

function storageGet(store: 'local' | 'session', key: string): string | null {
  try {
    return (store === 'local' ? localStorage : sessionStorage).getItem(key);
  } catch {
    return null;
  }
}

function storageSet(store: 'local' | 'session', key: string, value: string | null): void {
  try {
    const s = store === 'local' ? localStorage : sessionStorage;
    if (value === null) s.removeItem(key);
    else s.setItem(key, value);
  } catch {
    // private mode: the choice lasts for this page
  }
}

/** The app shell: which screen shows, and the data each screen gets from the engine worker. */
export class App extends LitElement {
  static override properties = {
    view: { state: true },
    profiles: { state: true },
    profile: { state: true },
    chats: { state: true },
    chatsLoaded: { state: true },
    status: { state: true },
    selected: { state: true },
    messages: { state: true },
    messagesLoaded: { state: true },
    hasMore: { state: true },
    events: { state: true },
    enrollCode: { state: true },
    schoolName: { state: true },
    methods: { state: true },
    fatal: { state: true },
    canAskNotify: { state: true },
    dialog: { state: true },
    admin: { state: true },
  };
  declare view: View;
  declare profiles: ProfileSummary[];
  declare profile: ProfileSummary | undefined;
  declare chats: ChatSummary[];
  declare chatsLoaded: boolean;
  declare status: ConnectionStatus;
  declare selected: string;
  declare messages: MessageView[];
  declare messagesLoaded: boolean;
  declare hasMore: boolean;
  /** The open chat's group changes over the time its messages cover. */
  declare events: GroupEventView[];
  declare enrollCode: string;
  declare schoolName: string;
  /** Sign-in methods the school offers besides codes ('ldap': the school password). */
  declare methods: string[];
  declare fatal: string;
  /** The browser can show notifications and has not been asked yet. */
  declare canAskNotify: boolean;
  /** The open dialog (its module is loaded on first use): group info, or the people search of "Neuer Chat". */
  declare dialog: { kind: 'info'; info: GroupInfo } | { kind: 'new-chat'; people: Person[]; mayCreateGroups: boolean; error: string; busy: boolean } | { kind: 'devices' } | { kind: 'remove'; profile: ProfileSummary } | undefined;
  /** The admin console is open (`#admin`, admin profiles only; its code loads on first use). */
  declare admin: boolean;

  private client: EngineClient | undefined;
  /** Locks the profile after a stretch without input (the setting is in "Meine Geräte"). */
  private readonly autoLock = new AutoLockController(this, () => void this.lockNow());
  private min = PAGE;
  private chatsRun: Promise<void> | undefined;
  private chatsAgain = false;
  private messagesRun: Promise<void> | undefined;
  private messagesAgain = false;
  /** Direct WebRTC links (web/src/direct/): loaded after the chat list shows, so the first load stays small. */
  private direct: Promise<{ stop(): void } | undefined> | undefined;

  constructor() {
    super();
    updateWhenLocaleChanges(this);
    this.view = 'loading';
    this.profiles = [];
    this.profile = undefined;
    this.chats = [];
    this.chatsLoaded = false;
    this.status = { state: 'connecting' };
    this.selected = '';
    this.messages = [];
    this.messagesLoaded = false;
    this.hasMore = false;
    this.events = [];
    this.enrollCode = '';
    this.schoolName = '';
    this.methods = [];
    this.fatal = '';
    this.canAskNotify = typeof Notification === 'function' && Notification.permission === 'default';
    this.dialog = undefined;
    this.admin = false;
  }

  private showAdmin(wanted: boolean): void {
    this.admin = wanted && this.profile?.role === 'admin';
    if (this.admin) void import('./admin/admin-console.ts');
  }

  override connectedCallback(): void {
    super.connectedCallback();
    addEventListener('hashchange', this.onHash);
    document.addEventListener('visibilitychange', this.onVisible);
    void this.start();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    removeEventListener('hashchange', this.onHash);
    document.removeEventListener('visibilitychange', this.onVisible);
  }

  private call: EngineClient['call'] = (method, ...args) => {
    if (!this.client) return Promise.reject(new Error('engine worker not started'));
    return this.client.call(method, ...args);
  };

  private async start(): Promise<void> {
    try {
      this.client = EngineClient.connect();
    } catch (error) {
      this.fatal = (error as Error).message;
      return;
    }
    this.client.on((e) => this.onEvent(e));
    void fetch('/api/school')
      .then((r) => (r.ok ? (r.json() as Promise<{ school: { name: string }; methods?: unknown }>) : undefined))
      .then((info) => {
        if (!info) return;
        this.schoolName = info.school.name;
        if (Array.isArray(info.methods)) this.methods = info.methods.filter((m): m is string => typeof m === 'string');
      })
      .catch(() => {});
    try {
      this.profiles = await this.call('profiles');
    } catch (error) {
      this.fatal = msg('Schoolmesh konnte nicht starten. Lade die Seite neu; hilft das nicht, ist dieser Browser zu alt.', { id: 'app.fatal' });
      console.error(error);
      return;
    }
    const { enroll } = readHash();
    if (enroll) return this.showEnroll(enroll);
    // This tab's profile (kept across a reload), else the one used last in this browser.
    const wanted = this.profiles.find((p) => p.id === (storageGet('session', TAB_PROFILE) ?? storageGet('local', LAST_PROFILE)));
    if (wanted) {
      try {
        // Still unlocked in the shared engine worker (another tab, or this one before a reload)?
        await this.enterProfile(await this.call('resume', { profile: wanted.id }));
      } catch {
        this.showUnlock(wanted);
      }
    } else this.view = this.profiles.length > 0 ? 'profiles' : 'enroll';
  }

  private showUnlock(profile: ProfileSummary): void {
    this.stopDirectLinks();
    this.autoLock.watching = false;
    this.dialog = undefined;
    this.profile = profile;
    this.chats = [];
    this.selected = '';
    this.messages = [];
    this.events = [];
    this.view = 'unlock';
  }

  private showEnroll(code = ''): void {
    this.enrollCode = code;
    this.view = 'enroll';
    if (readHash().enroll) history.replaceState(null, '', location.pathname + location.search);
  }

  private async enterProfile({ profile, status }: Opened): Promise<void> {
    this.profile = profile;
    this.status = status;
    storageSet('session', TAB_PROFILE, profile.id);
    storageSet('local', LAST_PROFILE, profile.id);
    this.chats = [];
    this.chatsLoaded = false;
    this.view = 'chats';
    this.showAdmin(readHash().admin === true);
    this.autoLock.watching = true;
    await this.loadChats();
    this.select(readHash().chat ?? '');
    this.startDirectLinks(profile.id);
  }

  private startDirectLinks(profile: string): void {
    this.stopDirectLinks();
    const client = this.client;
    if (client) this.direct = import('../direct/index.ts').then((m) => m.startDirectLinks(client, profile), () => undefined);
  }

  private stopDirectLinks(): void {
    void this.direct?.then((d) => d?.stop());
    this.direct = undefined;
  }

  /** Locks the profile (its key is forgotten, its engine stops) and shows the profile picker. */
  /** Auto-lock: the profile locks everywhere (every tab shows the PIN screen), this tab asks for the PIN again. */
  private async lockNow(): Promise<void> {
    const profile = this.profile;
    if (!profile || this.view !== 'chats') return;
    await this.call('lock').catch(() => {});
    history.replaceState(null, '', location.pathname + location.search);
    this.showUnlock(profile);
  }

  private async switchProfile(): Promise<void> {
    this.stopDirectLinks();
    this.autoLock.watching = false;
    this.dialog = undefined;
    await this.call('lock');
    storageSet('session', TAB_PROFILE, null);
    this.profile = undefined;
    this.chats = [];
    this.selected = '';
    this.messages = [];
    this.events = [];
    history.replaceState(null, '', location.pathname + location.search);
    this.profiles = await this.call('profiles');
    this.view = 'profiles';
  }

  private onHash = (): void => {
    const { enroll, chat, admin } = readHash();
    if (enroll) {
      this.showEnroll(enroll);
      return;
    }
    if (this.view === 'chats') {
      this.showAdmin(admin === true);
      this.select(chat ?? '');
    }
  };

  private onVisible = (): void => {
    if (document.visibilityState === 'visible') this.maybeMarkRead();
  };

  private onEvent(e: AppEvent): void {
    if (e.type === 'status') this.status = e.status;
    else if (e.type === 'chats') void this.loadChats();
    else if (e.type === 'messages' && e.group === this.selected) void this.loadMessages();
    else if (e.type === 'profiles') void this.call('profiles').then((p) => (this.profiles = p));
    else if (e.type === 'upload' && e.group === this.selected) this.renderRoot.querySelector<ChatView>('sm-chat')?.uploadProgress(e.done, e.total);
    else if (e.type === 'locked' && this.profile?.id === e.profile && this.view === 'chats') {
      // Locked from another tab.
      history.replaceState(null, '', location.pathname + location.search);
      this.showUnlock(this.profile);
    }
  }

  /** Runs one load at a time and once more if asked again meanwhile (events come in bursts). */
  private loadChats(): Promise<void> {
    if (this.chatsRun) {
      this.chatsAgain = true;
      return this.chatsRun;
    }
    this.chatsRun = (async () => {
      do {
        this.chatsAgain = false;
        try {
          const before = this.chats;
          this.chats = await this.call('chats');
          if (this.chatsLoaded) this.notify(before, this.chats);
          this.chatsLoaded = true;
        } catch {
          // the profile was closed meanwhile
        }
      } while (this.chatsAgain);
      this.chatsRun = undefined;
      this.updateTitle();
      this.maybeMarkRead();
    })();
    return this.chatsRun;
  }

  private loadMessages(): Promise<void> {
    if (this.messagesRun) {
      this.messagesAgain = true;
      return this.messagesRun;
    }
    this.messagesRun = (async () => {
      do {
        this.messagesAgain = false;
        const group = this.selected;
        if (!group) break;
        try {
          const page = await this.call('messages', { group, min: this.min });
          if (page.group !== this.selected) continue;
          this.messages = page.messages;
          this.events = page.events;
          this.hasMore = page.hasMore;
          this.messagesLoaded = true;
        } catch {
          // left the group, or the profile closed
        }
      } while (this.messagesAgain);
      this.messagesRun = undefined;
    })();
    return this.messagesRun;
  }

  private select(id: string): void {
    const known = this.chats.some((c) => c.id === id);
    const next = known ? id : '';
    if (next === this.selected) return;
    this.selected = next;
    this.messages = [];
    this.events = [];
    this.messagesLoaded = false;
    this.hasMore = false;
    this.min = PAGE;
    if (!next) return;
    void this.loadMessages().then(async () => {
      this.maybeMarkRead();
      const view = this.renderRoot.querySelector<ChatView>('sm-chat');
      await view?.updateComplete;
      view?.focusComposer();
    });
  }

  private maybeMarkRead(): void {
    if (!this.selected || document.visibilityState !== 'visible') return;
    const chat = this.chats.find((c) => c.id === this.selected);
    if (chat && chat.unread > 0) void this.call('markRead', { group: chat.id }).catch(() => {});
  }

  /** Desktop notifications while the app is hidden: one per chat whose unread count grew (replacing older ones). */
  private notify(before: ChatSummary[], after: ChatSummary[]): void {
    if (document.visibilityState !== 'hidden' || typeof Notification !== 'function' || Notification.permission !== 'granted') return;
    const was = new Map(before.map((c) => [c.id, c.unread]));
    for (const chat of after) {
      if (chat.unread <= (was.get(chat.id) ?? 0) || !chat.last || chat.last.mine) continue;
      const body = chat.last.deleted ? msg('Diese Nachricht wurde gelöscht.', { id: 'msg.deleted' }) : chat.last.text;
      const n = new Notification(chat.name, { body: chat.kind === 'direct' ? body : `${chat.last.authorName}: ${body}`, tag: chat.id, icon: '/icon.svg', lang: document.documentElement.lang });
      n.onclick = () => {
        window.focus();
        location.hash = `chat=${encodeURIComponent(chat.id)}`;
        n.close();
      };
    }
  }

  private async askNotify(): Promise<void> {
    await Notification.requestPermission().catch(() => 'denied');
    this.canAskNotify = false;
  }

  private updateTitle(): void {
    const unread = this.chats.reduce((n, c) => n + c.unread, 0);
    document.title = unread > 0 ? `(${unread}) Schoolmesh` : 'Schoolmesh';
  }

  private readonly loadAttachment = (ref: { group: string; bucket: number; key: string; id: string }) => this.call('attachment', ref);

  private async onSend(e: CustomEvent<SendDetail>): Promise<void> {
    const { group, text, replyTo } = e.detail;
    try {
      await this.call('post', { group, text, ...(replyTo ? { replyTo } : {}) });
    } catch (error) {
      const reason =
        error instanceof EngineCallError && error.code === 'forbidden'
          ? msg('Du darfst in dieser Gruppe nicht schreiben.', { id: 'chat.error.forbidden' })
          : msg('Die Nachricht konnte nicht gespeichert werden.', { id: 'chat.error.generic' });
      this.renderRoot.querySelector<ChatView>('sm-chat')?.sendFailed(text, reason);
    }
  }

  private async onSendFiles(e: CustomEvent<SendFilesDetail>): Promise<void> {
    const { group, text, files, replyTo } = e.detail;
    const view = () => this.renderRoot.querySelector<ChatView>('sm-chat');
    try {
      await this.call('postFiles', { group, text, files, ...(replyTo ? { replyTo } : {}) });
      view()?.filesSent();
    } catch (error) {
      const detail = error instanceof EngineCallError ? error.detail : undefined;
      const reason =
        detail === 'too-large'
          ? msg('Die Datei ist zu groß. Möglich sind höchstens 10 MB.', { id: 'att.error.too-large' })
          : detail === 'unsupported'
            ? msg('Diese Datei kann nicht gesendet werden. Möglich sind Bilder (JPEG, PNG, WebP, GIF) und PDF-Dateien.', { id: 'att.error.unsupported' })
            : msg('Die Datei konnte nicht gesendet werden.', { id: 'att.error.generic' });
      view()?.sendFailed(text, reason);
    }
  }

  /** Reactions, edits and deletions: the worker applies them; the list refreshes from its events. */
  private async change(run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch {
      this.renderRoot.querySelector<ChatView>('sm-chat')?.sendFailed('', msg('Die Änderung konnte nicht gespeichert werden.', { id: 'chat.error.change' }));
    }
  }

  /** Where the focus goes back to when a dialog closes. */
  private dialogOpener: HTMLElement | undefined;

  private rememberOpener(): void {
    let el = document.activeElement as HTMLElement | null;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement as HTMLElement;
    this.dialogOpener = el ?? undefined;
  }

  private closeDialog(): void {
    this.dialog = undefined;
    this.dialogOpener?.focus();
    this.dialogOpener = undefined;
  }

  /** Takes a chat this account was removed from off the list, and leaves it. */
  private async dismissChat(group: string): Promise<void> {
    try {
      await this.call('dismissChat', { group });
    } catch {
      return;
    }
    if (this.selected === group) location.hash = '';
    // The button went with the chat: the focus goes to the chat list.
    await this.updateComplete;
    this.renderRoot.querySelector('sm-chat-list')?.shadowRoot?.querySelector<HTMLElement>('a.chat, input[type="search"]')?.focus();
  }

  private async showInfo(group: string): Promise<void> {
    this.rememberOpener();
    const [info] = await Promise.all([this.call('groupInfo', { group }), import('./group-info.ts')]);
    this.dialog = { kind: 'info', info };
  }

  /** The school's directory for "Neuer Chat" (the worker asks the relay). */
  private readonly searchSchool = (query: string): Promise<Person[]> => this.call('schoolPeople', { query });

  private async showNewChat(): Promise<void> {
    this.rememberOpener();
    const [people, mayCreateGroups] = await Promise.all([this.call('people'), this.call('mayCreateGroups'), import('./new-chat.ts')]);
    this.dialog = { kind: 'new-chat', people, mayCreateGroups, error: '', busy: false };
  }

  private async showDevices(): Promise<void> {
    this.rememberOpener();
    await import('./my-devices.ts');
    this.dialog = { kind: 'devices' };
  }

  private async showRemove(profile: ProfileSummary): Promise<void> {
    this.rememberOpener();
    await import('./remove-profile.ts');
    this.dialog = { kind: 'remove', profile };
  }

  private async onProfileRemoved(): Promise<void> {
    this.dialogOpener = undefined;
    this.profiles = await this.call('profiles');
    if (!this.profiles.some((p) => p.id === storageGet('local', LAST_PROFILE))) storageSet('local', LAST_PROFILE, null);
    if (this.profiles.length === 0) this.view = 'enroll';
  }

  /** Opens (or starts) the direct chat with the person picked in "Neuer Chat"; a refusal shows in the dialog. */
  private async startDirect(person: Person): Promise<void> {
    const d = this.dialog;
    if (d?.kind !== 'new-chat' || d.busy) return;
    this.dialog = { ...d, busy: true, error: '' };
    try {
      const { group } = await this.call('openDirect', { account: person.account });
      await this.loadChats();
      this.dialog = undefined;
      this.dialogOpener = undefined;
      location.hash = `chat=${encodeURIComponent(group)}`;
    } catch (error) {
      const refused = error instanceof EngineCallError && error.detail === 'direct-refused';
      const reason = refused
        ? msg('Deine Schule erlaubt diesen Direktchat nicht (zum Beispiel Chats zwischen Schülerinnen und Schülern).', { id: 'new.refused' })
        : msg('Der Chat konnte nicht geöffnet werden.', { id: 'new.failed' });
      this.dialog = { ...d, busy: false, error: reason };
    }
  }

  /** Creates the group of "Neue Gruppe" and opens it; a refusal shows in the dialog. */
  private async createGroup(input: NewGroup): Promise<void> {
    const d = this.dialog;
    if (d?.kind !== 'new-chat' || d.busy) return;
    this.dialog = { ...d, busy: true, error: '' };
    try {
      const { group } = await this.call('createGroup', input);
      await this.loadChats();
      this.dialog = undefined;
      this.dialogOpener = undefined;
      location.hash = `chat=${encodeURIComponent(group)}`;
    } catch (error) {
      const refused = error instanceof EngineCallError && error.detail === 'group-refused';
      const reason = refused
        ? msg('Deine Schule erlaubt dir nicht, Gruppen zu erstellen.', { id: 'group.new.refused' })
        : msg('Die Gruppe konnte nicht erstellt werden.', { id: 'group.new.failed' });
      this.dialog = { ...d, busy: false, error: reason };
    }
  }

  private renderDialog() {
    const d = this.dialog;
    if (d?.kind === 'info') return html`<sm-group-info .info=${d.info} @close=${this.closeDialog}></sm-group-info>`;
    if (d?.kind === 'devices') return html`<sm-my-devices .client=${this.client} @close=${this.closeDialog}></sm-my-devices>`;
    if (d?.kind === 'remove')
      return html`<sm-remove-profile .client=${this.client} .profile=${d.profile} @removed=${this.onProfileRemoved} @close=${this.closeDialog}></sm-remove-profile>`;
    if (d?.kind === 'new-chat')
      return html`<sm-new-chat
        .people=${d.people}
        .searchSchool=${this.searchSchool}
        .mayCreateGroups=${d.mayCreateGroups}
        error=${d.error}
        ?busy=${d.busy}
        @pick-person=${(e: CustomEvent<Person>) => this.startDirect(e.detail)}
        @create-group=${(e: CustomEvent<NewGroup>) => this.createGroup(e.detail)}
        @close=${this.closeDialog}
      ></sm-new-chat>`;
    return nothing;
  }

  private async onEnrolled(e: CustomEvent<Opened>): Promise<void> {
    // A pupil's offline messages must not be evicted: ask the browser to keep this site's storage.
    void navigator.storage?.persist?.().catch(() => false);
    this.profiles = await this.call('profiles');
    await this.enterProfile(e.detail);
  }

  override render() {
    if (this.fatal) return html`<main class="fatal"><h1>Schoolmesh</h1><p role="alert">${this.fatal}</p></main>`;
    switch (this.view) {
      case 'loading':
        return html`<main class="loading" aria-busy="true"><span class="sr-only">${msg('Wird geladen …', { id: 'app.loading' })}</span></main>`;
      case 'enroll':
        return html`<sm-enroll
          .client=${this.client}
          .code=${this.enrollCode}
          school-name=${this.schoolName}
          .methods=${this.methods}
          ?can-go-back=${this.profiles.length > 0}
          @enrolled=${this.onEnrolled}
          @back=${() => (this.view = 'profiles')}
        ></sm-enroll>`;
      case 'profiles':
        return html`<sm-profiles
            .profiles=${this.profiles}
            @pick=${(e: CustomEvent<ProfileSummary>) => this.showUnlock(e.detail)}
            @add=${() => this.showEnroll()}
            @remove=${(e: CustomEvent<ProfileSummary>) => this.showRemove(e.detail)}
          ></sm-profiles>
          ${this.renderDialog()}`;
      case 'unlock':
        return html`<sm-unlock
          .client=${this.client}
          .profile=${this.profile}
          @unlocked=${(e: CustomEvent<Opened>) => this.enterProfile(e.detail)}
          @back=${() => (this.view = this.profiles.length > 0 ? 'profiles' : 'enroll')}
        ></sm-unlock>`;
      case 'chats': {
        if (this.admin) return html`<sm-admin-console .client=${this.client}></sm-admin-console>`;
        const chat = this.chats.find((c) => c.id === this.selected);
        return html`<main class="shell" data-open=${chat ? 'chat' : 'list'}>
          <sm-chat-list
            .chats=${this.chats}
            .profile=${this.profile}
            .status=${this.status}
            selected=${this.selected}
            ?loaded=${this.chatsLoaded}
            ?can-ask-notify=${this.canAskNotify}
            @switch-profile=${this.switchProfile}
            @ask-notify=${this.askNotify}
            @new-chat=${this.showNewChat}
            @my-devices=${this.showDevices}
          ></sm-chat-list>
          ${this.profile?.role === 'admin' ? html`<a class="admin-link" href="#admin">${msg('Schulverwaltung', { id: 'admin.title' })}</a>` : ''}
          <section class="main" aria-label=${chat ? chat.name : msg('Chat', { id: 'app.chat-pane' })}>
            <sm-chat
              .chat=${chat}
              .messages=${this.messages}
              .events=${this.events}
              .hasMore=${this.hasMore}
              ?loaded=${this.messagesLoaded}
              @send=${this.onSend}
              @send-files=${this.onSendFiles}
              .loadAttachment=${this.loadAttachment}
              @show-info=${(e: CustomEvent<string>) => this.showInfo(e.detail)}
              @dismiss-chat=${(e: CustomEvent<string>) => this.dismissChat(e.detail)}
              @react=${(e: CustomEvent<ReactDetail>) => this.change(() => this.call('react', e.detail))}
              @edit-message=${(e: CustomEvent<EditDetail>) => this.change(() => this.call('edit', e.detail))}
              @delete-message=${(e: CustomEvent<MessageRefDetail>) => this.change(() => this.call('deleteMessage', e.detail))}
              @load-more=${() => {
                this.min += PAGE;
                void this.loadMessages();
              }}
            ></sm-chat>
          </section>
        </main>
        ${this.renderDialog()}`;
      }
    }
  }

  static override styles = [
    base,
    css`
      :host {
        display: block;
        height: 100%;
      }
      .shell {
        display: grid;
        grid-template-columns: minmax(300px, 400px) 1fr;
        height: 100%;
        max-width: 1600px;
        margin: 0 auto;
        background: var(--panel);
        box-shadow: 0 0 24px rgba(0, 0, 0, 0.08);
      }
      sm-chat-list {
        border-right: 1px solid var(--line);
        min-height: 0;
      }
      .shell {
        position: relative;
      }
      .admin-link {
        position: absolute;
        left: 1rem;
        bottom: 0.75rem;
        padding: 0.35rem 0.7rem;
        border-radius: 8px;
        background: var(--panel);
        border: 1px solid var(--line);
        color: var(--brand-strong);
        font-size: 0.9rem;
      }
      .main {
        min-width: 0;
        min-height: 0;
        display: flex;
        flex-direction: column;
      }
      sm-chat {
        flex: 1;
        min-height: 0;
      }
      @media (max-width: 759px) {
        .shell {
          grid-template-columns: 1fr;
        }
        .shell[data-open='chat'] sm-chat-list,
        .shell[data-open='list'] .main {
          display: none;
        }
        sm-chat-list {
          border-right: none;
        }
      }
      .loading,
      .fatal {
        display: grid;
        place-items: center;
        height: 100%;
      }
    `,
  ];
}

customElements.define('sm-app', App);
