import { AEAD_NONCE_BYTES } from '@schoolmesh/crypto';
import { type Decoder, Encoder, decode } from '@schoolmesh/wire';
import { type Entry, readEntry, writeEntry } from './entry.ts';

export function encodeEntry(entry: Entry): Uint8Array {
  return writeEntry(new Encoder(entry.ciphertext.length + 200), entry, AEAD_NONCE_BYTES).finish();
}

/** Total: only DecodeError. */
export function decodeEntry(bytes: Uint8Array): Entry {
  return decode(bytes, (d: Decoder) => readEntry(d, AEAD_NONCE_BYTES));
}
