/**
 * Membership operations: what they say, their canonical wire encoding, and how they are signed.
 *
 * Encoding (all integers varuint, docs in ../README.md):
 *
 *   op       := version=1 · group? (presence byte, 16 bytes; absent exactly for create) · parents (count, 32-byte op
 *               ids, strictly ascending, empty exactly for create) · time · author (length-prefixed device
 *               certificate) · body · signature (64 bytes, Ed25519 by the author's device key over
 *               "schoolmesh/membership-op/v1" ‖ everything before the signature)
 *   body     := tag · fields      (1 create, 2 add, 3 remove, 4 set-role, 5 set-policy, 6 rename, 7 add-device,
 *                                  8 remove-device, 9 rotate-key, 10 share-key)
 *
 * id    = base64url(sha256(whole encoding))
 * group = base64url(first 16 bytes of sha256(the create op's encoding without its signature))
 */
import { sha256, verifySignature, randomBytes } from '@schoolmesh/crypto';
import {
  type DeviceCertificate,
  type DeviceIdentity,
  type TrustStore,
  type VerifiedDevice,
  decodeDeviceCertificate,
} from '@schoolmesh/identity';
import {
  type GroupKind,
  type GroupPolicy,
  type GroupRole,
  type AccountRef,
  type AddRight,
  type History,
  type PostRight,
  accountRef,
  parseAccountRef,
} from '@schoolmesh/model';
import {
  type Decoder,
  DecodeError,
  type Encoder,
  compareBytes,
  concatBytes,
  decode,
  encode,
  fromBase64Url,
  toBase64Url,
} from '@schoolmesh/wire';
import { MembershipError } from './errors.ts';

export const OP_VERSION = 1;
export const OP_DOMAIN = 'schoolmesh/membership-op/v1';
const domainBytes = new TextEncoder().encode(OP_DOMAIN);

/** Bounds every decoder enforces; an op beyond them is malformed. */
export const limits = {
  maxOpBytes: 4 * 1024 * 1024,
  maxParents: 64,
  maxCreateMembers: 10_000,
  maxSealed: 20_000,
  maxNameBytes: 256,
  maxAccountBytes: 256,
  maxCertificateBytes: 4096,
  maxBoxBytes: 256,
  maxPolicyDays: 100_000,
} as const;

export const GROUP_ID_BYTES = 16;
export const OP_ID_BYTES = 32;
export const DEVICE_ID_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const CREATE_NONCE_BYTES = 16;

export interface MemberSpec {
  account: AccountRef;
  role: GroupRole;
}

/** One group key, sealed (HPKE) to one device's agreement key. `device` is base64url of its Ed25519 key. */
export interface SealedKey {
  device: string;
  box: Uint8Array;
}

export interface CreateBody {
  type: 'create';
  kind: GroupKind;
  name: string;
  policy: GroupPolicy;
  /** Further initial members; the author's account becomes owner whatever this says. */
  members: MemberSpec[];
  /** 16 random bytes that make the group id unpredictable; `createOp` fills them in when absent. */
  nonce?: Uint8Array;
}
export interface AddBody {
  type: 'add';
  account: AccountRef;
  role: GroupRole;
}
export interface RemoveBody {
  type: 'remove';
  account: AccountRef;
}
export interface SetRoleBody {
  type: 'set-role';
  account: AccountRef;
  role: GroupRole;
}
export interface SetPolicyBody {
  type: 'set-policy';
  policy: GroupPolicy;
}
export interface RenameBody {
  type: 'rename';
  name: string;
}
export interface AddDeviceBody {
  type: 'add-device';
  certificate: DeviceCertificate;
}
export interface RemoveDeviceBody {
  type: 'remove-device';
  device: string;
}
export interface RotateKeyBody {
  type: 'rotate-key';
  sealed: SealedKey[];
}
export interface ShareKeyBody {
  type: 'share-key';
  /** The id of the rotate-key op that started the epoch. */
  epoch: string;
  sealed: SealedKey[];
}

export type OpBody =
  | CreateBody
  | AddBody
  | RemoveBody
  | SetRoleBody
  | SetPolicyBody
  | RenameBody
  | AddDeviceBody
  | RemoveDeviceBody
  | RotateKeyBody
  | ShareKeyBody;

export type OpType = OpBody['type'];

export interface MembershipOp {
  /** base64url(sha256(bytes)). */
  id: string;
  /** The group id (base64url of 16 bytes); for a create op, derived from its own encoding. */
  group: string;
  /** Op ids the author had as heads, in canonical (byte) order; empty only for create. */
  parents: string[];
  /** Author's clock in ms: informational only, never used to order. */
  time: number;
  author: DeviceCertificate;
  body: OpBody;
  signature: Uint8Array;
  /** The full canonical encoding. */
  bytes: Uint8Array;
}

// ---- numeric tags -------------------------------------------------------------------------------------------

const bodyTags: Record<OpType, number> = {
  create: 1,
  add: 2,
  remove: 3,
  'set-role': 4,
  'set-policy': 5,
  rename: 6,
  'add-device': 7,
  'remove-device': 8,
  'rotate-key': 9,
  'share-key': 10,
};
const kindTags: Record<GroupKind, number> = {
  class: 1,
  department: 2,
  club: 3,
  custom: 4,
  direct: 5,
  announcement: 6,
};
const roleTags: Record<GroupRole, number> = { owner: 1, moderator: 2, member: 3, reader: 4, manager: 5 };
const postTags: Record<PostRight, number> = { members: 1, moderators: 2 };
const addTags: Record<AddRight, number> = { owners: 1, moderators: 2, members: 3 };
const historyTags: Record<History, number> = { none: 1, retained: 2 };

function invert<K extends string>(table: Record<K, number>): Map<number, K> {
  return new Map(Object.entries(table).map(([k, v]) => [v as number, k as K]));
}
const bodyByTag = invert(bodyTags);
const kindByTag = invert(kindTags);
const roleByTag = invert(roleTags);
const postByTag = invert(postTags);
const addByTag = invert(addTags);
const historyByTag = invert(historyTags);

function readTag<K extends string>(dec: Decoder, table: Map<number, K>, what: string): K {
  const tag = dec.tag([...table.keys()], what);
  return table.get(tag)!;
}

function writeTag<K extends string>(enc: Encoder, table: Record<K, number>, value: K, what: string): void {
  const tag = table[value];
  if (tag === undefined) throw new MembershipError('bad-argument', `unknown ${what}: ${String(value)}`);
  enc.varuint(tag);
}

// ---- field helpers ------------------------------------------------------------------------------------------

function idBytes(id: string, length: number, what: string): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = fromBase64Url(id);
  } catch {
    throw new MembershipError('bad-argument', `${what} is not base64url: ${id}`);
  }
  if (raw.length !== length || toBase64Url(raw) !== id)
    throw new MembershipError('bad-argument', `${what} must be ${length} bytes in canonical base64url`);
  return raw;
}

function writeAccount(enc: Encoder, account: AccountRef): void {
  checkAccount(account);
  enc.string(account);
}

function checkAccount(account: AccountRef): void {
  if (typeof account !== 'string' || new TextEncoder().encode(account).length > limits.maxAccountBytes)
    throw new MembershipError('bad-argument', 'account reference too long');
  try {
    parseAccountRef(account);
  } catch {
    throw new MembershipError('bad-argument', `not an account reference: ${account}`);
  }
}

function readAccount(dec: Decoder): AccountRef {
  const account = dec.string(limits.maxAccountBytes);
  try {
    parseAccountRef(account);
  } catch {
    dec.fail('bad-value', 'not an account reference');
  }
  return account;
}

function writeName(enc: Encoder, name: string): void {
  if (typeof name !== 'string' || name.length === 0 || new TextEncoder().encode(name).length > limits.maxNameBytes)
    throw new MembershipError('bad-argument', `a group name has 1 to ${limits.maxNameBytes} bytes`);
  enc.string(name);
}

function readName(dec: Decoder): string {
  const name = dec.string(limits.maxNameBytes);
  if (name.length === 0) dec.fail('bad-value', 'empty group name');
  return name;
}

function writePolicy(enc: Encoder, p: GroupPolicy): void {
  for (const days of [p.retentionDays, p.keyRotationDays])
    if (!Number.isSafeInteger(days) || days < 0 || days > limits.maxPolicyDays)
      throw new MembershipError('bad-argument', 'policy days out of range');
  enc.varuint(p.retentionDays);
  writeTag(enc, postTags, p.whoMayPost, 'whoMayPost');
  writeTag(enc, addTags, p.whoMayAdd, 'whoMayAdd');
  writeTag(enc, historyTags, p.historyForNewMembers, 'historyForNewMembers');
  enc.bool(p.readReceipts);
  enc.varuint(p.keyRotationDays);
}

function readPolicy(dec: Decoder): GroupPolicy {
  const retentionDays = dec.varuint(limits.maxPolicyDays);
  const whoMayPost = readTag(dec, postByTag, 'whoMayPost');
  const whoMayAdd = readTag(dec, addByTag, 'whoMayAdd');
  const historyForNewMembers = readTag(dec, historyByTag, 'historyForNewMembers');
  const readReceipts = dec.bool();
  const keyRotationDays = dec.varuint(limits.maxPolicyDays);
  return { retentionDays, whoMayPost, whoMayAdd, historyForNewMembers, readReceipts, keyRotationDays };
}

function sortedSealed(sealed: readonly SealedKey[]): { raw: Uint8Array; box: Uint8Array }[] {
  if (!Array.isArray(sealed) || sealed.length > limits.maxSealed)
    throw new MembershipError('bad-argument', `at most ${limits.maxSealed} sealed keys`);
  const items = sealed.map((s) => {
    if (!(s.box instanceof Uint8Array) || s.box.length === 0 || s.box.length > limits.maxBoxBytes)
      throw new MembershipError('bad-argument', 'bad sealed box');
    return { raw: idBytes(s.device, DEVICE_ID_BYTES, 'device id'), box: s.box };
  });
  items.sort((a, b) => compareBytes(a.raw, b.raw));
  for (let i = 1; i < items.length; i++)
    if (compareBytes(items[i - 1]!.raw, items[i]!.raw) === 0)
      throw new MembershipError('bad-argument', 'a device is sealed to twice');
  return items;
}

function writeSealed(enc: Encoder, sealed: readonly SealedKey[]): void {
  enc.list(sortedSealed(sealed), (e, s) => {
    e.fixed(s.raw, DEVICE_ID_BYTES);
    e.bytes(s.box);
  });
}

function readSealed(dec: Decoder): SealedKey[] {
  let previous: Uint8Array | undefined;
  return dec.list(
    (d) => {
      const raw = d.fixed(DEVICE_ID_BYTES);
      if (previous && compareBytes(previous, raw) >= 0) d.fail('bad-value', 'sealed keys not in ascending device order');
      previous = raw;
      const box = d.bytes(limits.maxBoxBytes);
      if (box.length === 0) d.fail('bad-value', 'empty sealed box');
      return { device: toBase64Url(raw), box: Uint8Array.from(box) };
    },
    DEVICE_ID_BYTES + 2,
    limits.maxSealed,
  );
}

function writeBody(enc: Encoder, body: OpBody): void {
  writeTag(enc, bodyTags, body.type, 'op type');
  switch (body.type) {
    case 'create': {
      writeTag(enc, kindTags, body.kind, 'group kind');
      writeName(enc, body.name);
      const nonce = body.nonce;
      if (!(nonce instanceof Uint8Array) || nonce.length !== CREATE_NONCE_BYTES)
        throw new MembershipError('bad-argument', `create needs a ${CREATE_NONCE_BYTES}-byte nonce`);
      enc.fixed(nonce, CREATE_NONCE_BYTES);
      writePolicy(enc, body.policy);
      if (body.members.length > limits.maxCreateMembers) throw new MembershipError('bad-argument', 'too many members');
      const members = [...body.members].sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0));
      for (let i = 1; i < members.length; i++)
        if (members[i - 1]!.account === members[i]!.account)
          throw new MembershipError('bad-argument', `member listed twice: ${members[i]!.account}`);
      enc.list(members, (e, m) => {
        writeAccount(e, m.account);
        writeTag(e, roleTags, m.role, 'role');
      });
      return;
    }
    case 'add':
    case 'set-role':
      writeAccount(enc, body.account);
      writeTag(enc, roleTags, body.role, 'role');
      return;
    case 'remove':
      writeAccount(enc, body.account);
      return;
    case 'set-policy':
      writePolicy(enc, body.policy);
      return;
    case 'rename':
      writeName(enc, body.name);
      return;
    case 'add-device': {
      const bytes = body.certificate.bytes;
      if (!(bytes instanceof Uint8Array) || bytes.length > limits.maxCertificateBytes)
        throw new MembershipError('bad-argument', 'certificate encoding missing or too large');
      enc.bytes(bytes);
      return;
    }
    case 'remove-device':
      enc.fixed(idBytes(body.device, DEVICE_ID_BYTES, 'device id'), DEVICE_ID_BYTES);
      return;
    case 'rotate-key':
      writeSealed(enc, body.sealed);
      return;
    case 'share-key':
      enc.fixed(idBytes(body.epoch, OP_ID_BYTES, 'epoch id'), OP_ID_BYTES);
      writeSealed(enc, body.sealed);
      return;
  }
}

function readCertificate(dec: Decoder): DeviceCertificate {
  const bytes = Uint8Array.from(dec.bytes(limits.maxCertificateBytes));
  try {
    return decodeDeviceCertificate(bytes);
  } catch (error) {
    if (error instanceof DecodeError) throw new DecodeError(error.code, `certificate: ${error.message}`, dec.pos);
    return dec.fail('bad-value', `undecodable certificate: ${(error as Error)?.message ?? String(error)}`);
  }
}

function readBody(dec: Decoder): OpBody {
  const type = readTag(dec, bodyByTag, 'op type');
  switch (type) {
    case 'create': {
      const kind = readTag(dec, kindByTag, 'group kind');
      const name = readName(dec);
      const nonce = Uint8Array.from(dec.fixed(CREATE_NONCE_BYTES));
      const policy = readPolicy(dec);
      let previous: string | undefined;
      const members = dec.list(
        (d) => {
          const account = readAccount(d);
          if (previous !== undefined && !(previous < account)) d.fail('bad-value', 'members not in ascending order');
          previous = account;
          return { account, role: readTag(d, roleByTag, 'role') };
        },
        3,
        limits.maxCreateMembers,
      );
      return { type, kind, name, nonce, policy, members };
    }
    case 'add':
    case 'set-role':
      return { type, account: readAccount(dec), role: readTag(dec, roleByTag, 'role') };
    case 'remove':
      return { type, account: readAccount(dec) };
    case 'set-policy':
      return { type, policy: readPolicy(dec) };
    case 'rename':
      return { type, name: readName(dec) };
    case 'add-device':
      return { type, certificate: readCertificate(dec) };
    case 'remove-device':
      return { type, device: toBase64Url(dec.fixed(DEVICE_ID_BYTES)) };
    case 'rotate-key':
      return { type, sealed: readSealed(dec) };
    case 'share-key': {
      const epoch = toBase64Url(dec.fixed(OP_ID_BYTES));
      return { type, epoch, sealed: readSealed(dec) };
    }
  }
}

// ---- whole ops ----------------------------------------------------------------------------------------------

interface Unsigned {
  group: Uint8Array | undefined;
  parents: Uint8Array[];
  time: number;
  author: Uint8Array;
  body: OpBody;
}

function writeUnsigned(enc: Encoder, u: Unsigned): void {
  enc.u8(OP_VERSION);
  enc.optional(u.group, (e, g) => e.fixed(g, GROUP_ID_BYTES));
  enc.list(u.parents, (e, p) => e.fixed(p, OP_ID_BYTES));
  if (!Number.isSafeInteger(u.time) || u.time < 0) throw new MembershipError('bad-argument', 'time must be a whole ms');
  enc.varuint(u.time);
  if (u.author.length > limits.maxCertificateBytes) throw new MembershipError('bad-argument', 'certificate too large');
  enc.bytes(u.author);
  writeBody(enc, u.body);
}

/** The canonical bytes of an op (what `op.bytes` holds). */
export function encodeOp(op: MembershipOp): Uint8Array {
  return op.bytes;
}

/**
 * Decodes and structurally checks one op. Total: any input either gives an op or throws DecodeError. Neither the
 * signature nor the certificate chain is checked here (see `verifyOpSignature`).
 */
export function decodeOp(bytes: Uint8Array): MembershipOp {
  try {
    return decodeOpInner(bytes);
  } catch (error) {
    if (error instanceof DecodeError) throw error;
    throw new DecodeError('bad-value', `undecodable membership op: ${(error as Error)?.message ?? String(error)}`);
  }
}

function decodeOpInner(input: Uint8Array): MembershipOp {
  if (!(input instanceof Uint8Array)) throw new DecodeError('bad-value', 'not bytes');
  if (input.length > limits.maxOpBytes) throw new DecodeError('too-large', `op of ${input.length} bytes`);
  const bytes = Uint8Array.from(input);
  return decode(bytes, (dec) => {
    const version = dec.u8();
    if (version !== OP_VERSION) dec.fail('bad-version', `membership op version ${version}`);
    const group = dec.optional((d) => Uint8Array.from(d.fixed(GROUP_ID_BYTES)));
    let previous: Uint8Array | undefined;
    const parents = dec.list(
      (d) => {
        const p = d.fixed(OP_ID_BYTES);
        if (previous && compareBytes(previous, p) >= 0) d.fail('bad-value', 'parents not in ascending order');
        previous = p;
        return toBase64Url(p);
      },
      OP_ID_BYTES,
      limits.maxParents,
    );
    const time = dec.varuint();
    const author = readCertificate(dec);
    const body = readBody(dec);
    const unsignedEnd = dec.pos;
    const signature = Uint8Array.from(dec.fixed(SIGNATURE_BYTES));
    const isCreate = body.type === 'create';
    if (isCreate !== (group === undefined)) dec.fail('bad-value', 'group id present exactly when not a create op');
    if (isCreate !== (parents.length === 0)) dec.fail('bad-value', 'parents empty exactly for a create op');
    const unsigned = bytes.subarray(0, unsignedEnd);
    const op: MembershipOp = Object.freeze({
      id: toBase64Url(sha256(bytes)),
      group: group ? toBase64Url(group) : groupIdOf(unsigned),
      parents: Object.freeze(parents) as string[],
      time,
      author,
      body,
      signature,
      bytes,
    });
    decodedOps.add(op);
    return op;
  });
}

/** Ops exactly as decodeOp made them (frozen): a log given one need not decode its bytes again. */
const decodedOps = new WeakSet<MembershipOp>();

/** True for an op object that decodeOp returned (so its fields are what its bytes say). */
export function isDecodedOp(op: MembershipOp): boolean {
  return decodedOps.has(op);
}

function groupIdOf(unsignedCreate: Uint8Array): string {
  return toBase64Url(sha256(unsignedCreate).subarray(0, GROUP_ID_BYTES));
}

/** The bytes an op's signature covers. */
export function signedMessage(op: MembershipOp): Uint8Array {
  return concatBytes(domainBytes, op.bytes.subarray(0, op.bytes.length - SIGNATURE_BYTES));
}

/**
 * Makes and signs an op. `group` is null exactly for create (the group id then follows from the op); `parents`
 * are the author's current heads (any order, duplicates dropped).
 */
export async function createOp(
  identity: DeviceIdentity,
  group: string | null,
  parents: readonly string[],
  body: OpBody,
  time: number,
): Promise<MembershipOp> {
  const isCreate = body.type === 'create';
  if (isCreate !== (group === null)) throw new MembershipError('bad-argument', 'group is null exactly for create');
  const parentBytes = [...new Set(parents)].map((p) => idBytes(p, OP_ID_BYTES, 'parent id'));
  parentBytes.sort(compareBytes);
  if (isCreate !== (parentBytes.length === 0))
    throw new MembershipError('bad-argument', 'parents are empty exactly for create');
  if (parentBytes.length > limits.maxParents) throw new MembershipError('bad-argument', 'too many parents');
  const finalBody: OpBody =
    body.type === 'create' && body.nonce === undefined ? { ...body, nonce: randomBytes(CREATE_NONCE_BYTES) } : body;
  const unsigned = encode((enc) =>
    writeUnsigned(enc, {
      group: group === null ? undefined : idBytes(group, GROUP_ID_BYTES, 'group id'),
      parents: parentBytes,
      time,
      author: identity.certificate.bytes,
      body: finalBody,
    }),
  );
  const signature = await identity.signing.sign(concatBytes(domainBytes, unsigned));
  const bytes = concatBytes(unsigned, signature);
  if (bytes.length > limits.maxOpBytes) throw new MembershipError('bad-argument', 'op too large');
  // Decoding our own encoding both normalises the value and proves the encoder and decoder agree.
  return decodeOp(bytes);
}

/**
 * Checks the author's certificate against the trust store (at the store's clock) and the op's signature.
 * Throws the identity package's CertificateError, or MembershipError('bad-signature').
 */
export async function verifyOpSignature(op: MembershipOp, trust: TrustStore): Promise<VerifiedDevice> {
  const device = await trust.verifyDevice(op.author);
  if (!(await verifySignature(op.author.deviceKey, signedMessage(op), op.signature)))
    throw new MembershipError('bad-signature', `bad signature on membership op ${op.id}`);
  return device;
}

const certificateIds = new WeakMap<DeviceCertificate, { device: string; account: AccountRef }>();

function ids(cert: DeviceCertificate): { device: string; account: AccountRef } {
  let cached = certificateIds.get(cert);
  if (!cached) {
    cached = { device: toBase64Url(cert.deviceKey), account: accountRef(cert.school, cert.account) };
    certificateIds.set(cert, cached);
  }
  return cached;
}

/** base64url of the author's device key: the id the group state lists devices by. */
export function authorDeviceId(op: MembershipOp): string {
  return ids(op.author).device;
}

export function authorAccount(op: MembershipOp): AccountRef {
  return ids(op.author).account;
}

export function certificateAccount(cert: DeviceCertificate): AccountRef {
  return ids(cert).account;
}

export function certificateDeviceId(cert: DeviceCertificate): string {
  return ids(cert).device;
}
