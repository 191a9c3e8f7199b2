import { sha256 } from '@schoolmesh/crypto';
import { Encoder, fromBase64Url, toBase64Url } from '@schoolmesh/wire';

/** Per (group, bucket): for each author device, the highest seq held (contiguous from 1). */
export type VersionVector = Map<string, number>;

/** 8 bytes that differ whenever two vectors differ (for the cheap first round of sync). */
export function vectorDigest(vector: VersionVector): string {
  if (vector.size === 0) return '';
  const authors = [...vector.keys()].sort();
  const enc = new Encoder(authors.length * 40);
  for (const a of authors) {
    enc.fixed(fromBase64Url(a), 32);
    enc.varuint(vector.get(a)!);
  }
  return toBase64Url(sha256(enc.finish()).subarray(0, 8));
}

/** How many entries `theirs` lacks of `mine`, counted in seq numbers. */
export function missingCount(mine: VersionVector, theirs: VersionVector): number {
  let n = 0;
  for (const [author, seq] of mine) n += Math.max(0, seq - (theirs.get(author) ?? 0));
  return n;
}
