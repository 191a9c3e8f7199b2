import { parseAuthorPrefix } from './ids.ts';

/** Bounds every replica enforces. Changing them is a protocol change: replicas must agree. */
export const LIMITS = {
  /** Largest update `validateUpdate` accepts by default (one local transaction is one update). */
  maxUpdateBytes: 64 * 1024,
  /** Largest value (as UTF-8 JSON) a key may hold; leaves room for the struct header inside maxUpdateBytes. */
  maxValueBytes: 48 * 1024,
  maxTextLength: 10_000,
  maxAttachments: 16,
  maxAttachmentIdLength: 128,
  maxAttachmentNameLength: 255,
  maxMimeLength: 127,
  maxAttachmentKeyLength: 128,
  maxEmojiLength: 32,
} as const;

/** A message somewhere in the group: its bucket and its key inside that bucket's document. */
export interface MessageRef {
  bucket: number;
  key: string;
}

/** A reference to an encrypted blob stored elsewhere. */
export interface Attachment {
  id: string;
  name: string;
  mime: string;
  size: number;
  /** Lower-case hex SHA-256 of the plaintext. */
  sha256: string;
  /** The blob's key, if it is not derived elsewhere. */
  key?: string;
}

/** The stored value of a message key `${p}/m/${localId}` (plain JSON, never a nested Y type). */
export interface MessageValue {
  t: string;
  ts: number;
  r?: { b: number; k: string };
  a?: Attachment[];
  e?: number;
  d?: true;
}

/** The stored value of a read marker key `${p}/read`. */
export interface ReadValue {
  k: string;
  ts: number;
}

export type KeyInfo =
  | { kind: 'message'; author: number; localId: string }
  | { kind: 'reaction'; author: number; target: string; bucket?: number }
  | { kind: 'read'; author: number };

const messageKeyPattern = /^([0-9a-z]{1,11})\/m\/([0-9a-z]{1,11})$/;
const reactionKeyPattern = /^([0-9a-z]{1,11})\/x\/(?:(0|[1-9][0-9]{0,15}):)?([0-9a-z]{1,11}\/m\/[0-9a-z]{1,11})$/;
const readKeyPattern = /^([0-9a-z]{1,11})\/read$/;

/** Is `key` a well-formed message key (of any author)? */
export function isMessageKey(key: unknown): key is string {
  if (typeof key !== 'string') return false;
  const m = messageKeyPattern.exec(key);
  return m !== null && parseAuthorPrefix(m[1]!) !== null;
}

function isBucket(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Classifies a root-map key; null for anything that is not one of the three known kinds. */
export function parseKey(key: string): KeyInfo | null {
  if (key.length > 64) return null;
  let m = messageKeyPattern.exec(key);
  if (m) {
    const author = parseAuthorPrefix(m[1]!);
    return author === null ? null : { kind: 'message', author, localId: m[2]! };
  }
  m = reactionKeyPattern.exec(key);
  if (m) {
    const author = parseAuthorPrefix(m[1]!);
    if (author === null || !isMessageKey(m[3])) return null;
    if (m[2] === undefined) return { kind: 'reaction', author, target: m[3] };
    const bucket = Number(m[2]);
    return isBucket(bucket) ? { kind: 'reaction', author, target: m[3], bucket } : null;
  }
  m = readKeyPattern.exec(key);
  if (m) {
    const author = parseAuthorPrefix(m[1]!);
    return author === null ? null : { kind: 'read', author };
  }
  return null;
}

export function messageKey(prefix: string, localId: string): string {
  return `${prefix}/m/${localId}`;
}

export function reactionKey(prefix: string, target: string, bucket?: number): string {
  return bucket === undefined ? `${prefix}/x/${target}` : `${prefix}/x/${bucket}:${target}`;
}

export function readKey(prefix: string): string {
  return `${prefix}/read`;
}

/** A plain object as JSON would produce it: no prototype tricks (lib0 decodes `__proto__` keys by assignment). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[]): string | null {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) return `unknown field ${JSON.stringify(k)}`;
  return null;
}

function isTime(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function isBoundedString(s: unknown, min: number, max: number): s is string {
  return typeof s === 'string' && s.length >= min && s.length <= max;
}

const emojiPattern = /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\u20e3)+$/u;

/** A reaction: a short run of emoji code points (no letters, no whitespace). */
export function isEmoji(s: unknown): s is string {
  return isBoundedString(s, 1, LIMITS.maxEmojiLength) && emojiPattern.test(s);
}

function checkAttachment(a: unknown): string | null {
  if (!isPlainObject(a)) return 'attachment is not an object';
  const extra = onlyKeys(a, ['id', 'name', 'mime', 'size', 'sha256', 'key']);
  if (extra) return `attachment: ${extra}`;
  if (!isBoundedString(a.id, 1, LIMITS.maxAttachmentIdLength)) return 'attachment id is invalid';
  if (!isBoundedString(a.name, 1, LIMITS.maxAttachmentNameLength)) return 'attachment name is invalid';
  if (!isBoundedString(a.mime, 1, LIMITS.maxMimeLength)) return 'attachment mime is invalid';
  if (!isTime(a.size)) return 'attachment size is invalid';
  if (typeof a.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(a.sha256)) return 'attachment sha256 is invalid';
  if ('key' in a && !isBoundedString(a.key, 1, LIMITS.maxAttachmentKeyLength)) return 'attachment key is invalid';
  return null;
}

const utf8 = new TextEncoder();

function checkSize(v: unknown): string | null {
  const json = JSON.stringify(v);
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most values are short enough not to need encoding.
  if (json.length * 3 <= LIMITS.maxValueBytes) return null;
  const bytes = utf8.encode(json).length;
  return bytes > LIMITS.maxValueBytes ? `value is ${bytes} bytes, more than ${LIMITS.maxValueBytes}` : null;
}

/** Checks a message value; returns the reason it is invalid, or null. */
export function checkMessageValue(v: unknown): string | null {
  if (!isPlainObject(v)) return 'message is not an object';
  const extra = onlyKeys(v, ['t', 'ts', 'r', 'a', 'e', 'd']);
  if (extra) return `message: ${extra}`;
  if (typeof v.t !== 'string') return 'message text is not a string';
  if (v.t.length > LIMITS.maxTextLength) return `message text is longer than ${LIMITS.maxTextLength}`;
  if (!isTime(v.ts)) return 'message ts is invalid';
  if ('e' in v && !isTime(v.e)) return 'message edit time is invalid';
  if ('r' in v) {
    const r = v.r;
    if (!isPlainObject(r) || onlyKeys(r, ['b', 'k']) || !isBucket(r.b) || !isMessageKey(r.k))
      return 'message reply target is invalid';
  }
  if ('a' in v) {
    if (!Array.isArray(v.a) || v.a.length > LIMITS.maxAttachments) return 'message attachments are invalid';
    for (const a of v.a) {
      const problem = checkAttachment(a);
      if (problem) return problem;
    }
  }
  if ('d' in v) {
    if (v.d !== true) return 'message deleted flag is not true';
    if (v.t !== '' || 'a' in v || 'r' in v) return 'a deleted message keeps text, attachments or reply target';
  } else if (v.t === '' && !(Array.isArray(v.a) && v.a.length > 0)) {
    return 'message has neither text nor attachments';
  }
  return checkSize(v);
}

/** Checks a reaction value: an emoji, or null (removed). */
export function checkReactionValue(v: unknown): string | null {
  if (v === null || isEmoji(v)) return null;
  return 'reaction is not an emoji';
}

/** Checks a read marker value. */
export function checkReadValue(v: unknown): string | null {
  if (!isPlainObject(v) || onlyKeys(v, ['k', 'ts']) || !isMessageKey(v.k) || !isTime(v.ts))
    return 'read marker is invalid';
  return null;
}

/** Checks `v` as the value of a key of `kind`; with no kind (key unknown), it must fit one of the kinds. */
export function checkValue(kind: KeyInfo['kind'] | undefined, v: unknown): string | null {
  switch (kind) {
    case 'message':
      return checkMessageValue(v);
    case 'reaction':
      return checkReactionValue(v);
    case 'read':
      return checkReadValue(v);
    default:
      if (checkMessageValue(v) === null || checkReactionValue(v) === null || checkReadValue(v) === null) return null;
      return 'value fits no known key kind';
  }
}
