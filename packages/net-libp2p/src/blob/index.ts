export { openBlobChannel, relayBlobTransport } from './dial.ts';
export {
  BLOB_CHUNK_BYTES,
  BLOB_PROTOCOL,
  BlobError,
  BlobErrorCode,
  type BlobFrame,
  BlobFrameType,
  type BlobRef,
  decodeBlobFrame,
  encodeBlobFrame,
  MAX_BLOB_DECLARED_BYTES,
} from './frames.ts';
export { BlobFrameReader, getBlob, putBlob, receiveChunks, sendChunks, sendFrame } from './transfer.ts';
