import { type Decoder, Encoder, decode } from '@schoolmesh/wire';

/** What a replica remembers of one (group, bucket, author) chain: how far it holds it and the signed head. */
export interface ChainState {
  seq: number;
  head: Uint8Array;
  signature: Uint8Array;
  /** True when entries 1..seq are stored as one packed entry. */
  packed: boolean;
}

export function encodeChainState(c: ChainState): Uint8Array {
  return new Encoder(110).varuint(c.seq).fixed(c.head, 32).fixed(c.signature, 64).bool(c.packed).finish();
}

export function decodeChainState(bytes: Uint8Array): ChainState {
  return decode(bytes, (d: Decoder) => ({
    seq: d.varuint(),
    head: d.fixed(32).slice(),
    signature: d.fixed(64).slice(),
    packed: d.bool(),
  }));
}
