import * as Y from 'yjs';
import { authorPrefix, clientIdFor, docNameFor } from './ids.ts';
import {
  type Attachment,
  type MessageRef,
  type MessageValue,
  type ReadValue,
  checkMessageValue,
  checkReactionValue,
  checkReadValue,
  isEmoji,
  isMessageKey,
  messageKey,
  parseKey,
  reactionKey,
  readKey,
} from './schema.ts';
import { ROOT, type ValidateOptions, validateUpdate } from './validate.ts';

/** Thrown for operations the content rules forbid, and for rejected remote updates (`reason` says why). */
export class ContentError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'ContentError';
  }
}

/** One message as the UI shows it. */
export interface ChatMessage {
  key: string;
  bucket: number;
  authorClientId: number;
  /** The author's device id, if the caller passed a map of known client ids. */
  author?: string;
  text: string;
  ts: number;
  replyTo?: MessageRef;
  attachments: Attachment[];
  editedAt?: number;
  deleted: boolean;
  /** emoji → client ids that reacted with it, ascending. */
  reactions: Record<string, number[]>;
  /** Client ids whose read marker is at or after this message, ascending. */
  readBy: number[];
}

/** A reaction stored in this bucket to a message of another bucket. */
export interface ForeignReaction {
  target: MessageRef;
  emoji: string;
  authorClientId: number;
}

export interface ReadMarker {
  clientId: number;
  key: string;
  ts: number;
}

export interface PostInput {
  text: string;
  /** A message of this bucket (its key) or of any bucket. */
  replyTo?: string | MessageRef;
  attachments?: Attachment[];
}

/** Transaction origin of remote applies; local transactions have `transaction.local === true`. */
const REMOTE = Symbol('schoolmesh/content remote');

/**
 * Yjs re-rolls `doc.clientID` when a non-local transaction advances the clock of the doc's own client id (an echo of
 * our own updates, or a reload from storage). During remote applies the doc runs under this id, which no validated
 * update can carry, and gets its real one back afterwards.
 */
const APPLYING_CLIENT_ID = 0;

function compareMessages(a: { ts: number; key: string }, b: { ts: number; key: string }): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** One group's content for one bucket (UTC day), written by this device under its own key prefix. */
export class BucketDoc {
  readonly doc: Y.Doc;
  readonly docName: string;
  private readonly clientIds = new Map<string, number>();
  readonly clientId: number;
  /** This device's key prefix (its client id in base 36). */
  readonly prefix: string;
  private readonly root: Y.Map<unknown>;

  constructor(
    readonly groupId: string,
    readonly bucket: number,
    readonly deviceId: string,
  ) {
    if (!Number.isSafeInteger(bucket) || bucket < 0) throw new ContentError(`not a bucket: ${bucket}`);
    this.docName = docNameFor(groupId, bucket);
    this.clientId = clientIdFor(deviceId, this.docName);
    this.prefix = authorPrefix(this.clientId);
    this.doc = new Y.Doc({ guid: this.docName });
    this.doc.clientID = this.clientId;
    this.root = this.doc.getMap(ROOT);
  }

  /** The client id `deviceId` writes with in this document. */
  clientIdOf(deviceId: string): number {
    // A hash per call: remembered, since every update of a catch-up and every listing asks again.
    let id = this.clientIds.get(deviceId);
    if (id === undefined) {
      id = clientIdFor(deviceId, this.docName);
      this.clientIds.set(deviceId, id);
    }
    return id;
  }

  /** Posts a message; returns its key. */
  post(input: PostInput, now: number): string {
    const value: MessageValue = { t: input.text, ts: now };
    if (input.replyTo !== undefined) {
      const ref = this.ref(input.replyTo);
      value.r = { b: ref.bucket, k: ref.key };
    }
    if (input.attachments !== undefined && input.attachments.length > 0)
      value.a = input.attachments.map((a) => ({ ...a }));
    const problem = checkMessageValue(value);
    if (problem) throw new ContentError(problem);
    // The next clock of this client is unique in the document: a fresh local id.
    const key = messageKey(this.prefix, Y.getState(this.doc.store, this.clientId).toString(36));
    this.write(key, value);
    return key;
  }

  /** Replaces the text of one of this device's messages. */
  edit(key: string, text: string, now: number): void {
    const current = this.ownMessage(key);
    if (current.d) throw new ContentError('the message was deleted');
    const value: MessageValue = { ...current, t: text, e: now };
    const problem = checkMessageValue(value);
    if (problem) throw new ContentError(problem);
    this.write(key, value);
  }

  /** Deletes one of this device's messages for everyone: text, attachments and reply target are removed. */
  deleteForEveryone(key: string, now: number): void {
    const current = this.ownMessage(key);
    if (current.d) return;
    this.write(key, { t: '', ts: current.ts, e: now, d: true });
  }

  /** Sets (or with null removes) this device's reaction to a message of this or another bucket. */
  react(target: string | MessageRef, emoji: string | null): void {
    const ref = this.ref(target);
    if (emoji !== null && !isEmoji(emoji)) throw new ContentError('reaction is not an emoji');
    if (ref.bucket === this.bucket) {
      const message = this.messageValue(ref.key);
      if (message === undefined) throw new ContentError(`no message ${ref.key}`);
      if (message.d && emoji !== null) throw new ContentError('the message was deleted');
    }
    const key = reactionKey(this.prefix, ref.key, ref.bucket === this.bucket ? undefined : ref.bucket);
    if (emoji === null) {
      if (this.root.has(key)) this.transact(() => this.root.delete(key));
    } else if (this.root.get(key) !== emoji) {
      this.write(key, emoji);
    }
  }

  /**
   * Moves this device's read marker to `key`. Markers only move forward (in message order); returns whether it moved.
   */
  markRead(key: string, now: number): boolean {
    const message = this.messageValue(key);
    if (message === undefined) throw new ContentError(`no message ${key}`);
    const markerKey = readKey(this.prefix);
    const current = this.root.get(markerKey);
    if (checkReadValue(current) === null) {
      const at = this.messageValue((current as ReadValue).k);
      if (at !== undefined && compareMessages({ ts: at.ts, key: (current as ReadValue).k }, { ts: message.ts, key }) >= 0)
        return false;
    }
    this.write(markerKey, { k: key, ts: now } satisfies ReadValue);
    return true;
  }

  /**
   * Applies an update the sync layer attributes to `authorDeviceId`. Throws a ContentError, leaving the document
   * unchanged, if the update is malformed or touches anything but that device's own keys.
   */
  applyRemote(update: Uint8Array, authorDeviceId: string, options?: ValidateOptions): void {
    if (!(update instanceof Uint8Array)) throw new ContentError('update is not a Uint8Array');
    // Copy first: the caller's buffer could change between validation and application.
    const bytes = new Uint8Array(update);
    const verdict = validateUpdate(bytes, this.clientIdOf(authorDeviceId), this.doc, options);
    if (!verdict.ok) throw new ContentError(verdict.reason);
    this.doc.clientID = APPLYING_CLIENT_ID;
    try {
      Y.applyUpdate(this.doc, bytes, REMOTE);
    } finally {
      this.doc.clientID = this.clientId;
    }
  }

  /**
   * Applies many remote updates in one Yjs transaction (catch-up, opening a stored bucket): each is validated
   * exactly as `applyRemote` does, against the document as it stands after the ones before it; a refused update is
   * skipped and changes nothing. Observers and cleanup run once for the whole batch.
   */
  applyRemoteBatch(items: readonly { update: Uint8Array; author: string; options?: ValidateOptions }[]): { applied: number; refused: { index: number; reason: string }[] } {
    const refused: { index: number; reason: string }[] = [];
    let applied = 0;
    this.doc.clientID = APPLYING_CLIENT_ID;
    try {
      this.doc.transact(() => {
        items.forEach((item, index) => {
          const bytes = Uint8Array.prototype.slice.call(item.update);
          const verdict = validateUpdate(bytes, this.clientIdOf(item.author), this.doc, item.options);
          if (!verdict.ok) {
            refused.push({ index, reason: verdict.reason });
            return;
          }
          Y.applyUpdate(this.doc, bytes, REMOTE);
          applied++;
        });
      }, REMOTE);
    } finally {
      this.doc.clientID = this.clientId;
    }
    return { applied, refused };
  }

  /** Calls `cb` with the update of every local transaction (never for remote applies). Returns an unsubscribe. */
  onLocalUpdate(cb: (update: Uint8Array) => void): () => void {
    const handler = (update: Uint8Array, _origin: unknown, _doc: Y.Doc, transaction: Y.Transaction) => {
      if (transaction.local) cb(update);
    };
    this.doc.on('update', handler);
    return () => this.doc.off('update', handler);
  }

  /** The whole document as one update (or what a peer with `stateVector` lacks). Contains every author's structs. */
  encodeState(stateVector?: Uint8Array): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc, stateVector);
  }

  stateVector(): Uint8Array {
    return Y.encodeStateVector(this.doc);
  }

  /** All messages, by ts and then key. `authors` (client id → device id) fills in `author`. */
  messages(authors?: ReadonlyMap<number, string>): ChatMessage[] {
    const messages: ChatMessage[] = [];
    const reactions: { target: string; emoji: string; author: number }[] = [];
    const markers: { key: string; author: number }[] = [];
    this.root.forEach((value, key) => {
      const info = parseKey(key);
      if (info === null) return;
      if (info.kind === 'message') {
        if (checkMessageValue(value) !== null) return;
        const v = value as MessageValue;
        const message: ChatMessage = {
          key,
          bucket: this.bucket,
          authorClientId: info.author,
          text: v.t,
          ts: v.ts,
          attachments: (v.a ?? []).map((a) => ({ ...a })),
          deleted: v.d === true,
          reactions: {},
          readBy: [],
        };
        const author = authors?.get(info.author);
        if (author !== undefined) message.author = author;
        if (v.r) message.replyTo = { bucket: v.r.b, key: v.r.k };
        if (v.e !== undefined) message.editedAt = v.e;
        messages.push(message);
      } else if (info.kind === 'reaction') {
        if (info.bucket === undefined && checkReactionValue(value) === null && value !== null)
          reactions.push({ target: info.target, emoji: value as string, author: info.author });
      } else if (checkReadValue(value) === null) {
        markers.push({ key: (value as ReadValue).k, author: info.author });
      }
    });
    messages.sort(compareMessages);
    const index = new Map(messages.map((m, i) => [m.key, i]));
    for (const r of reactions) {
      const i = index.get(r.target);
      if (i === undefined) continue;
      const message = messages[i]!;
      if (message.deleted) continue;
      const list = Object.hasOwn(message.reactions, r.emoji) ? message.reactions[r.emoji]! : [];
      list.push(r.author);
      message.reactions[r.emoji] = list;
    }
    for (const m of markers) {
      const upTo = index.get(m.key);
      if (upTo === undefined) continue;
      for (let i = 0; i <= upTo; i++) messages[i]!.readBy.push(m.author);
    }
    for (const message of messages) {
      for (const list of Object.values(message.reactions)) list.sort((a, b) => a - b);
      message.readBy.sort((a, b) => a - b);
    }
    return messages;
  }

  /** One message by key, or undefined. */
  message(key: string, authors?: ReadonlyMap<number, string>): ChatMessage | undefined {
    return this.messages(authors).find((m) => m.key === key);
  }

  /** Reactions stored here to messages of other buckets (the engine joins them to those buckets' messages). */
  foreignReactions(): ForeignReaction[] {
    const out: ForeignReaction[] = [];
    this.root.forEach((value, key) => {
      const info = parseKey(key);
      if (info?.kind !== 'reaction' || info.bucket === undefined || info.bucket === this.bucket) return;
      if (typeof value === 'string' && isEmoji(value))
        out.push({ target: { bucket: info.bucket, key: info.target }, emoji: value, authorClientId: info.author });
    });
    return out.sort(
      (a, b) =>
        a.target.bucket - b.target.bucket || cmp(a.target.key, b.target.key) || a.authorClientId - b.authorClientId,
    );
  }

  /** Every author's read marker in this bucket. */
  readMarkers(): ReadMarker[] {
    const out: ReadMarker[] = [];
    this.root.forEach((value, key) => {
      const info = parseKey(key);
      if (info?.kind === 'read' && checkReadValue(value) === null) {
        const v = value as ReadValue;
        out.push({ clientId: info.author, key: v.k, ts: v.ts });
      }
    });
    return out.sort((a, b) => a.clientId - b.clientId);
  }

  private ref(target: string | MessageRef): MessageRef {
    const ref = typeof target === 'string' ? { bucket: this.bucket, key: target } : target;
    if (!Number.isSafeInteger(ref.bucket) || ref.bucket < 0 || !isMessageKey(ref.key))
      throw new ContentError('not a message reference');
    return { bucket: ref.bucket, key: ref.key };
  }

  private messageValue(key: string): MessageValue | undefined {
    if (parseKey(key)?.kind !== 'message') return undefined;
    const value = this.root.get(key);
    return checkMessageValue(value) === null ? (value as MessageValue) : undefined;
  }

  private ownMessage(key: string): MessageValue {
    const info = parseKey(key);
    if (info?.kind !== 'message') throw new ContentError(`not a message key: ${key}`);
    if (info.author !== this.clientId) throw new ContentError('only the author may change a message');
    const value = this.messageValue(key);
    if (value === undefined) throw new ContentError(`no message ${key}`);
    return value;
  }

  private write(key: string, value: unknown): void {
    this.transact(() => this.root.set(key, value));
  }

  /**
   * Whether updates of this device are waiting for earlier ones of this device (its history here is incomplete,
   * e.g. after a restart that replayed stored updates out of order). Local writes are refused meanwhile: a new
   * write would reuse a clock that the missing history already used, and replicas would disagree.
   */
  ownHistoryPending(): boolean {
    const store = this.doc.store;
    if (store.pendingStructs && Y.parseUpdateMetaV2(store.pendingStructs.update).to.has(this.clientId)) return true;
    return store.pendingDs !== null && Y.decodeUpdateV2(store.pendingDs).ds.clients.has(this.clientId);
  }

  private transact(fn: () => void): void {
    if (this.ownHistoryPending())
      throw new ContentError("this device's earlier updates to this bucket are incomplete; apply them first");
    this.doc.clientID = this.clientId;
    this.doc.transact(fn);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
