import { type SigningKeyPair, verifySignature } from '@schoolmesh/crypto';
import { type Decoder, Encoder, concatBytes, decode, fromBase64Url, toBase64Url } from '@schoolmesh/wire';
import { DEVICE_ID_BYTES, GROUP_ID_BYTES, SIGNATURE_BYTES } from './entry.ts';

const MANIFEST_CONTEXT = new TextEncoder().encode('schoolmesh/manifest/v1');

/** Most chains one manifest may list: one per live bucket, and no retention is longer than this many days. */
export const MAX_MANIFEST_CHAINS = 4_000;

/** One packed chain a manifest vouches for: its bucket, the last seq the packed entry covers, its head hash. */
export interface ManifestChain {
  bucket: number;
  seq: number;
  head: Uint8Array;
}

/**
 * One author's signed list of its packed chains of live buckets in one group (docs/protocol.md, "Manifests").
 * A packed entry whose computed head a verified manifest lists needs no signature of its own: catch-up checks
 * one signature per author and group instead of one per author, group and day.
 */
export interface Manifest {
  /** base64url of the 16-byte group id. */
  group: string;
  /** base64url of the author device's Ed25519 key. */
  author: string;
  /** The author's clock (ms) when it signed; a later manifest of the same author and group is newer. */
  issued: number;
  /** Sorted by bucket, one chain per bucket. */
  chains: ManifestChain[];
  signature: Uint8Array;
}

function writeBody(enc: Encoder, m: Omit<Manifest, 'signature'>): Encoder {
  enc.fixed(fromBase64Url(m.group), GROUP_ID_BYTES);
  enc.fixed(fromBase64Url(m.author), DEVICE_ID_BYTES);
  enc.varuint(m.issued);
  enc.list(m.chains, (e, c) => e.varuint(c.bucket).varuint(c.seq).fixed(c.head, 32));
  return enc;
}

/** The bytes the author signs: `"schoolmesh/manifest/v1" ‖ group ‖ author ‖ varuint issued ‖ list(bucket, seq, head)`. */
export function manifestMessage(m: Omit<Manifest, 'signature'>): Uint8Array {
  return concatBytes(MANIFEST_CONTEXT, writeBody(new Encoder(64 + m.chains.length * 40), m).finish());
}

/** Signs a manifest as its author. Chains are sorted by bucket; two chains of one bucket are refused. */
export async function signManifest(
  author: { id: string; signing: SigningKeyPair },
  body: { group: string; issued: number; chains: readonly ManifestChain[] },
): Promise<Manifest> {
  const chains = [...body.chains].sort((a, b) => a.bucket - b.bucket);
  for (let i = 1; i < chains.length; i++) if (chains[i]!.bucket === chains[i - 1]!.bucket) throw new RangeError('two chains of one bucket');
  if (chains.length > MAX_MANIFEST_CHAINS) throw new RangeError(`more than ${MAX_MANIFEST_CHAINS} chains`);
  const unsigned = { group: body.group, author: author.id, issued: body.issued, chains };
  return { ...unsigned, signature: await author.signing.sign(manifestMessage(unsigned)) };
}

/** True when the author's key signed exactly this manifest. */
export function verifyManifest(m: Manifest): Promise<boolean> {
  return verifySignature(fromBase64Url(m.author), manifestMessage(m), m.signature);
}

/** The chain a manifest lists for a bucket, if any. */
export function manifestChain(m: Manifest, bucket: number): ManifestChain | undefined {
  for (const c of m.chains) if (c.bucket === bucket) return c;
  return undefined;
}

export function writeManifest(enc: Encoder, m: Manifest): Encoder {
  return writeBody(enc, m).fixed(m.signature, SIGNATURE_BYTES);
}

/** Refuses (DecodeError) more than MAX_MANIFEST_CHAINS chains, buckets not strictly ascending, seq 0. */
export function readManifest(dec: Decoder): Manifest {
  const group = toBase64Url(dec.fixed(GROUP_ID_BYTES));
  const author = toBase64Url(dec.fixed(DEVICE_ID_BYTES));
  const issued = dec.varuint();
  let last = -1;
  const chains = dec.list(
    (d) => {
      const bucket = d.varuint(0xffffffff);
      if (bucket <= last) d.fail('bad-value', 'manifest buckets must ascend');
      last = bucket;
      const seq = d.varuint();
      if (seq < 1) d.fail('bad-value', 'manifest seq must be at least 1');
      return { bucket, seq, head: d.fixed(32).slice() };
    },
    34,
    MAX_MANIFEST_CHAINS,
  );
  const signature = dec.fixed(SIGNATURE_BYTES).slice();
  return { group, author, issued, chains, signature };
}

export function encodeManifest(m: Manifest): Uint8Array {
  return writeManifest(new Encoder(128 + m.chains.length * 40), m).finish();
}

/** Total: only DecodeError. */
export function decodeManifest(bytes: Uint8Array): Manifest {
  return decode(bytes, readManifest);
}
