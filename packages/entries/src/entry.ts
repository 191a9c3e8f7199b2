import { type Decoder, Encoder, fromBase64Url, toBase64Url } from '@schoolmesh/wire';

/** Sizes of the fixed-width fields of an entry (docs/protocol.md, "Entry"). */
export const GROUP_ID_BYTES = 16;
export const DEVICE_ID_BYTES = 32;
export const EPOCH_ID_BYTES = 8;
export const SIGNATURE_BYTES = 64;
/** Largest ciphertext one entry may carry (a packed bucket of one author included). */
export const MAX_ENTRY_CIPHERTEXT = 1024 * 1024;

export type EntryKind = 'single' | 'packed';
const KIND_SINGLE = 1;
const KIND_PACKED = 2;

/**
 * One encrypted, signed piece of a group's content: a local Yjs transaction (`single`), or all of one author's
 * transactions of a finished bucket merged into one (`packed`, covering seq 1..seq).
 */
export interface Entry {
  kind: EntryKind;
  /** base64url of the 16-byte group id. */
  group: string;
  bucket: number;
  /** base64url of the author device's Ed25519 public key. */
  author: string;
  /** Per (group, bucket, author) sequence number, from 1; for `packed`, the last seq it covers. */
  seq: number;
  /** base64url of the 8-byte id of the key epoch that encrypted it. */
  epoch: string;
  nonce: Uint8Array;
  ciphertext: Uint8Array;
  /** The author's signature over the chain hash up to and including this entry; only chain heads carry it. */
  signature?: Uint8Array;
}

/** Fields of an entry that its AEAD binds as associated data and its chain hash covers. */
export function encodeEntryHeader(enc: Encoder, e: Pick<Entry, 'kind' | 'group' | 'bucket' | 'author' | 'seq' | 'epoch'>): Encoder {
  enc.u8(e.kind === 'single' ? KIND_SINGLE : KIND_PACKED);
  enc.fixed(fromBase64Url(e.group), GROUP_ID_BYTES);
  enc.varuint(e.bucket);
  enc.fixed(fromBase64Url(e.author), DEVICE_ID_BYTES);
  enc.varuint(e.seq);
  enc.fixed(fromBase64Url(e.epoch), EPOCH_ID_BYTES);
  return enc;
}

export function entryHeaderBytes(e: Pick<Entry, 'kind' | 'group' | 'bucket' | 'author' | 'seq' | 'epoch'>): Uint8Array {
  return encodeEntryHeader(new Encoder(80), e).finish();
}

export function writeEntry(enc: Encoder, e: Entry, nonceBytes: number): Encoder {
  encodeEntryHeader(enc, e);
  enc.fixed(e.nonce, nonceBytes);
  enc.bytes(e.ciphertext);
  enc.optional(e.signature, (x, s) => x.fixed(s, SIGNATURE_BYTES));
  return enc;
}

export function readEntry(dec: Decoder, nonceBytes: number): Entry {
  const kindTag = dec.tag([KIND_SINGLE, KIND_PACKED], 'entry kind');
  const group = toBase64Url(dec.fixed(GROUP_ID_BYTES));
  const bucket = dec.varuint(0xffffffff);
  const author = toBase64Url(dec.fixed(DEVICE_ID_BYTES));
  const seq = dec.varuint();
  if (seq < 1) dec.fail('bad-value', 'entry seq must be at least 1');
  const epoch = toBase64Url(dec.fixed(EPOCH_ID_BYTES));
  const nonce = dec.fixed(nonceBytes).slice();
  const ciphertext = dec.bytes(MAX_ENTRY_CIPHERTEXT).slice();
  const signature = dec.optional((x) => x.fixed(SIGNATURE_BYTES).slice());
  const entry: Entry = { kind: kindTag === KIND_SINGLE ? 'single' : 'packed', group, bucket, author, seq, epoch, nonce, ciphertext };
  if (signature) entry.signature = signature;
  return entry;
}
