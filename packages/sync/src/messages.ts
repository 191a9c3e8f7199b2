import { AEAD_NONCE_BYTES } from '@schoolmesh/crypto';
import { type Entry, GROUP_ID_BYTES, type Manifest, readEntry, readManifest, writeEntry, writeManifest } from '@schoolmesh/entries';
import { DecodeError, type Decoder, Encoder, decode, fromBase64Url, toBase64Url } from '@schoolmesh/wire';

/**
 * Protocol version spoken by this code; peers agree on min(max versions) if it is at least both minimums.
 * Version 2 added MANIFEST (13) and packed entries without a signature of their own; version 1 was never deployed,
 * so version 2 is also the minimum (docs/protocol.md, "Versioning").
 */
export const PROTOCOL_VERSION = 2;
export const MIN_PROTOCOL_VERSION = 2;

/** Numeric message types (docs/protocol.md, "Sync messages"). Never reuse a number. */
export const MessageType = {
  Hello: 1,
  Auth: 2,
  Groups: 3,
  Membership: 4,
  Summary: 5,
  Vector: 6,
  Entries: 7,
  Ack: 8,
  Plan: 9,
  Error: 10,
  SummariesDone: 11,
  Heads: 12,
  Manifest: 13,
} as const;

export type CredentialKind = 'device' | 'authority';

export type SyncMessage =
  | { type: 'hello'; version: number; minVersion: number; credentialKind: CredentialKind; credential: Uint8Array; nonce: Uint8Array; agent: string }
  | { type: 'auth'; signature: Uint8Array }
  | { type: 'groups'; groups: { group: string; heads: string[] }[] }
  | { type: 'membership'; group: string; ops: Uint8Array[] }
  | { type: 'summary'; group: string; buckets: { bucket: number; digest: string }[] }
  | { type: 'vector'; group: string; bucket: number; vector: { author: string; seq: number }[] }
  | { type: 'entries'; batch: number; entries: Entry[] }
  | { type: 'ack'; batch: number; accepted: number; rejected: number; reason: string }
  | { type: 'plan'; group: string; bucket: number; count: number }
  | { type: 'error'; code: number; message: string }
  | { type: 'summaries-done' }
  | { type: 'heads'; group: string; heads: string[] }
  | { type: 'manifest'; manifest: Manifest };

export const ErrorCode = {
  Protocol: 1,
  Version: 2,
  Unauthenticated: 3,
  Forbidden: 4,
  TooLarge: 5,
  RateLimited: 6,
  Internal: 7,
} as const;

const MAX_GROUPS = 10_000;
/** Most op ids one GROUPS item or HEADS message may list (a decoder refuses more). */
export const MAX_HEADS = 64;
/** Most ops one MEMBERSHIP message may carry (a decoder refuses more). */
export const MAX_OPS = 10_000;
/** The membership package's own bound on one op (a rotation sealed to many devices is large). */
const MAX_OP_BYTES = 4 * 1024 * 1024;
const MAX_BUCKETS = 4_000;
const MAX_AUTHORS = 10_000;
const MAX_BATCH_ENTRIES = 10_000;
const MAX_CREDENTIAL_BYTES = 8 * 1024;

const group = (enc: Encoder, id: string) => enc.fixed(fromBase64Url(id), GROUP_ID_BYTES);
const readGroup = (dec: Decoder) => toBase64Url(dec.fixed(GROUP_ID_BYTES));
const opId = (enc: Encoder, id: string) => enc.fixed(fromBase64Url(id), 32);
const readOpId = (dec: Decoder) => toBase64Url(dec.fixed(32));

export function encodeMessage(m: SyncMessage): Uint8Array {
  const enc = new Encoder(m.type === 'entries' ? 4096 : 128);
  switch (m.type) {
    case 'hello':
      enc.varuint(MessageType.Hello).varuint(m.version).varuint(m.minVersion);
      enc.u8(m.credentialKind === 'device' ? 1 : 2).bytes(m.credential).fixed(m.nonce, 32).string(m.agent);
      break;
    case 'auth':
      enc.varuint(MessageType.Auth).fixed(m.signature, 64);
      break;
    case 'groups':
      enc.varuint(MessageType.Groups).list(m.groups, (e, g) => {
        group(e, g.group);
        e.list(g.heads, (x, h) => opId(x, h));
      });
      break;
    case 'membership':
      enc.varuint(MessageType.Membership);
      group(enc, m.group);
      enc.list(m.ops, (e, op) => e.bytes(op));
      break;
    case 'summary':
      enc.varuint(MessageType.Summary);
      group(enc, m.group);
      enc.list(m.buckets, (e, b) => e.varuint(b.bucket).bytes(b.digest ? fromBase64Url(b.digest) : new Uint8Array(0)));
      break;
    case 'vector':
      enc.varuint(MessageType.Vector);
      group(enc, m.group);
      enc.varuint(m.bucket).list(m.vector, (e, v) => e.fixed(fromBase64Url(v.author), 32).varuint(v.seq));
      break;
    case 'entries':
      enc.varuint(MessageType.Entries).varuint(m.batch).list(m.entries, (e, x) => writeEntry(e, x, AEAD_NONCE_BYTES));
      break;
    case 'ack':
      enc.varuint(MessageType.Ack).varuint(m.batch).varuint(m.accepted).varuint(m.rejected).string(m.reason);
      break;
    case 'plan':
      enc.varuint(MessageType.Plan);
      group(enc, m.group);
      enc.varuint(m.bucket).varuint(m.count);
      break;
    case 'error':
      enc.varuint(MessageType.Error).varuint(m.code).string(m.message);
      break;
    case 'summaries-done':
      enc.varuint(MessageType.SummariesDone);
      break;
    case 'heads':
      enc.varuint(MessageType.Heads);
      group(enc, m.group);
      enc.list(m.heads, (x, h) => opId(x, h));
      break;
    case 'manifest':
      writeManifest(enc.varuint(MessageType.Manifest), m.manifest);
      break;
  }
  return enc.finish();
}

/** Total: returns a message or throws DecodeError, whatever the bytes. */
export function decodeMessage(bytes: Uint8Array): SyncMessage {
  try {
    return decode(bytes, readMessage);
  } catch (error) {
    if (error instanceof DecodeError) throw error;
    throw new DecodeError('bad-value', `undecodable message: ${(error as Error).message}`);
  }
}

function readMessage(dec: Decoder): SyncMessage {
  const type = dec.varuint();
  switch (type) {
    case MessageType.Hello: {
      const version = dec.varuint(0xffff);
      const minVersion = dec.varuint(0xffff);
      const kind = dec.u8();
      if (kind !== 1 && kind !== 2) dec.fail('bad-tag', `unknown credential kind ${kind}`);
      const credential = dec.bytes(MAX_CREDENTIAL_BYTES).slice();
      const nonce = dec.fixed(32).slice();
      const agent = dec.string(128);
      return { type: 'hello', version, minVersion, credentialKind: kind === 1 ? 'device' : 'authority', credential, nonce, agent };
    }
    case MessageType.Auth:
      return { type: 'auth', signature: dec.fixed(64).slice() };
    case MessageType.Groups:
      return {
        type: 'groups',
        groups: dec.list((d) => ({ group: readGroup(d), heads: d.list(readOpId, 32, MAX_HEADS) }), GROUP_ID_BYTES + 1, MAX_GROUPS),
      };
    case MessageType.Membership: {
      const g = readGroup(dec);
      return { type: 'membership', group: g, ops: dec.list((d) => d.bytes(MAX_OP_BYTES).slice(), 1, MAX_OPS) };
    }
    case MessageType.Summary: {
      const g = readGroup(dec);
      const buckets = dec.list(
        (d) => {
          const bucket = d.varuint(0xffffffff);
          const digest = d.bytes(8);
          return { bucket, digest: toBase64Url(digest) };
        },
        2,
        MAX_BUCKETS,
      );
      return { type: 'summary', group: g, buckets };
    }
    case MessageType.Vector: {
      const g = readGroup(dec);
      const bucket = dec.varuint(0xffffffff);
      const vector = dec.list((d) => ({ author: toBase64Url(d.fixed(32)), seq: d.varuint() }), 33, MAX_AUTHORS);
      return { type: 'vector', group: g, bucket, vector };
    }
    case MessageType.Entries: {
      const batch = dec.varuint();
      return { type: 'entries', batch, entries: dec.list((d) => readEntry(d, AEAD_NONCE_BYTES), 80, MAX_BATCH_ENTRIES) };
    }
    case MessageType.Ack:
      return { type: 'ack', batch: dec.varuint(), accepted: dec.varuint(), rejected: dec.varuint(), reason: dec.string(1024) };
    case MessageType.Plan: {
      const g = readGroup(dec);
      return { type: 'plan', group: g, bucket: dec.varuint(0xffffffff), count: dec.varuint() };
    }
    case MessageType.Error:
      return { type: 'error', code: dec.varuint(), message: dec.string(1024) };
    case MessageType.SummariesDone:
      return { type: 'summaries-done' };
    case MessageType.Heads: {
      const g = readGroup(dec);
      return { type: 'heads', group: g, heads: dec.list(readOpId, 32, MAX_HEADS) };
    }
    case MessageType.Manifest:
      return { type: 'manifest', manifest: readManifest(dec) };
    default:
      return dec.fail('bad-tag', `unknown message type ${type}`);
  }
}
