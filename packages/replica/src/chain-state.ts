import { type Decoder, Encoder, decode, fromBase64Url, toBase64Url } from '@schoolmesh/wire';

/** What a replica remembers of one (group, bucket, author) chain: how far it holds it and the signed head. */
export interface ChainState {
  seq: number;
  head: Uint8Array;
  signature: Uint8Array;
  /** True when entries 1..seq are stored as one packed entry. */
  packed: boolean;
}

/**
 * All chains of one (group, bucket) in one record: one storage key per bucket instead of one per author keeps the
 * store small (docs/benchmarks.md); a write rewrites the bucket's record (~140 bytes per author).
 */
export function encodeBucketChains(chains: ReadonlyMap<string, ChainState>): Uint8Array {
  const enc = new Encoder(chains.size * 140 + 4);
  enc.varuint(chains.size);
  for (const [author, c] of [...chains].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    enc.fixed(fromBase64Url(author), 32).varuint(c.seq).fixed(c.head, 32).fixed(c.signature, 64).bool(c.packed);
  }
  return enc.finish();
}

export function decodeBucketChains(bytes: Uint8Array): Map<string, ChainState> {
  return decode(bytes, (d: Decoder) => {
    const out = new Map<string, ChainState>();
    const n = d.varuint(100_000);
    for (let i = 0; i < n; i++) {
      const author = toBase64Url(d.fixed(32));
      out.set(author, { seq: d.varuint(), head: d.fixed(32).slice(), signature: d.fixed(64).slice(), packed: d.bool() });
    }
    return out;
  });
}
