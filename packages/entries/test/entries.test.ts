import { aeadKey, generateSigningKeyPair, randomBytes, sha256 } from '@schoolmesh/crypto';
import { DecodeError, Encoder, toBase64Url } from '@schoolmesh/wire';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Entry,
  EntryError,
  chainHash,
  chainSeed,
  encodeEntryHeader,
  decodeEntry,
  decodeManifest,
  encodeManifest,
  foldRun,
  manifestChain,
  signManifest,
  verifyManifest,
  encodeEntry,
  missingCount,
  openEntry,
  sealEntry,
  vectorDigest,
  verifyRun,
} from '../src/index.ts';

const group = toBase64Url(new Uint8Array(16).fill(7));
const epoch = toBase64Url(new Uint8Array(8).fill(1));
const text = (s: string) => new TextEncoder().encode(s);

let author: { id: string; signing: Awaited<ReturnType<typeof generateSigningKeyPair>> };
let other: typeof author;
let key: Awaited<ReturnType<typeof aeadKey>>;

async function writeChain(n: number, bucket = 100, who = author): Promise<Entry[]> {
  const out: Entry[] = [];
  let prev = chainSeed(group, bucket, who.id);
  for (let seq = 1; seq <= n; seq++) {
    const { entry, head } = await sealEntry(who, key, { kind: 'single', group, bucket, seq, epoch, plaintext: text(`message ${seq}`), prev });
    out.push(entry);
    prev = head;
  }
  return out;
}

const unsigned = (entries: Entry[]) => entries.map((e, i) => (i === entries.length - 1 ? e : { ...e, signature: undefined }));

beforeAll(async () => {
  const s1 = await generateSigningKeyPair();
  const s2 = await generateSigningKeyPair();
  author = { id: toBase64Url(s1.publicKey), signing: s1 };
  other = { id: toBase64Url(s2.publicKey), signing: s2 };
  key = await aeadKey(randomBytes(32));
});

describe('entries', () => {
  it('seal, encode, decode, verify and open round-trip', async () => {
    const chain = await writeChain(3);
    const decoded = chain.map((e) => decodeEntry(encodeEntry(e)));
    const head = await verifyRun(decoded, chainSeed(group, 100, author.id), author.signing.publicKey);
    expect(head).toHaveLength(32);
    expect(new TextDecoder().decode(await openEntry(decoded[2]!, key))).toBe('message 3');
  });

  it('one signature at the end authenticates a whole run', async () => {
    const chain = unsigned(await writeChain(5));
    await expect(verifyRun(chain, chainSeed(group, 100, author.id), author.signing.publicKey)).resolves.toHaveLength(32);
  });

  it('a run continues from the receiver head', async () => {
    const chain = await writeChain(4);
    const head2 = await verifyRun(chain.slice(0, 2), chainSeed(group, 100, author.id), author.signing.publicKey);
    await expect(verifyRun(chain.slice(2), head2, author.signing.publicKey)).resolves.toBeDefined();
  });

  it('rejects tampered ciphertext anywhere in the run, gaps, forged and foreign signatures', async () => {
    const chain = unsigned(await writeChain(4));
    const seed = chainSeed(group, 100, author.id);
    const tampered = chain.map((e) => ({ ...e }));
    tampered[1] = { ...tampered[1]!, ciphertext: tampered[1]!.ciphertext.slice() };
    tampered[1].ciphertext[0]! ^= 1;
    await expect(verifyRun(tampered, seed, author.signing.publicKey)).rejects.toMatchObject({ code: 'bad-signature' });
    await expect(verifyRun([chain[0]!, chain[2]!, chain[3]!], seed, author.signing.publicKey)).rejects.toMatchObject({ code: 'gap' });
    await expect(verifyRun(chain, seed, other.signing.publicKey)).rejects.toBeInstanceOf(EntryError);
    const relabelled = chain.map((e) => ({ ...e, bucket: 101 }));
    await expect(verifyRun(relabelled, chainSeed(group, 101, author.id), author.signing.publicKey)).rejects.toMatchObject({ code: 'bad-signature' });
    const lastUnsigned = chain.map((e) => ({ ...e, signature: undefined }));
    await expect(verifyRun(lastUnsigned, seed, author.signing.publicKey)).rejects.toMatchObject({ code: 'bad-signature' });
  });

  it('binds the header as associated data: a moved entry does not decrypt', async () => {
    const [entry] = await writeChain(1);
    await expect(openEntry({ ...entry!, seq: 2 }, key)).rejects.toMatchObject({ code: 'decrypt-failed' });
    await expect(openEntry(entry!, await aeadKey(randomBytes(32)))).rejects.toMatchObject({ code: 'decrypt-failed' });
  });

  it('a packed entry starts its own chain from the seed', async () => {
    const { entry } = await sealEntry(author, key, { kind: 'packed', group, bucket: 100, seq: 9, epoch, plaintext: text('all nine'), prev: new Uint8Array(32) });
    await expect(verifyRun([entry], new Uint8Array(32), author.signing.publicKey)).resolves.toBeDefined();
  });

  it('the chain hash is SHA-256 of prev, header, length-prefixed nonce and length-prefixed ciphertext (protocol.md)', async () => {
    const [entry] = await writeChain(1);
    const prev = randomBytes(32);
    const enc = new Encoder(400).fixed(prev, 32);
    encodeEntryHeader(enc, entry!);
    const expected = sha256(enc.bytes(entry!.nonce).bytes(entry!.ciphertext).finish());
    expect([...chainHash(prev, entry!)]).toEqual([...expected]);
  });

  it('vector digests tell vectors apart; missingCount counts what a peer lacks', () => {
    const a = new Map([[author.id, 3], [other.id, 1]]);
    const b = new Map([[other.id, 1], [author.id, 3]]);
    expect(vectorDigest(a)).toBe(vectorDigest(b));
    expect(vectorDigest(a)).not.toBe(vectorDigest(new Map([[author.id, 4], [other.id, 1]])));
    expect(vectorDigest(new Map())).toBe('');
    expect(missingCount(a, new Map([[author.id, 1]]))).toBe(3);
  });

  it('decoding random and mutated bytes only ever throws DecodeError', async () => {
    const [entry] = await writeChain(1);
    const valid = encodeEntry(entry!);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.boolean(), (random, flips, useRandom) => {
        const bytes = useRandom ? random : valid.slice();
        if (!useRandom) for (const [i, v] of flips) bytes[i % bytes.length] = v;
        try {
          decodeEntry(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('a manifest vouches for chain heads: signed by its author, every field bound, round-trips, and the head of an unsigned run checks against it', async () => {
    const chain = await writeChain(3, 100);
    const head = foldRun(unsigned(chain).map((e) => ({ ...e, signature: undefined })), chainSeed(group, 100, author.id));
    const m = await signManifest(author, { group, issued: 5, chains: [{ bucket: 101, seq: 1, head: new Uint8Array(32) }, { bucket: 100, seq: 3, head }] });
    expect(m.chains.map((c) => c.bucket)).toEqual([100, 101]);
    expect(await verifyManifest(m)).toBe(true);
    expect(decodeManifest(encodeManifest(m))).toEqual(m);
    expect(manifestChain(m, 100)?.head).toEqual(head);
    // The head of a tampered run is not the listed one.
    const tampered = chain.map((e, i) => (i === 1 ? { ...e, ciphertext: e.ciphertext.map((b, j) => (j === 0 ? b ^ 1 : b)) } : e));
    expect(foldRun(tampered, chainSeed(group, 100, author.id))).not.toEqual(head);
    const changed = [
      { ...m, group: toBase64Url(new Uint8Array(16).fill(8)) },
      { ...m, author: other.id },
      { ...m, issued: 6 },
      { ...m, chains: [{ ...m.chains[0]!, seq: 4 }, m.chains[1]!] },
      { ...m, chains: [{ ...m.chains[0]!, bucket: 99 }, m.chains[1]!] },
      { ...m, chains: [{ ...m.chains[0]!, head: sha256(head) }, m.chains[1]!] },
      { ...m, chains: [m.chains[0]!] },
      { ...m, signature: (await signManifest(other, { group, issued: 5, chains: m.chains })).signature },
    ];
    for (const x of changed) expect(await verifyManifest(x)).toBe(false);
    await expect(signManifest(author, { group, issued: 1, chains: [{ bucket: 1, seq: 1, head }, { bucket: 1, seq: 2, head }] })).rejects.toThrow(RangeError);
  });

  it('decoding random and mutated manifests only ever throws DecodeError', async () => {
    const m = await signManifest(author, { group, issued: 9, chains: [{ bucket: 100, seq: 3, head: new Uint8Array(32).fill(1) }, { bucket: 102, seq: 1, head: new Uint8Array(32) }] });
    const valid = encodeManifest(m);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(8), fc.boolean(), (random, flips, cut, useRandom) => {
        const bytes = useRandom ? random : valid.slice(0, valid.length - cut);
        if (!useRandom) for (const [i, v] of flips) bytes[i % bytes.length] = v;
        try {
          decodeManifest(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { seed: 43, numRuns: 2000 },
    );
  });
});
