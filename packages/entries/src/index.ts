export {
  DEVICE_ID_BYTES,
  EPOCH_ID_BYTES,
  type Entry,
  type EntryKind,
  GROUP_ID_BYTES,
  MAX_ENTRY_CIPHERTEXT,
  SIGNATURE_BYTES,
  encodeEntryHeader,
  entryHeaderBytes,
  readEntry,
  writeEntry,
} from './entry.ts';
export { EntryError, chainHash, chainSeed, foldRun, signedMessage, verifyRun } from './chain.ts';
export { type SealInput, openEntry, sealEntry } from './seal.ts';
export { type VersionVector, missingCount, vectorDigest } from './vector.ts';
export { decodeEntry, encodeEntry } from './codec.ts';
export {
  MAX_MANIFEST_CHAINS,
  type Manifest,
  type ManifestChain,
  decodeManifest,
  encodeManifest,
  manifestChain,
  manifestMessage,
  readManifest,
  signManifest,
  verifyManifest,
  writeManifest,
} from './manifest.ts';
