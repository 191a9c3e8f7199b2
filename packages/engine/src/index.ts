export { type Clock, ManualClock, systemClock } from './clock.ts';
export { deviceCredential, trustStoreVerifier } from './credentials.ts';
export { type CreateGroupInput, Engine, EngineError, type EngineEvent, type EngineOptions, type GroupSummary, MAINTENANCE_MS, type Posted } from './engine.ts';
export { type GroupEvent, type PolicyChange, groupHistory } from './group-history.ts';
export { KeyRing } from './keyring.ts';
export {
  type AttachmentInput,
  AttachmentError,
  type BlobAddress,
  type BlobTransport,
  MAX_ATTACHMENT_BYTES,
  openAttachment,
  sealAttachment,
} from './attachments.ts';
