import { sha256, sha256Parts, verifySignature } from '@schoolmesh/crypto';
import { Encoder, concatBytes, fromBase64Url } from '@schoolmesh/wire';
import { DEVICE_ID_BYTES, type Entry, GROUP_ID_BYTES, encodeEntryHeader } from './entry.ts';

const CHAIN_SEED_CONTEXT = new TextEncoder().encode('schoolmesh/chain/v1');
const ENTRY_SIGNATURE_CONTEXT = new TextEncoder().encode('schoolmesh/entry/v1');

export class EntryError extends Error {
  override readonly name = 'EntryError';
  constructor(
    readonly code: 'bad-signature' | 'gap' | 'bad-chain' | 'decrypt-failed' | 'unknown-epoch' | 'bad-entry',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The hash every (group, bucket, author) chain starts from. Binding these three here means a chain hash, and
 * so a signature, can never be replayed into another group, bucket or author.
 */
export function chainSeed(group: string, bucket: number, author: string): Uint8Array {
  const enc = new Encoder(80);
  enc.fixed(CHAIN_SEED_CONTEXT, CHAIN_SEED_CONTEXT.length);
  enc.fixed(fromBase64Url(group), GROUP_ID_BYTES);
  enc.varuint(bucket);
  enc.fixed(fromBase64Url(author), DEVICE_ID_BYTES);
  return sha256(enc.finish());
}

/** h_i = SHA-256(h_{i-1} || header_i || nonce_i || ciphertext_i). A packed entry's predecessor is the seed. */
export function chainHash(prev: Uint8Array, entry: Entry): Uint8Array {
  // The same bytes as one buffer `prev ‖ header ‖ varuint ‖ nonce ‖ varuint ‖ ciphertext`, hashed in parts so that
  // the ciphertext is not copied.
  const enc = new Encoder(160);
  enc.fixed(prev, 32);
  encodeEntryHeader(enc, entry);
  enc.bytes(entry.nonce);
  enc.varuint(entry.ciphertext.length);
  return sha256Parts([enc.finish(), entry.ciphertext]);
}

export function signedMessage(head: Uint8Array): Uint8Array {
  return concatBytes(ENTRY_SIGNATURE_CONTEXT, head);
}

/**
 * Verifies a contiguous run of one chain: the hashes link from `prev` (the receiver's current head, or the
 * seed), and the last entry's signature covers the result. One signature check authenticates the whole run;
 * this is what keeps catch-up close to plain Yjs (docs/architecture.md, "Why chains").
 * Returns the new head hash. `prev` is ignored for a run that starts with a packed entry (it starts from the seed).
 */
export async function verifyRun(run: readonly Entry[], prev: Uint8Array, authorKey: Uint8Array): Promise<Uint8Array> {
  const head = foldRun(run, prev);
  const last = run[run.length - 1]!;
  if (!last.signature) throw new EntryError('bad-signature', 'run does not end in a signed entry');
  if (!(await verifySignature(authorKey, signedMessage(head), last.signature)))
    throw new EntryError('bad-signature', `bad signature on ${last.author.slice(0, 8)}… seq ${last.seq}`);
  return head;
}

/**
 * The structural half of `verifyRun`: checks that the run is one chain without gaps and returns the head its hashes
 * fold to, without looking at any signature. A caller that does not check the last entry's signature must check the
 * head against something the author signed instead (a manifest: docs/protocol.md, "Manifests").
 */
export function foldRun(run: readonly Entry[], prev: Uint8Array): Uint8Array {
  if (run.length === 0) throw new EntryError('bad-entry', 'empty run');
  const first = run[0]!;
  let head = first.kind === 'packed' ? chainSeed(first.group, first.bucket, first.author) : prev;
  let expectedSeq = first.kind === 'packed' ? undefined : first.seq;
  for (const entry of run) {
    if (entry.group !== first.group || entry.bucket !== first.bucket || entry.author !== first.author)
      throw new EntryError('bad-chain', 'run mixes chains');
    if (entry.kind === 'packed') {
      if (entry !== first) throw new EntryError('bad-chain', 'a packed entry can only start a run');
    } else if (entry.seq !== expectedSeq) {
      throw new EntryError('gap', `expected seq ${expectedSeq}, got ${entry.seq}`);
    }
    head = chainHash(head, entry);
    expectedSeq = entry.seq + 1;
  }
  return head;
}
