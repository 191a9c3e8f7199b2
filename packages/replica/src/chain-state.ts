import { type Decoder, Encoder, decode, fromBase64Url, toBase64Url } from '@schoolmesh/wire';

/** What a replica remembers of one (group, bucket, author) chain: how far it holds it and the signed head. */
export interface ChainState {
  seq: number;
  head: Uint8Array;
  /** The author's signature over the head; absent for a packed chain that a manifest of its author vouches for. */
  signature?: Uint8Array;
  /** True when entries 1..seq are stored as one packed entry. */
  packed: boolean;
}

/**
 * All chains of one (group, bucket) in one record: one storage key per bucket instead of one per author keeps the
 * store small (docs/benchmarks.md); a write rewrites the bucket's record (~140 bytes per author, ~75 for a chain a manifest vouches for).
 */
export function encodeBucketChains(chains: ReadonlyMap<string, ChainState>): Uint8Array {
  const enc = new Encoder(chains.size * 140 + 4);
  enc.varuint(chains.size);
  for (const [author, c] of [...chains].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    // flags: bit 0 packed, bit 1 no signature (a manifest vouches for the head).
    enc.fixed(fromBase64Url(author), 32).varuint(c.seq).fixed(c.head, 32).u8((c.packed ? 1 : 0) | (c.signature ? 0 : 2));
    if (c.signature) enc.fixed(c.signature, 64);
  }
  return enc.finish();
}

export function decodeBucketChains(bytes: Uint8Array): Map<string, ChainState> {
  return decode(bytes, (d: Decoder) => {
    const out = new Map<string, ChainState>();
    const n = d.varuint(100_000);
    for (let i = 0; i < n; i++) {
      const author = toBase64Url(d.fixed(32));
      const seq = d.varuint();
      const head = d.fixed(32).slice();
      const flags = d.u8();
      if (flags > 3) d.fail('bad-value', `chain flags ${flags}`);
      const signature = flags & 2 ? undefined : d.fixed(64).slice();
      const chain: ChainState = { seq, head, packed: (flags & 1) === 1 };
      if (signature) chain.signature = signature;
      out.set(author, chain);
    }
    return out;
  });
}
