import { memoryChannelPair } from '@schoolmesh/sync';
import { DecodeError, toBase64Url } from '@schoolmesh/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BLOB_CHUNK_BYTES,
  BlobError,
  BlobErrorCode,
  type BlobFrame,
  BlobFrameReader,
  decodeBlobFrame,
  encodeBlobFrame,
  getBlob,
  putBlob,
  receiveChunks,
  sendFrame,
} from '../src/blob/index.ts';

const group = toBase64Url(new Uint8Array(16).fill(7));
const id = toBase64Url(new Uint8Array(32).fill(9));

const arbRef = fc.record({
  group: fc.uint8Array({ minLength: 16, maxLength: 16 }).map(toBase64Url),
  bucket: fc.nat({ max: 0xffff_ffff }),
  id: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toBase64Url),
});
const arbFrame: fc.Arbitrary<BlobFrame> = fc.oneof(
  fc.tuple(arbRef, fc.nat({ max: 1 << 30 })).map(([r, size]) => ({ type: 'put' as const, ...r, size })),
  arbRef.map((r) => ({ type: 'get' as const, ...r })),
  fc.uint8Array({ maxLength: 2048 }).map((bytes) => ({ type: 'data' as const, bytes })),
  fc.nat({ max: 1 << 30 }).map((size) => ({ type: 'ok' as const, size })),
  fc.tuple(fc.nat({ max: 0xffff }), fc.string({ maxLength: 200 })).map(([code, message]) => ({ type: 'error' as const, code, message })),
);

describe('blob frames', () => {
  it('round-trip', () => {
    fc.assert(fc.property(arbFrame, (f) => {
        expect(decodeBlobFrame(encodeBlobFrame(f))).toEqual(f);
      }), { numRuns: 500 });
  });

  it('the decoder is total: any bytes give a frame or a DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          const f = decodeBlobFrame(bytes);
          // What decodes re-encodes to the same bytes (one encoding per frame).
          expect(encodeBlobFrame(f)).toEqual(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('mutated valid frames never throw anything but DecodeError', () => {
    fc.assert(
      fc.property(arbFrame, fc.nat(), fc.nat({ max: 255 }), (f, at, value) => {
        const bytes = encodeBlobFrame(f);
        bytes[at % bytes.length] = value;
        try {
          decodeBlobFrame(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses oversized chunks, declared sizes and trailing bytes', () => {
    expect(() => encodeBlobFrame({ type: 'data', bytes: new Uint8Array(BLOB_CHUNK_BYTES + 1) })).toThrow(RangeError);
    const data = encodeBlobFrame({ type: 'data', bytes: new Uint8Array(BLOB_CHUNK_BYTES) });
    data[1] = 0x81; // raise the declared length by one past the chunk limit
    expect(() => decodeBlobFrame(data)).toThrow(DecodeError);
    expect(() => decodeBlobFrame(new Uint8Array([4, 0x80, 0x80, 0x80, 0x80, 0x08]))).toThrow(/exceeds/);
    expect(() => decodeBlobFrame(new Uint8Array([4, 1, 0]))).toThrow(/trailing/);
    expect(() => decodeBlobFrame(new Uint8Array([6]))).toThrow(DecodeError);
  });
});

describe('blob transfer over a channel', () => {
  it('puts and gets a multi-chunk blob with progress', async () => {
    const blob = new Uint8Array(BLOB_CHUNK_BYTES * 2 + 123).map((_, i) => i % 251);
    const [client, server] = memoryChannelPair();
    const reader = new BlobFrameReader(server);
    const progress: number[] = [];
    const put = putBlob(client, { group, bucket: 5, id }, blob, (done) => progress.push(done));
    const first = await reader.next();
    expect(first).toMatchObject({ type: 'put', group, bucket: 5, id, size: blob.length });
    const received = await receiveChunks(reader, blob.length);
    sendFrame(server, { type: 'ok', size: blob.length });
    await put;
    expect(Buffer.compare(received, blob)).toBe(0);
    expect(progress.at(-1)).toBe(blob.length);

    const [c2, s2] = memoryChannelPair();
    const r2 = new BlobFrameReader(s2);
    const get = getBlob(c2, { group, bucket: 5, id }, blob.length);
    expect(await r2.next()).toMatchObject({ type: 'get', group, bucket: 5, id });
    sendFrame(s2, { type: 'ok', size: blob.length });
    for (let at = 0; at < blob.length; at += BLOB_CHUNK_BYTES) sendFrame(s2, { type: 'data', bytes: blob.subarray(at, at + BLOB_CHUNK_BYTES) });
    expect(Buffer.compare(await get, blob)).toBe(0);
  });

  it('a refusal becomes a BlobError with its code; a too-large answer is refused before its data', async () => {
    const [client, server] = memoryChannelPair();
    const reader = new BlobFrameReader(server);
    const put = putBlob(client, { group, bucket: 5, id }, new Uint8Array(10));
    await reader.next();
    sendFrame(server, { type: 'error', code: BlobErrorCode.Forbidden, message: 'not a member' });
    await expect(put).rejects.toMatchObject({ name: 'BlobError', code: BlobErrorCode.Forbidden, message: 'not a member' });

    const [c2, s2] = memoryChannelPair();
    const r2 = new BlobFrameReader(s2);
    const get = getBlob(c2, { group, bucket: 5, id }, 100);
    await r2.next();
    sendFrame(s2, { type: 'ok', size: 101 });
    await expect(get).rejects.toMatchObject({ code: BlobErrorCode.TooLarge });

    const [c3, s3] = memoryChannelPair();
    const get3 = getBlob(c3, { group, bucket: 5, id }, 100);
    s3.send(new Uint8Array([99]));
    await expect(get3).rejects.toBeInstanceOf(BlobError);
  });
});
