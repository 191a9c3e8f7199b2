/**
 * The typed message API between the UI (main thread) and the engine worker (a SharedWorker where the browser has
 * one, a dedicated Worker otherwise). Every request names a method of `EngineApi`; the worker answers with the
 * method's result or an `ApiError`. Events flow the other way, only for the profile a port has opened: a tab
 * never receives anything of a profile it did not open.
 */
import type { AccountDevice } from '@schoolmesh/client/account';

export type GroupKind = 'class' | 'department' | 'club' | 'custom' | 'direct' | 'announcement';

/** A profile: one enrolled device identity of one person, with its own IndexedDB database. */
export interface ProfileSummary {
  id: string;
  displayName: string;
  account: string;
  role: string;
  schoolName: string;
  createdAt: number;
}

/** The link to the school's relay, as the UI shows it. */
export interface ConnectionStatus {
  /**
   * 'online': a sync session with the relay is up; 'connecting': first dial; 'offline': waiting to retry;
   * 'refused': the relay refuses this device (revoked, or its certificate ended): it must be enrolled again.
   */
  state: 'online' | 'connecting' | 'offline' | 'refused';
  /** Catch-up after (re)connecting: entries received of those announced; absent once caught up. */
  sync?: { received: number; expected: number };
  /** Devices of this profile's groups with a direct (WebRTC) sync session now; absent when none. */
  direct?: number;
}

export interface ChatSummary {
  id: string;
  name: string;
  kind: GroupKind;
  members: number;
  /** This device may post (announcement groups: teachers only). */
  canPost: boolean;
  /** The group keys reached this device (until then, the chat shows a waiting note). */
  canRead: boolean;
  /** This device is not in the group yet and another device of the account is: it must approve this one. */
  awaitingApproval?: boolean;
  /** This account was removed from the group (by whom): the chat stays readable, nothing can be written. */
  removed?: { by: string };
  retentionDays: number;
  last?: { text: string; authorName: string; ts: number; mine: boolean; deleted: boolean };
  unread: number;
}

export interface MessageView {
  key: string;
  bucket: number;
  authorName: string;
  /** `account@school`, or '' when the author is not (or no longer) known. */
  authorAccount: string;
  authorRole: string;
  /** The author's school, when it is a partner school (a school badge in the UI). */
  partnerSchool?: string;
  mine: boolean;
  text: string;
  ts: number;
  editedAt?: number;
  deleted: boolean;
  /** Written on this device and not yet acknowledged by the relay. */
  pending: boolean;
  replyTo?: { bucket: number; key: string; authorName: string; text: string };
  reactions: { emoji: string; count: number; mine: boolean }[];
  /** How many other members' devices have read up to (at least) this message. */
  readBy: number;
  /** Files sent with the message (their keys stay in the worker; the UI asks for the bytes by id). */
  attachments?: AttachmentView[];
}

/** An attachment as the UI sees it: what to show before its bytes are fetched. */
export interface AttachmentView {
  id: string;
  name: string;
  mime: string;
  /** Plaintext bytes. */
  size: number;
}

/** A file to send: already checked and (for images) downscaled by the page. */
export interface FileToSend {
  name: string;
  mime: string;
  bytes: Uint8Array;
}

/**
 * A change of the group, shown between the messages at its time ("Frau Schmidt hat Lukas hinzugefügt"): every
 * addition of a member or of a further device is visible to the group (docs/threat-model.md).
 */
export interface GroupEventView {
  /** The membership op's id. */
  id: string;
  ts: number;
  type: 'created' | 'added' | 'removed' | 'left' | 'role' | 'policy' | 'renamed' | 'device-added' | 'device-removed';
  /** Who did it (display name); `byMe`: this account. */
  by: string;
  byMe: boolean;
  /** Whom it concerns (added, removed, role, devices); `targetMe`: this account. */
  target?: string;
  targetMe?: boolean;
  /** The group role given ('role', 'added'). */
  role?: string;
  /** The group's name ('created', 'renamed'). */
  name?: string;
  /** What a policy change changed, of what members notice. */
  retentionDays?: number;
  whoMayPost?: 'members' | 'moderators';
  readReceipts?: boolean;
}

export interface MessagePage {
  group: string;
  messages: MessageView[];
  /** The group's changes in the time the page covers (older ones come with older pages). */
  events: GroupEventView[];
  /** Older live buckets exist that this page did not include. */
  hasMore: boolean;
}

/** A member of a group as the group info shows it. */
export interface MemberView {
  /** `account@school`. */
  account: string;
  /** From the member's device certificates; the account id while no device of the member is known. */
  name: string;
  /** The school role (pupil, teacher, ...) from the certificates; '' while unknown. */
  role: string;
  /** `manager`: the school's directory sync account, which manages the membership and never reads. */
  groupRole: 'manager' | 'owner' | 'moderator' | 'member' | 'reader';
  /** The member's school, when it is a partner school. */
  partnerSchool?: string;
  me: boolean;
}

export interface GroupInfo {
  id: string;
  name: string;
  kind: GroupKind;
  retentionDays: number;
  whoMayPost: 'members' | 'moderators';
  readReceipts: boolean;
  members: MemberView[];
  /** This account's devices listed in the group (this one included). */
  myDevices: number;
}

/** Someone this device knows from its groups, for the people search of "Neuer Chat". */
export interface Person {
  account: string;
  name: string;
  role: string;
  partnerSchool?: string;
  /** The direct chat with this person, when there is one already. */
  direct?: string;
  /** The school's policy lets this account start a direct chat with them. */
  mayMessage: boolean;
}

/** One device of this account, as the school's relay knows it ("Meine Geräte"): the account protocol's record. */
export type MyDevice = AccountDevice & {
  /** A device of this account missing from chats this device is in: it reads them once approved ("Bestätigen"). */
  awaitingApproval?: boolean;
};

/** A one-time code that enrolls another device of this account (device approval), valid for a few minutes. */
export interface ApprovalCode {
  code: string;
  expiresAt: number;
  /** The enrollment link (…/#enroll=CODE) and its QR code as an SVG document (shown as an image only). */
  url?: string;
  qrSvg?: string;
}

export interface Opened {
  profile: ProfileSummary;
  status: ConnectionStatus;
}

/** What the worker can do. Arguments are one plain object (structured-cloneable), results too. */
export interface EngineApi {
  /** Every profile in this browser (names only: their data stays closed). */
  profiles(): ProfileSummary[];
  /**
   * Enrolls a new device at the relay this app came from — with a one-time code, or signing in with the school's
   * user name and password (`signIn`, method 'ldap', where /api/school offers it) — creating a profile whose data is
   * encrypted under `pin` (a PIN or passphrase), and opens it for this port.
   */
  enroll(args: { code: string; pin: string } | { signIn: { method: string; username: string; password: string }; pin: string }): Opened;
  /** Unlocks a profile with its PIN for this port (tab): its engine starts, events for it flow to this port. */
  open(args: { profile: string; pin: string }): Opened;
  /** Attaches this port to a profile that is unlocked already (another tab, or before a reload); else 'locked'. */
  resume(args: { profile: string }): Opened;
  /** Locks this port's profile everywhere: its engine stops, its key is forgotten, every tab showing it is told. */
  lock(): null;
  /** Deletes a profile with all its data from this browser; its PIN must be given ('wrong-pin' else). */
  removeProfile(args: { profile: string; pin: string }): null;
  status(): ConnectionStatus;
  chats(): ChatSummary[];
  /** Takes a chat this account was removed from off the list on this device ('forbidden' for any other chat). */
  dismissChat(args: { group: string }): null;
  /** The newest messages of a group: at least `min` (default 60) if the live buckets hold that many. */
  messages(args: { group: string; min?: number }): MessagePage;
  post(args: { group: string; text: string; replyTo?: { bucket: number; key: string } }): { key: string; bucket: number };
  /**
   * Posts a message with files: sealed in the worker under fresh keys, uploaded to the relay, then the message.
   * Fails with 'attachment' (detail: too-large, offline, refused) and posts nothing.
   */
  postFiles(args: { group: string; text: string; files: FileToSend[]; replyTo?: { bucket: number; key: string } }): { key: string; bucket: number };
  /** The verified bytes of one attachment of a message (from this device's store, or downloaded from the relay). */
  attachment(args: { group: string; bucket: number; key: string; id: string }): { name: string; mime: string; bytes: Uint8Array };
  /** Sets this device's reaction to a message (null removes it); one reaction per person and message. */
  react(args: { group: string; bucket: number; key: string; emoji: string | null }): null;
  /** Replaces the text of one of this device's own messages. */
  edit(args: { group: string; bucket: number; key: string; text: string }): null;
  /** Deletes one of this device's own messages for everyone. */
  deleteMessage(args: { group: string; bucket: number; key: string }): null;
  /** The user has seen the group up to now: clears its unread count and sends a read receipt. */
  markRead(args: { group: string }): null;
  /**
   * Direct links (web/src/direct/): the page's link node is up under this libp2p peer id. Resolves once the relay
   * took the announcement, with this device's id (the lower id of two dials) and the relay's WebSocket addresses.
   */
  directAnnounce(args: { link: string }): { self: string; relay: string[] };
  /** A direct link's byte pipe (transferred): the worker runs Noise with the device key and a sync session over it. */
  directAttach(args: { port: MessagePort; initiator: boolean; device?: string }): null;
  /** Name, kind, policy and members (with roles and partner-school badges) of a group. */
  groupInfo(args: { group: string }): GroupInfo;
  /** The people this device knows from its groups (not this account), sorted by name. */
  people(): Person[];
  /**
   * The school's directory at the relay: people this account may write to directly, matching `query` (needs the
   * link to the relay; 'account' with detail 'unreachable' else).
   */
  schoolPeople(args: { query: string }): Person[];
  /**
   * Opens the direct chat with `account`, creating it if there is none; 'forbidden' (detail 'direct-refused') when
   * the school's policy does not allow it.
   */
  openDirect(args: { account: string }): { group: string; created: boolean };
  /** Whether the school lets this account create groups (`whoMayCreateGroups`). */
  mayCreateGroups(): boolean;
  /**
   * Creates a group (custom, or announcement: only owners and moderators post) with the picked people as members;
   * 'forbidden' (detail 'group-refused') when the school's policy does not allow it, 'bad-request' for a bad name.
   */
  createGroup(args: { name: string; announcement: boolean; members: string[] }): { group: string };
  /** This account's devices, from the relay (needs the link to the relay; 'account' with detail 'unreachable' else). */
  myDevices(): MyDevice[];
  renameDevice(args: { device: string; name: string }): null;
  /** Revokes a device of this account: the relay drops it within seconds. */
  revokeDevice(args: { device: string }): null;
  /**
   * Asks the relay for a short-lived one-time code for a new device of this account; the device that enrolls with it
   * is approved into this device's chats by itself.
   */
  approvalCode(): ApprovalCode;
  /** Approves another device of this account into the chats this device is in; how many chats it was added to. */
  approveDevice(args: { device: string }): { groups: number };
  /**
   * Admin profiles only: one call of the relay's admin API (`/api/admin/…`), signed by this device's key in the
   * worker (the key never reaches the page). Fails with 'forbidden' for other roles, 'admin' with the relay's reason.
   */
  adminRequest(args: { method: 'GET' | 'POST' | 'PUT'; path: string; body?: Record<string, unknown> }): unknown;
  /**
   * Admin profiles only: the relay's audit log, verified in the worker (chain, signatures, signed head) against the
   * last head this profile verified (`anchoredAt`), which then moves on.
   */
  adminAudit(): AuditCheckView;
}

export type Method = keyof EngineApi;
export type ArgsOf<M extends Method> = Parameters<EngineApi[M]>;
export type ResultOf<M extends Method> = ReturnType<EngineApi[M]>;

export type ErrorCode =
  | 'no-profile'
  | 'unknown-profile'
  | 'wrong-pin'
  | 'locked'
  | 'unknown-group'
  | 'enroll'
  | 'forbidden'
  | 'closed'
  | 'bad-request'
  | 'attachment'
  | 'account'
  | 'admin'
  | 'internal';

export interface ApiError {
  code: ErrorCode;
  /**
   * For enrollment: the relay's error code (unknown-code, expired-code, too-many-attempts, unreachable, ...); for
   * 'account': the account protocol's (not-yours, too-many-codes, unreachable, ...); for 'admin', the HTTP status.
   */
  detail?: string;
  /** For 'wrong-pin': how long the next attempt has to wait. */
  retryAfterMs?: number;
  message: string;
}

export type Request = { [M in Method]: { kind: 'request'; id: number; method: M; args: ArgsOf<M> } }[Method];

export type Response = { kind: 'response'; id: number; ok: true; value: unknown } | { kind: 'response'; id: number; ok: false; error: ApiError };

export type AppEvent =
  | { type: 'chats' }
  | { type: 'messages'; group: string }
  | { type: 'status'; status: ConnectionStatus }
  | { type: 'profiles' }
  | { type: 'locked'; profile: string }
  /** The devices sharing a group with this one whose direct-link node is announced (from the relay's presence). */
  | { type: 'direct-peers'; self: string; peers: { device: string; link: string }[] }
  /** Sealed bytes of a message's files uploaded so far (at most every 5 %). */
  | { type: 'upload'; group: string; done: number; total: number };

export interface EventMessage {
  kind: 'event';
  event: AppEvent;
}

export type FromWorker = Response | EventMessage;
export type ToWorker = Request | { kind: 'bye' };

/** The audit log as an admin's device checked it (web/src/worker/audit-anchor.ts). */
export interface AuditCheckView {
  entries: { seq: number; time: number; action: string; body: string; actor: { kind: 'operator' } | { kind: 'device'; account: string; device: string } }[];
  verdict: { ok: true; entries: number } | { ok: false; at: number; problem: string };
  anchoredAt?: number;
}
