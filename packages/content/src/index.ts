/**
 * Chat content of one group and one bucket (UTC day) as a Yjs document, with authorship every replica can check:
 * a device writes only keys under its own prefix, with a client id derived from its device id.
 */
export { authorPrefix, clientIdFor, docNameFor, isClientId, parseAuthorPrefix } from './ids.ts';
export {
  type Attachment,
  type KeyInfo,
  LIMITS,
  type MessageRef,
  type MessageValue,
  type ReadValue,
  checkMessageValue,
  checkReactionValue,
  checkReadValue,
  isEmoji,
  isMessageKey,
  parseKey,
} from './schema.ts';
export { ROOT, type ValidateOptions, type Validation, validateUpdate } from './validate.ts';
export {
  BucketDoc,
  type ChatMessage,
  ContentError,
  type ForeignReaction,
  type PostInput,
  type ReadMarker,
} from './bucket.ts';
export { mergeOwnUpdates } from './merge.ts';
