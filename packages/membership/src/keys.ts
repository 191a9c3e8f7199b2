/**
 * Group key epochs: a rotate-key op seals a fresh 32-byte key to every current device (HPKE); share-key gives an
 * existing epoch's key to devices that joined after it. Info binds the group, aad binds the recipient device;
 * neither names the epoch, whose id (the rotate op's id) is only known once the op is signed.
 */
import { openSealed, randomBytes, sealToPublicKey } from '@schoolmesh/crypto';
import type { DeviceIdentity } from '@schoolmesh/identity';
import { concatBytes, fromBase64Url } from '@schoolmesh/wire';
import { MembershipError } from './errors.ts';
import type { RotateKeyBody, SealedKey, ShareKeyBody } from './ops.ts';
import { type GroupState, readingDevices } from './state.ts';

export const EPOCH_KEY_BYTES = 32;
export const EPOCH_KEY_INFO = 'schoolmesh/epoch-key/v1';
const infoPrefix = new TextEncoder().encode(EPOCH_KEY_INFO);

/** HPKE info: "schoolmesh/epoch-key/v1" ‖ the group id's 16 bytes. */
export function epochKeyInfo(group: string): Uint8Array {
  return concatBytes(infoPrefix, fromBase64Url(group));
}

/** HPKE aad: the recipient device's 32-byte Ed25519 key, so a box cannot be passed off as another device's. */
function epochKeyAad(deviceId: string): Uint8Array {
  return fromBase64Url(deviceId);
}

async function sealTo(state: GroupState, key: Uint8Array, devices: Iterable<string>): Promise<SealedKey[]> {
  const info = epochKeyInfo(state.id);
  const ids = [...new Set(devices)].sort();
  return Promise.all(
    ids.map(async (device) => {
      const entry = state.devices.get(device);
      if (!entry) throw new MembershipError('bad-argument', `device ${device} is not listed in the group`);
      return { device, box: await sealToPublicKey(entry.agreementKey, key, info, epochKeyAad(device)) };
    }),
  );
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== EPOCH_KEY_BYTES)
    throw new MembershipError('bad-epoch-key', `an epoch key has ${EPOCH_KEY_BYTES} bytes`);
}

/**
 * The body of a rotate-key op sealing `key` (default: fresh random bytes) to every current reading device (never to
 * a manager's) except `excluded` (devices the caller treats as removed, such as revoked ones).
 */
export async function newEpochBody(
  state: GroupState,
  key: Uint8Array = randomBytes(EPOCH_KEY_BYTES),
  excluded: ReadonlySet<string> = new Set(),
): Promise<{ body: RotateKeyBody; key: Uint8Array }> {
  checkKey(key);
  const devices = readingDevices(state).filter((d) => !excluded.has(d));
  return { body: { type: 'rotate-key', sealed: await sealTo(state, key, devices) }, key };
}

/** The body of a share-key op giving the key of `epochId` to `devices` (listed devices only). */
export async function shareKeyBody(
  state: GroupState,
  epochId: string,
  key: Uint8Array,
  devices: Iterable<string>,
): Promise<ShareKeyBody> {
  checkKey(key);
  if (!state.sealedKeys.has(epochId)) throw new MembershipError('unknown-epoch', `unknown epoch ${epochId}`);
  return { type: 'share-key', epoch: epochId, sealed: await sealTo(state, key, devices) };
}

/**
 * Opens this device's box of `epochId`. Throws MembershipError when the epoch is unknown or nothing was sealed to
 * the device, and CryptoError('decrypt-failed') when the box does not open.
 */
export async function openEpochKey(state: GroupState, epochId: string, identity: DeviceIdentity): Promise<Uint8Array> {
  const boxes = state.sealedKeys.get(epochId);
  if (!boxes) throw new MembershipError('unknown-epoch', `unknown epoch ${epochId}`);
  const box = boxes.get(identity.id);
  if (!box) throw new MembershipError('not-sealed-to-device', `epoch ${epochId} holds no key for this device`);
  const key = await openSealed(identity.agreement, box, epochKeyInfo(state.id), epochKeyAad(identity.id));
  if (key.length !== EPOCH_KEY_BYTES) throw new MembershipError('bad-epoch-key', 'sealed epoch key has a wrong length');
  return key;
}
