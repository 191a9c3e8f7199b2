import type { AeadKey, SigningKeyPair } from '@schoolmesh/crypto';
import { type Entry, type EntryKind, entryHeaderBytes } from './entry.ts';
import { EntryError, chainHash, chainSeed, signedMessage } from './chain.ts';

export interface SealInput {
  kind: EntryKind;
  group: string;
  bucket: number;
  seq: number;
  epoch: string;
  plaintext: Uint8Array;
  /** The author's chain head before this entry (ignored for packed entries). */
  prev: Uint8Array;
}

/** Encrypts and signs one entry as its author. Returns the entry and the new chain head. */
export async function sealEntry(
  author: { id: string; signing: SigningKeyPair },
  key: AeadKey,
  input: SealInput,
): Promise<{ entry: Entry; head: Uint8Array }> {
  const header = { kind: input.kind, group: input.group, bucket: input.bucket, author: author.id, seq: input.seq, epoch: input.epoch };
  const { nonce, ciphertext } = await key.encrypt(input.plaintext, entryHeaderBytes(header));
  const entry: Entry = { ...header, nonce, ciphertext };
  const prev = input.kind === 'packed' ? chainSeed(input.group, input.bucket, author.id) : input.prev;
  const head = chainHash(prev, entry);
  entry.signature = await author.signing.sign(signedMessage(head));
  return { entry, head };
}

/** Decrypts an entry whose chain and signature were verified already. */
export async function openEntry(entry: Entry, key: AeadKey): Promise<Uint8Array> {
  try {
    return await key.decrypt(entry.nonce, entry.ciphertext, entryHeaderBytes(entry));
  } catch {
    throw new EntryError('decrypt-failed', `cannot decrypt ${entry.author.slice(0, 8)}… seq ${entry.seq}`);
  }
}
