import { AEAD_NONCE_BYTES } from '@schoolmesh/crypto';
import { EPOCH_ID_BYTES, type Entry, MAX_ENTRY_CIPHERTEXT } from '@schoolmesh/entries';
import { type Decoder, Encoder, decode, fromBase64Url, toBase64Url } from '@schoolmesh/wire';

/**
 * An entry as a replica stores it: group, bucket and author live in the storage key already, and the signature
 * in the chain state (only the head's is kept), so the value holds the rest. Saves ~50 bytes per entry.
 */
export function encodeStoredEntry(e: Entry): Uint8Array {
  return new Encoder(e.ciphertext.length + 48)
    .u8(e.kind === 'single' ? 1 : 2)
    .varuint(e.seq)
    .fixed(fromBase64Url(e.epoch), EPOCH_ID_BYTES)
    .fixed(e.nonce, AEAD_NONCE_BYTES)
    .bytes(e.ciphertext)
    .finish();
}

export function decodeStoredEntry(bytes: Uint8Array, where: { group: string; bucket: number; author: string }): Entry {
  return decode(bytes, (d: Decoder) => {
    const kind = d.tag([1, 2], 'entry kind') === 1 ? 'single' : 'packed';
    return {
      kind,
      group: where.group,
      bucket: where.bucket,
      author: where.author,
      seq: d.varuint(),
      epoch: toBase64Url(d.fixed(EPOCH_ID_BYTES)),
      nonce: d.fixed(AEAD_NONCE_BYTES).slice(),
      ciphertext: d.bytes(MAX_ENTRY_CIPHERTEXT).slice(),
    } satisfies Entry;
  });
}
