import { sha256 } from '@noble/hashes/sha2.js';

/** The name of the Yjs document that holds one group's content for one bucket (UTC day). */
export function docNameFor(groupId: string, bucket: number): string {
  return `${groupId}/${bucket}`;
}

const utf8 = new TextEncoder();

/**
 * The Yjs clientID a device writes with in one document: the first 53 bits of
 * SHA-256(utf8(deviceId + '\u0000' + docName)), never 0. Deterministic, so every replica can check authorship
 * of an update against the device the sync layer says signed it.
 */
export function clientIdFor(deviceId: string, docName: string): number {
  const h = sha256(utf8.encode(`${deviceId}\u0000${docName}`));
  let n = 0;
  for (let i = 0; i < 6; i++) n = n * 256 + h[i]!; // 48 bits, exact
  n = n * 32 + (h[6]! >> 3); // 53 bits, still a safe integer
  return n === 0 ? 1 : n;
}

/** A valid author client id: a positive safe integer (0 is reserved, see `BucketDoc.applyRemote`). */
export function isClientId(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0;
}

/** The prefix every key written by `clientId` starts with (followed by '/'). */
export function authorPrefix(clientId: number): string {
  if (!isClientId(clientId)) throw new RangeError(`not a client id: ${clientId}`);
  return clientId.toString(36);
}

/** The client id a canonical author prefix stands for, or null if `prefix` is not canonical. */
export function parseAuthorPrefix(prefix: string): number | null {
  if (!/^[0-9a-z]{1,11}$/.test(prefix)) return null;
  const n = Number.parseInt(prefix, 36);
  if (!isClientId(n) || n.toString(36) !== prefix) return null;
  return n;
}
