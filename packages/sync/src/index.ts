export { type ByteStream, type FrameChannel, framedByteChannel, memoryChannelPair } from './channel.ts';
export {
  type CredentialKind,
  ErrorCode,
  MAX_HEADS,
  MAX_OPS,
  MIN_PROTOCOL_VERSION,
  MessageType,
  PROTOCOL_VERSION,
  type SyncMessage,
  decodeMessage,
  encodeMessage,
} from './messages.ts';
export type { ApplyResult, GroupOffer, LocalCredential, PeerInfo, PeerVerifier, SyncReplica } from './replica.ts';
export { SyncError, type SyncProgress, SyncRefusal, SyncSession, type SyncSessionOptions } from './session.ts';
export { boundToTransport } from './bound.ts';
