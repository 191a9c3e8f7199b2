import { type Decoder, decode, Encoder, fromBase64Url, toBase64Url } from '@schoolmesh/wire';

/** The libp2p protocol id of blob transfer (docs/protocol.md, "Blobs"): one request per stream. */
export const BLOB_PROTOCOL = '/schoolmesh/blob/1';

/** Largest DATA chunk; a blob is sent as many chunks, far under the 4 MiB frame limit. */
export const BLOB_CHUNK_BYTES = 256 * 1024;
/** No blob may declare more than this, whatever a relay's configured limit (1 GiB). */
export const MAX_BLOB_DECLARED_BYTES = 1024 * 1024 * 1024;

const GROUP_BYTES = 16;
const ID_BYTES = 32;
const MAX_ERROR_MESSAGE_BYTES = 1024;

/** Numeric frame types. Never reuse a number. */
export const BlobFrameType = { Put: 1, Get: 2, Data: 3, Ok: 4, Error: 5 } as const;

/** Error codes of an ERROR frame; 1-7 mean what they mean in sync's ERROR, 8 and 9 are the blob protocol's own. */
export const BlobErrorCode = {
  Protocol: 1,
  Unauthenticated: 3,
  Forbidden: 4,
  TooLarge: 5,
  RateLimited: 6,
  Internal: 7,
  NotFound: 8,
  Mismatch: 9,
} as const;

/** Where a blob lives: the group and day bucket of the message that references it, and its address. */
export interface BlobRef {
  /** base64url of the 16-byte group id. */
  group: string;
  bucket: number;
  /** base64url of SHA-256 of the sealed blob. */
  id: string;
}

export type BlobFrame =
  | ({ type: 'put'; size: number } & BlobRef)
  | ({ type: 'get' } & BlobRef)
  | { type: 'data'; bytes: Uint8Array }
  | { type: 'ok'; size: number }
  | { type: 'error'; code: number; message: string };

/** A refusal or failure of the blob protocol, with the code the other side sent (or would have). */
export class BlobError extends Error {
  override readonly name = 'BlobError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }

  /** Sending the same blob again will not help (too large, bytes that do not match their address). */
  get permanent(): boolean {
    return this.code === BlobErrorCode.TooLarge || this.code === BlobErrorCode.Mismatch;
  }
}

function writeRef(enc: Encoder, r: BlobRef): void {
  enc.fixed(fromBase64Url(r.group), GROUP_BYTES).varuint(r.bucket).fixed(fromBase64Url(r.id), ID_BYTES);
}

function readRef(dec: Decoder): BlobRef {
  const group = toBase64Url(dec.fixed(GROUP_BYTES));
  const bucket = dec.varuint(0xffff_ffff);
  const id = toBase64Url(dec.fixed(ID_BYTES));
  return { group, bucket, id };
}

export function encodeBlobFrame(f: BlobFrame): Uint8Array {
  const enc = new Encoder(f.type === 'data' ? f.bytes.length + 8 : 64);
  switch (f.type) {
    case 'put':
      enc.varuint(BlobFrameType.Put);
      writeRef(enc, f);
      enc.varuint(f.size);
      break;
    case 'get':
      enc.varuint(BlobFrameType.Get);
      writeRef(enc, f);
      break;
    case 'data':
      if (f.bytes.length > BLOB_CHUNK_BYTES) throw new RangeError(`a DATA frame holds at most ${BLOB_CHUNK_BYTES} bytes`);
      enc.varuint(BlobFrameType.Data).bytes(f.bytes);
      break;
    case 'ok':
      enc.varuint(BlobFrameType.Ok).varuint(f.size);
      break;
    case 'error':
      enc.varuint(BlobFrameType.Error).varuint(f.code).string(f.message.slice(0, 500));
      break;
  }
  return enc.finish();
}

/** Total: any bytes give a frame or a DecodeError. */
export function decodeBlobFrame(bytes: Uint8Array): BlobFrame {
  return decode(bytes, (dec) => {
    const type = dec.tag(Object.values(BlobFrameType), 'blob frame type');
    switch (type) {
      case BlobFrameType.Put: {
        const ref = readRef(dec);
        return { type: 'put', ...ref, size: dec.varuint(MAX_BLOB_DECLARED_BYTES) };
      }
      case BlobFrameType.Get:
        return { type: 'get', ...readRef(dec) };
      case BlobFrameType.Data:
        return { type: 'data', bytes: dec.bytes(BLOB_CHUNK_BYTES) };
      case BlobFrameType.Ok:
        return { type: 'ok', size: dec.varuint(MAX_BLOB_DECLARED_BYTES) };
      default:
        return { type: 'error', code: dec.varuint(0xffff), message: dec.string(MAX_ERROR_MESSAGE_BYTES) };
    }
  });
}
