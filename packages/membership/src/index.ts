/**
 * @schoolmesh/membership: per group, a signed, causally ordered log of membership operations that relays verify
 * without any content key, and the deterministic state (members, roles, devices, policy, key epochs) every
 * replica computes from it. See README.md.
 */
export { MembershipError, type MembershipErrorCode } from './errors.ts';
export {
  type AddBody,
  type AddDeviceBody,
  authorAccount,
  authorDeviceId,
  certificateAccount,
  certificateDeviceId,
  type CreateBody,
  createOp,
  decodeOp,
  encodeOp,
  limits,
  type MembershipOp,
  type MemberSpec,
  OP_DOMAIN,
  OP_VERSION,
  type OpBody,
  type OpType,
  type RemoveBody,
  type RemoveDeviceBody,
  type RenameBody,
  type RotateKeyBody,
  type SealedKey,
  type SetPolicyBody,
  type SetRoleBody,
  type ShareKeyBody,
  signedMessage,
  verifyOpSignature,
} from './ops.ts';
export {
  canPost,
  canRead,
  type DeviceEntry,
  devicesOf,
  devicesWithoutKey,
  type GroupState,
  type IgnoredOp,
  mayReceiveEpoch,
  needsRotation,
  readingDevices,
  roleOf,
} from './state.ts';
export { type AddResult, type AddStatus, MembershipLog, type MembershipLogOptions } from './log.ts';
export { EPOCH_KEY_BYTES, EPOCH_KEY_INFO, epochKeyInfo, newEpochBody, openEpochKey, shareKeyBody } from './keys.ts';
