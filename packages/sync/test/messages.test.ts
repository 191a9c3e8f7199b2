import { DecodeError, toBase64Url } from '@schoolmesh/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type SyncMessage, decodeMessage, encodeMessage } from '../src/index.ts';

const g = toBase64Url(new Uint8Array(16).fill(3));
const id32 = (n: number) => toBase64Url(new Uint8Array(32).fill(n));

const samples: SyncMessage[] = [
  { type: 'hello', version: 1, minVersion: 1, credentialKind: 'device', credential: new Uint8Array([1, 2, 3]), nonce: new Uint8Array(32).fill(9), agent: 'test' },
  { type: 'auth', signature: new Uint8Array(64).fill(5) },
  { type: 'groups', groups: [{ group: g, heads: [id32(1), id32(2)] }] },
  { type: 'membership', group: g, ops: [new Uint8Array([7, 7])] },
  { type: 'summary', group: g, buckets: [{ bucket: 20000, digest: toBase64Url(new Uint8Array(8).fill(1)) }, { bucket: 20001, digest: '' }] },
  { type: 'vector', group: g, bucket: 20000, vector: [{ author: id32(4), seq: 12 }] },
  {
    type: 'entries',
    batch: 3,
    entries: [
      { kind: 'single', group: g, bucket: 20000, author: id32(4), seq: 1, epoch: toBase64Url(new Uint8Array(8)), nonce: new Uint8Array(24), ciphertext: new Uint8Array(40), signature: new Uint8Array(64) },
    ],
  },
  { type: 'ack', batch: 3, accepted: 1, rejected: 0, reason: '' },
  { type: 'plan', group: g, bucket: 20000, count: 12 },
  { type: 'error', code: 3, message: 'nein' },
  { type: 'summaries-done' },
  { type: 'heads', group: g, heads: [id32(6)] },
  {
    type: 'manifest',
    manifest: {
      group: g,
      author: id32(4),
      issued: 1_790_000_000_000,
      chains: [
        { bucket: 20000, seq: 3, head: new Uint8Array(32).fill(8) },
        { bucket: 20001, seq: 1, head: new Uint8Array(32).fill(9) },
      ],
      signature: new Uint8Array(64).fill(2),
    },
  },
];

describe('sync messages', () => {
  it('round-trip every message type', () => {
    for (const m of samples) expect(decodeMessage(encodeMessage(m))).toEqual(m);
  });

  it('random and mutated frames give DecodeError, never another exception', () => {
    const encoded = samples.map(encodeMessage);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.nat(encoded.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 5 }),
        fc.nat(300),
        fc.boolean(),
        (random, which, flips, cut, useRandom) => {
          let bytes = random;
          if (!useRandom) {
            bytes = encoded[which]!.slice(0, Math.max(1, encoded[which]!.length - (cut % 4)));
            for (const [i, v] of flips) bytes[i % bytes.length] = v;
          }
          try {
            decodeMessage(bytes);
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError);
          }
        },
      ),
      { seed: 7, numRuns: 3000 },
    );
  });

  it('MANIFEST (13): buckets must ascend, seq at least 1, at most 4,000 chains', () => {
    const m = samples.find((x) => x.type === 'manifest')!;
    const bytes = encodeMessage(m);
    expect(bytes[0]).toBe(13);
    if (m.type !== 'manifest') throw new Error('sample');
    const swapped = { ...m, manifest: { ...m.manifest, chains: [...m.manifest.chains].reverse() } };
    expect(() => decodeMessage(encodeMessage(swapped))).toThrow(/ascend/);
    const zero = { ...m, manifest: { ...m.manifest, chains: [{ ...m.manifest.chains[0]!, seq: 0 }] } };
    expect(() => decodeMessage(encodeMessage(zero))).toThrow(/seq/);
    const many = { ...m, manifest: { ...m.manifest, chains: Array.from({ length: 4001 }, (_, i) => ({ bucket: i, seq: 1, head: new Uint8Array(32) })) } };
    expect(() => decodeMessage(encodeMessage(many))).toThrow(DecodeError);
  });

  it('refuses list counts that cannot fit without allocating them', () => {
    const bytes = Uint8Array.of(7, 1, 0xff, 0xff, 0xff, 0x7f);
    expect(() => decodeMessage(bytes)).toThrow(DecodeError);
  });
});
