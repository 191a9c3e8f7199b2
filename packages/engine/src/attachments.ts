import type { Attachment } from '@schoolmesh/content';
import { CryptoError, openBlob, paddedLength, sealBlob } from '@schoolmesh/crypto';
import type { StorageAdapter } from '@schoolmesh/storage';
import { fromBase64Url, fromHex, toBase64Url, toHex } from '@schoolmesh/wire';

/**
 * Largest attachment a device sends (plaintext bytes); relays enforce their own limit on the sealed blob. Padded,
 * it stays 10 MiB (a multiple of Padmé's step there), so the relays' default of 10 MiB + 40 bytes takes it.
 */
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;
/** Sealing adds a nonce and a tag. */
const SEALING_BYTES = 40;

/** Where a sealed blob lives: the group and bucket of the message that references it, and its address. */
export interface BlobAddress {
  group: string;
  bucket: number;
  /** base64url of SHA-256 of the sealed blob. */
  id: string;
}

/**
 * How blobs move: the device's link to its relay (`/schoolmesh/blob/1` over libp2p in practice). The engine seals
 * and verifies; the transport only carries sealed bytes.
 */
export interface BlobTransport {
  put(address: BlobAddress, sealed: Uint8Array, onProgress?: (done: number, total: number) => void): Promise<void>;
  get(address: BlobAddress, maxBytes: number, onProgress?: (done: number, total: number) => void): Promise<Uint8Array>;
}

export interface AttachmentInput {
  name: string;
  mime: string;
  bytes: Uint8Array;
}

export class AttachmentError extends Error {
  override readonly name = 'AttachmentError';
  constructor(
    readonly code: 'too-large' | 'offline' | 'not-found' | 'corrupt' | 'refused',
    message: string,
  ) {
    super(message);
  }
}

/** The local copy of a sealed blob: `blob / group / bucket(10 digits) / id`; retention removes it with its bucket. */
export function blobKey(a: BlobAddress): string[] {
  return ['blob', a.group, String(a.bucket).padStart(10, '0'), a.id];
}

/** Seals one file: the blob to store and upload, and the reference the message carries (with key and hash). */
export function sealAttachment(input: AttachmentInput): { sealed: Uint8Array; attachment: Attachment } {
  if (input.bytes.length > MAX_ATTACHMENT_BYTES)
    throw new AttachmentError('too-large', `attachment of ${input.bytes.length} bytes exceeds ${MAX_ATTACHMENT_BYTES} bytes`);
  const blob = sealBlob(input.bytes);
  return {
    sealed: blob.sealed,
    attachment: { id: toBase64Url(blob.id), name: input.name, mime: input.mime, size: input.bytes.length, sha256: toHex(blob.plainHash), key: toBase64Url(blob.key) },
  };
}

/** Opens a sealed blob against the reference of its message; a mismatch is AttachmentError('corrupt'). */
export function openAttachment(sealed: Uint8Array, a: Attachment): Uint8Array {
  if (!a.key) throw new AttachmentError('corrupt', 'the attachment carries no key');
  try {
    return openBlob(sealed, { id: fromBase64Url(a.id), key: fromBase64Url(a.key), plainHash: fromHex(a.sha256), size: a.size });
  } catch (error) {
    if (error instanceof CryptoError) throw new AttachmentError('corrupt', `attachment does not verify: ${error.message}`);
    throw new AttachmentError('corrupt', 'attachment reference is malformed');
  }
}

/** Largest sealed blob a reference can stand for (its size padded, plus nonce and tag). */
export function sealedSizeOf(a: Attachment): number {
  return paddedLength(a.size) + SEALING_BYTES;
}

/** Removes local blobs of buckets older than `oldest` in one group. */
export async function expireBlobs(storage: StorageAdapter, group: string, oldest: number): Promise<number> {
  const buckets = new Set((await storage.keys(['blob', group])).map((k) => k[2]!));
  let removed = 0;
  for (const b of buckets) {
    if (Number(b) >= oldest) continue;
    await storage.removeRange(['blob', group, b]);
    removed++;
  }
  return removed;
}
