import { randomBytes, sha256 } from '@schoolmesh/crypto';
import { issueRevocationList } from '@schoolmesh/identity';
import { defaultGroupPolicy, type GroupPolicy } from '@schoolmesh/model';
import { DecodeError, toBase64Url } from '@schoolmesh/wire';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AddResult,
  canPost,
  canRead,
  createOp,
  decodeOp,
  devicesWithoutKey,
  encodeOp,
  type GroupState,
  MembershipError,
  MembershipLog,
  type MembershipOp,
  needsRotation,
  newEpochBody,
  type OpBody,
  openEpochKey,
  readingDevices,
  roleOf,
  shareKeyBody,
  verifyOpSignature,
} from '../src/index.ts';
import { createGroup, DAY, type Device, makeDevice, makeSchool, NOW, op, type SchoolKeys, trustStore } from './fixtures.ts';

let school: SchoolKeys;
let anna: Device; // creator, owner
let anna2: Device; // anna's second device
let bernd: Device; // moderator
let clara: Device; // member
let clara2: Device;
let dora: Device; // reader
let emil: Device;
let emilMinted: Device; // a relay-minted certificate for emil
let claraMinted: Device; // a relay-minted certificate for clara, who already has a device
let olaf: Device; // never a member
let sync: Device; // the school's directory sync account: a manager
let sync2: Device; // a second device of the sync account

beforeAll(async () => {
  school = await makeSchool();
  [anna, anna2, bernd, clara, clara2, dora, emil, emilMinted, claraMinted, olaf] = await Promise.all([
    makeDevice(school, 'anna'),
    makeDevice(school, 'anna'),
    makeDevice(school, 'bernd'),
    makeDevice(school, 'clara', { role: 'pupil' }),
    makeDevice(school, 'clara', { role: 'pupil' }),
    makeDevice(school, 'dora', { role: 'parent' }),
    makeDevice(school, 'emil', { role: 'pupil' }),
    makeDevice(school, 'emil', { role: 'pupil' }),
    makeDevice(school, 'clara', { role: 'pupil' }),
    makeDevice(school, 'olaf'),
  ]);
  [sync, sync2] = await Promise.all([makeDevice(school, 'verwaltung', { role: 'admin' }), makeDevice(school, 'verwaltung', { role: 'admin' })]);
});

/** One replica of one group, with a helper that authors an op on top of its heads. */
class Replica {
  readonly log: MembershipLog;
  constructor(group?: string) {
    this.log = new MembershipLog(trustStore(school), group ? { group } : {});
  }
  get group(): string {
    return this.log.group!;
  }
  get state(): GroupState {
    return this.log.state();
  }
  async act(author: Device, body: OpBody, parents = this.log.heads()): Promise<{ op: MembershipOp; result: AddResult }> {
    const made = await op(author, this.group, parents, body);
    return { op: made, result: await this.log.add(made) };
  }
  /** Authors an op and expects it stored. */
  async ok(author: Device, body: OpBody, parents?: string[]): Promise<MembershipOp> {
    const { op: made, result } = await this.act(author, body, parents);
    expect(result, JSON.stringify(result)).toMatchObject({ status: 'applied' });
    return made;
  }
  effective(id: string): boolean {
    return this.log.has(id) && !this.state.ignored.some((i) => i.op === id);
  }
  ignoredReason(id: string): string | undefined {
    return this.state.ignored.find((i) => i.op === id)?.reason;
  }
}

/** anna creates the group with bernd (moderator), clara (member), dora (reader); each adds its own device. */
async function baseGroup(policy?: GroupPolicy): Promise<Replica> {
  const r = new Replica();
  const create = await createGroup(
    anna,
    [
      { account: bernd.account, role: 'moderator' },
      { account: clara.account, role: 'member' },
      { account: dora.account, role: 'reader' },
    ],
    'custom',
    policy ?? { ...defaultGroupPolicy('class') },
  );
  expect(await r.log.add(create)).toMatchObject({ status: 'applied' });
  for (const d of [bernd, clara, dora]) await r.ok(d, { type: 'add-device', certificate: d.certificate });
  return r;
}

async function sameResult(a: MembershipLog, b: MembershipLog): Promise<void> {
  expect(b.ops().map((o) => o.id)).toEqual(a.ops().map((o) => o.id));
  const view = (s: GroupState) => ({
    name: s.name,
    policy: s.policy,
    members: [...s.members].sort(),
    devices: [...s.devices.keys()].sort(),
    epochs: s.epochs,
    ignored: s.ignored.map((i) => i.op).sort(),
  });
  expect(view(b.state())).toEqual(view(a.state()));
}

describe('encoding and signatures', () => {
  it('round-trips an op through its canonical bytes', async () => {
    const create = await createGroup(anna, [{ account: bernd.account, role: 'moderator' }]);
    const decoded = decodeOp(encodeOp(create));
    expect(decoded).toEqual(create);
    expect(create.id).toBe(toBase64Url(sha256(create.bytes)));
    const unsigned = create.bytes.subarray(0, create.bytes.length - 64);
    expect(create.group).toBe(toBase64Url(sha256(unsigned).subarray(0, 16)));
    expect(create.parents).toEqual([]);
    const add = await op(anna, create.group, [create.id], { type: 'add', account: clara.account, role: 'member' });
    expect(decodeOp(add.bytes)).toEqual(add);
    expect(add.group).toBe(create.group);
  });

  it('gives every create a fresh group id', async () => {
    const a = await createGroup(anna);
    const b = await createGroup(anna);
    expect(a.group).not.toBe(b.group);
  });

  it('verifies the signature and the author certificate', async () => {
    const create = await createGroup(anna);
    const device = await verifyOpSignature(create, trustStore(school));
    expect(device.accountRef).toBe(anna.account);
    const bytes = Uint8Array.from(create.bytes);
    bytes[bytes.length - 1]! ^= 1;
    await expect(verifyOpSignature(decodeOp(bytes), trustStore(school))).rejects.toBeInstanceOf(MembershipError);
    const other = await makeSchool('Fremde Schule');
    await expect(verifyOpSignature(create, trustStore(other))).rejects.toMatchObject({ code: 'unknown-school' });
  });

  it('refuses malformed bytes with DecodeError only', async () => {
    const create = await createGroup(anna);
    const cases = [
      new Uint8Array(0),
      create.bytes.subarray(0, create.bytes.length - 1),
      Uint8Array.of(...create.bytes, 0),
      Uint8Array.of(2, ...create.bytes.subarray(1)),
      Uint8Array.of(1, 1, ...new Uint8Array(16), 0, 0),
    ];
    for (const c of cases) expect(() => decodeOp(c)).toThrow(DecodeError);
    expect(() => decodeOp('nope' as unknown as Uint8Array)).toThrow(DecodeError);
  });

  it('refuses parents out of canonical order', async () => {
    const create = await createGroup(anna);
    const x = await op(anna, create.group, [create.id], { type: 'rename', name: 'x' });
    const y = await op(anna, create.group, [create.id], { type: 'rename', name: 'y' });
    const merged = await op(anna, create.group, [x.id, y.id], { type: 'rename', name: 'z' });
    // Swap the two 32-byte parent ids in place: same length, not canonical.
    const bytes = Uint8Array.from(merged.bytes);
    const at = 1 + 1 + 16 + 1;
    const first = bytes.slice(at, at + 32);
    bytes.copyWithin(at, at + 32, at + 64);
    bytes.set(first, at + 32);
    expect(() => decodeOp(bytes)).toThrow(DecodeError);
  });

  it('refuses to make ops that could not be decoded', async () => {
    const create = await createGroup(anna);
    await expect(createOp(anna, create.group, [], { type: 'rename', name: 'x' }, NOW)).rejects.toBeInstanceOf(
      MembershipError,
    );
    await expect(createOp(anna, create.group, [create.id], { type: 'rename', name: '' }, NOW)).rejects.toBeInstanceOf(
      MembershipError,
    );
    await expect(
      createOp(anna, create.group, [create.id], { type: 'add', account: 'no-at-sign', role: 'member' }, NOW),
    ).rejects.toBeInstanceOf(MembershipError);
  });
});

describe('create', () => {
  it('makes the author owner with its device, and the listed accounts members', async () => {
    const r = await baseGroup();
    const s = r.state;
    expect(s.id).toBe(r.group);
    expect(roleOf(s, anna.account)).toBe('owner');
    expect(roleOf(s, bernd.account)).toBe('moderator');
    expect(roleOf(s, dora.account)).toBe('reader');
    expect([...s.devices.keys()].sort()).toEqual([anna.id, bernd.id, clara.id, dora.id].sort());
    expect(s.devices.get(anna.id)!.account).toBe(anna.account);
  });

  it('rejects a second create for the same group and ops of other groups', async () => {
    const r = await baseGroup();
    const create = r.log.ops()[0]!;
    expect(await r.log.add(create)).toMatchObject({ status: 'duplicate' });
    const other = await createGroup(anna);
    expect(await r.log.add(other)).toMatchObject({ status: 'rejected' });
    const foreign = await op(anna, other.group, [other.id], { type: 'rename', name: 'x' });
    expect(await r.log.add(foreign)).toMatchObject({ status: 'rejected', reason: 'op of another group' });
    const bound = new MembershipLog(trustStore(school), other.group);
    expect(await bound.add(create)).toMatchObject({ status: 'rejected' });
  });

  it('rejects a create with an invalid policy', async () => {
    const bad = await createGroup(anna, [], 'custom', { ...defaultGroupPolicy('custom'), retentionDays: 0 });
    const log = new MembershipLog(trustStore(school));
    expect(await log.add(bad)).toMatchObject({ status: 'rejected' });
  });
});

describe('rules', () => {
  it('add: by role per policy, never above the adder', async () => {
    const r = await baseGroup();
    const byModerator = await r.ok(bernd, { type: 'add', account: emil.account, role: 'member' });
    expect(r.effective(byModerator.id)).toBe(true);
    const byMember = await r.ok(clara, { type: 'add', account: olaf.account, role: 'member' });
    expect(r.ignoredReason(byMember.id)).toMatch(/policy/);
    const aboveOwn = await r.ok(bernd, { type: 'add', account: olaf.account, role: 'owner' });
    expect(r.ignoredReason(aboveOwn.id)).toMatch(/above/);
    const twice = await r.ok(bernd, { type: 'add', account: emil.account, role: 'member' });
    expect(r.ignoredReason(twice.id)).toMatch(/already/);
    await r.ok(anna, { type: 'set-policy', policy: { ...r.state.policy, whoMayAdd: 'members' } });
    const nowAllowed = await r.ok(clara, { type: 'add', account: olaf.account, role: 'member' });
    expect(r.effective(nowAllowed.id)).toBe(true);
    const byReader = await r.ok(dora, { type: 'add', account: 'x@y', role: 'reader' });
    expect(r.ignoredReason(byReader.id)).toMatch(/policy/);
    expect(roleOf(r.state, olaf.account)).toBe('member');
  });

  it('remove: owners and moderators by rank, anyone themselves, never the last owner', async () => {
    const r = await baseGroup();
    const memberRemovesReader = await r.ok(clara, { type: 'remove', account: dora.account });
    expect(r.ignoredReason(memberRemovesReader.id)).toMatch(/owners and moderators/);
    const moderatorRemovesOwner = await r.ok(bernd, { type: 'remove', account: anna.account });
    expect(r.ignoredReason(moderatorRemovesOwner.id)).toMatch(/higher rank/);
    const lastOwnerLeaves = await r.ok(anna, { type: 'remove', account: anna.account });
    expect(r.ignoredReason(lastOwnerLeaves.id)).toMatch(/last owner/);
    const readerLeaves = await r.ok(dora, { type: 'remove', account: dora.account });
    expect(r.effective(readerLeaves.id)).toBe(true);
    const moderatorRemovesMember = await r.ok(bernd, { type: 'remove', account: clara.account });
    expect(r.effective(moderatorRemovesMember.id)).toBe(true);
    expect(roleOf(r.state, clara.account)).toBeUndefined();
    expect(r.state.devices.has(clara.id)).toBe(false);
    expect(r.state.devices.has(dora.id)).toBe(false);
    // A removed member's device can no longer act: rejected outright.
    expect((await r.act(clara, { type: 'rename', name: 'mine' })).result).toMatchObject({ status: 'rejected' });
  });

  it('set-role, set-policy, rename: owners only; policies must validate', async () => {
    const r = await baseGroup();
    const renameByModerator = await r.ok(bernd, { type: 'rename', name: 'Bernds Gruppe' });
    expect(r.ignoredReason(renameByModerator.id)).toMatch(/only owners/);
    const roleByModerator = await r.ok(bernd, { type: 'set-role', account: clara.account, role: 'moderator' });
    expect(r.ignoredReason(roleByModerator.id)).toMatch(/only owners/);
    const policyByModerator = await r.ok(bernd, { type: 'set-policy', policy: { ...r.state.policy, whoMayPost: 'moderators' } });
    expect(r.ignoredReason(policyByModerator.id)).toMatch(/only owners/);
    const badPolicy = await r.ok(anna, { type: 'set-policy', policy: { ...r.state.policy, keyRotationDays: 0 } });
    expect(r.ignoredReason(badPolicy.id)).toMatch(/invalid policy/);
    await r.ok(anna, { type: 'rename', name: 'Klasse 8b' });
    await r.ok(anna, { type: 'set-role', account: clara.account, role: 'moderator' });
    await r.ok(anna, { type: 'set-policy', policy: { ...r.state.policy, retentionDays: 30 } });
    expect(r.state.name).toBe('Klasse 8b');
    expect(roleOf(r.state, clara.account)).toBe('moderator');
    expect(r.state.policy.retentionDays).toBe(30);
    const demoteLastOwner = await r.ok(anna, { type: 'set-role', account: anna.account, role: 'member' });
    expect(r.ignoredReason(demoteLastOwner.id)).toMatch(/last owner/);
  });

  it('add-device: by the same account, by owners and moderators, or a first device by itself', async () => {
    const r = await baseGroup();
    await r.ok(anna, { type: 'add-device', certificate: anna2.certificate });
    expect(r.state.devices.get(anna2.id)?.account).toBe(anna.account);
    // Same account approves its new device.
    await r.ok(clara, { type: 'add-device', certificate: clara2.certificate });
    expect(canRead(r.state, clara2.id)).toBe(true);
    // A member cannot add devices to someone else's account.
    await r.ok(bernd, { type: 'add', account: emil.account, role: 'member' });
    const byOther = await r.ok(clara, { type: 'add-device', certificate: emil.certificate });
    expect(r.ignoredReason(byOther.id)).toMatch(/own devices, owners and moderators/);
    // A moderator may.
    const byModerator = await r.ok(bernd, { type: 'add-device', certificate: emil.certificate });
    expect(r.effective(byModerator.id)).toBe(true);
    // Not for an account that is no member.
    const nonMember = await r.ok(anna, { type: 'add-device', certificate: olaf.certificate });
    expect(r.ignoredReason(nonMember.id)).toMatch(/not a member/);
  });

  it('rejects a relay-minted device of an account that already has one, and it gets no keys', async () => {
    const r = await baseGroup();
    const self = await r.act(claraMinted, { type: 'add-device', certificate: claraMinted.certificate });
    expect(self.result).toMatchObject({ status: 'rejected' });
    expect(self.result.reason).toMatch(/approval/);
    const act = await r.act(claraMinted, { type: 'rename', name: 'pwned' });
    expect(act.result).toMatchObject({ status: 'rejected', reason: 'author device is not listed in the group' });
    // Even an owner's rotation cannot include it: the sealed set must be exactly the listed devices.
    const { body } = await newEpochBody(r.state);
    const rotate = await r.ok(anna, body);
    expect(r.state.currentEpoch).toBe(rotate.id);
    expect(canRead(r.state, claraMinted.id)).toBe(false);
    await expect(openEpochKey(r.state, rotate.id, claraMinted)).rejects.toMatchObject({ code: 'not-sealed-to-device' });
    const sneaky = await newEpochBody({ ...r.state, devices: new Map(r.state.devices).set(claraMinted.id, {
      account: clara.account,
      deviceKey: claraMinted.certificate.deviceKey,
      agreementKey: claraMinted.certificate.agreementKey,
      certificate: claraMinted.certificate,
      addedBy: 'forged',
    }) });
    // A rotation is judged by its author's view of the devices (concurrent ops may change them), so it stands;
    // but the unlisted device it reached counts as removed since, the next writer rotates again, and the log
    // lists no key for it. (Only a member can sign such a rotation, and a member can leak its key anyway.)
    const forged = await r.ok(anna, sneaky.body);
    expect(r.state.currentEpoch).toBe(forged.id);
    expect(r.state.removedSince.devices).toEqual([claraMinted.id]);
    expect(needsRotation(r.state)).toBe(true);
    expect(canRead(r.state, claraMinted.id)).toBe(false);
    await expect(openEpochKey(r.state, forged.id, claraMinted)).rejects.toMatchObject({ code: 'not-sealed-to-device' });
    // Once clara's own device approves it, it is in.
    await r.ok(clara, { type: 'add-device', certificate: claraMinted.certificate });
    expect(canRead(r.state, claraMinted.id)).toBe(true);
  });

  it('rejects ops by accounts that are not members', async () => {
    const r = await baseGroup();
    const res = await r.act(olaf, { type: 'add', account: olaf.account, role: 'owner' });
    expect(res.result).toMatchObject({ status: 'rejected', reason: 'author is not a member of the group at its parents' });
    const selfAdd = await r.act(olaf, { type: 'add-device', certificate: olaf.certificate });
    expect(selfAdd.result).toMatchObject({ status: 'rejected' });
  });

  it('remove-device: the same account, or owners and moderators by rank', async () => {
    const r = await baseGroup();
    await r.ok(clara, { type: 'add-device', certificate: clara2.certificate });
    const byMember = await r.ok(clara, { type: 'remove-device', device: bernd.id });
    expect(r.ignoredReason(byMember.id)).toMatch(/own devices/);
    const byModeratorOfOwner = await r.ok(bernd, { type: 'remove-device', device: anna.id });
    expect(r.ignoredReason(byModeratorOfOwner.id)).toMatch(/higher rank/);
    await r.ok(clara2, { type: 'remove-device', device: clara.id });
    await r.ok(anna, (await newEpochBody(r.state)).body);
    expect(needsRotation(r.state)).toBe(false);
    await r.ok(bernd, { type: 'remove-device', device: clara2.id });
    expect(r.state.removedSince.devices).toEqual([clara2.id]);
    expect(needsRotation(r.state)).toBe(true);
    expect(r.state.devices.has(clara.id)).toBe(false);
    expect(r.state.devices.has(clara2.id)).toBe(false);
    expect(roleOf(r.state, clara.account)).toBe('member');
  });

  it('canPost and canRead follow roles and policy', async () => {
    const r = await baseGroup();
    expect(canPost(r.state, clara.id)).toBe(true);
    expect(canPost(r.state, dora.id)).toBe(false);
    expect(canRead(r.state, dora.id)).toBe(true);
    expect(canRead(r.state, olaf.id)).toBe(false);
    await r.ok(anna, { type: 'set-policy', policy: { ...r.state.policy, whoMayPost: 'moderators' } });
    expect(canPost(r.state, clara.id)).toBe(false);
    expect(canPost(r.state, bernd.id)).toBe(true);
    expect(canPost(r.state, anna.id)).toBe(true);
  });
});

describe('keys', () => {
  it('rotate-key seals to every device; removed members are left out of the next epoch', async () => {
    const r = await baseGroup();
    expect(needsRotation(r.state)).toBe(true);
    const first = await newEpochBody(r.state);
    const epoch1 = await r.ok(clara, first.body);
    expect(r.state.epochs).toEqual([epoch1.id]);
    for (const d of [anna, bernd, clara, dora]) expect(await openEpochKey(r.state, epoch1.id, d)).toEqual(first.key);
    expect(needsRotation(r.state)).toBe(false);
    expect(needsRotation(r.state, NOW + 8 * DAY)).toBe(true);

    await r.ok(bernd, { type: 'remove', account: clara.account });
    expect(needsRotation(r.state)).toBe(true);
    expect(r.state.removedSince.accounts).toEqual([clara.account]);
    const second = await newEpochBody(r.state);
    expect(second.body.sealed.map((s) => s.device)).not.toContain(clara.id);
    const epoch2 = await r.ok(anna, second.body);
    expect(r.state.currentEpoch).toBe(epoch2.id);
    expect(needsRotation(r.state)).toBe(false);
    await expect(openEpochKey(r.state, epoch2.id, clara)).rejects.toMatchObject({ code: 'not-sealed-to-device' });
    expect(await openEpochKey(r.state, epoch2.id, dora)).toEqual(second.key);
    // A box taken from another device does not open for clara either.
    const stolen = r.state.sealedKeys.get(epoch2.id)!.get(dora.id)!;
    const forgedState = { ...r.state, sealedKeys: new Map([[epoch2.id, new Map([[clara.id, stolen]])]]) };
    await expect(openEpochKey(forgedState, epoch2.id, clara)).rejects.toMatchObject({ name: 'CryptoError' });
  });

  it('a rotation that misses a device stands and the device waits for share-key; one not sealed to its author is ignored; non-members cannot rotate', async () => {
    const r = await baseGroup();
    const selfless = await newEpochBody(r.state);
    selfless.body.sealed = selfless.body.sealed.filter((s) => s.device !== anna.id);
    const ignored = await r.ok(anna, selfless.body);
    expect(r.ignoredReason(ignored.id)).toMatch(/seal to its author/);
    expect(r.state.currentEpoch).toBeUndefined();
    const partial = await newEpochBody(r.state);
    partial.body.sealed = partial.body.sealed.filter((s) => s.device !== dora.id);
    const missed = await r.ok(anna, partial.body);
    expect(r.state.currentEpoch).toBe(missed.id);
    expect(devicesWithoutKey(r.state)).toEqual([dora.id]);
    const full = await newEpochBody(r.state);
    expect((await r.act(olaf, full.body)).result).toMatchObject({ status: 'rejected' });
  });

  it('a new device approved by an existing device gets the keys via share-key', async () => {
    const r = await baseGroup();
    const first = await newEpochBody(r.state);
    const epoch = await r.ok(anna, first.body);
    await r.ok(anna, { type: 'add-device', certificate: anna2.certificate });
    expect(devicesWithoutKey(r.state)).toEqual([anna2.id]);
    expect(needsRotation(r.state)).toBe(false);
    await expect(openEpochKey(r.state, epoch.id, anna2)).rejects.toMatchObject({ code: 'not-sealed-to-device' });
    const key = await openEpochKey(r.state, epoch.id, anna);
    await r.ok(anna, await shareKeyBody(r.state, epoch.id, key, [anna2.id]));
    expect(await openEpochKey(r.state, epoch.id, anna2)).toEqual(first.key);
    expect(devicesWithoutKey(r.state)).toEqual([]);
  });

  it('share-key: only by a holder of the key, only to current devices, only as the history policy allows', async () => {
    const r = await baseGroup({ ...defaultGroupPolicy('class'), historyForNewMembers: 'none' });
    const first = await newEpochBody(r.state);
    const epoch = await r.ok(anna, first.body);
    await r.ok(anna, { type: 'add', account: emil.account, role: 'member' });
    await r.ok(emil, { type: 'add-device', certificate: emil.certificate });
    expect(needsRotation(r.state)).toBe(true);
    const toNewMember = await r.ok(anna, await shareKeyBody(r.state, epoch.id, first.key, [emil.id]));
    expect(r.ignoredReason(toNewMember.id)).toMatch(/history policy/);
    // A new device of an old member may have it.
    await r.ok(anna, { type: 'add-device', certificate: anna2.certificate });
    await r.ok(anna, await shareKeyBody(r.state, epoch.id, first.key, [anna2.id]));
    expect(await openEpochKey(r.state, epoch.id, anna2)).toEqual(first.key);
    // emil has no key, so emil cannot share it.
    const byNonHolder = await r.ok(emil, await shareKeyBody(r.state, epoch.id, first.key, [emil.id]));
    expect(r.ignoredReason(byNonHolder.id)).toMatch(/does not hold/);
    // Not to a device the group does not list.
    const body = await shareKeyBody(r.state, epoch.id, first.key, [anna2.id]);
    body.sealed[0]!.device = olaf.id;
    const toStranger = await r.ok(anna, body);
    expect(r.ignoredReason(toStranger.id)).toMatch(/not a current device/);
  });
});

describe('concurrency', () => {
  it('an op concurrent with its author’s removal is ignored, in any arrival order', async () => {
    const r = await baseGroup();
    const fork = r.log.heads();
    const removal = await r.ok(bernd, { type: 'remove', account: clara.account });
    // clara did not see it (or pretends not to): she adds a friend and a device from the old heads.
    const concurrentAdd = await r.ok(clara, { type: 'add-device', certificate: clara2.certificate }, fork);
    const concurrentRename = await r.ok(clara, { type: 'rotate-key', sealed: [] }, [concurrentAdd.id]);
    expect(r.ignoredReason(concurrentAdd.id)).toMatch(/concurrent/);
    expect(r.ignoredReason(concurrentRename.id)).toBeDefined();
    expect(r.state.devices.has(clara2.id)).toBe(false);
    // Later ops that merge both branches do not revive it.
    const merge = await r.ok(anna, { type: 'rename', name: 'Merged' });
    expect(merge.parents.length).toBe(2);
    expect(r.state.devices.has(clara2.id)).toBe(false);
    // Same result for a replica that receives everything backwards.
    const other = new MembershipLog(trustStore(school), r.group);
    const all = r.log.ops();
    for (const o of [...all].reverse()) await other.add(o.bytes);
    await sameResult(r.log, other);
    expect(other.state().ignored.map((i) => i.op)).toContain(concurrentAdd.id);
    void removal;
  });

  it('mutual concurrent removal of two owners: the more senior owner wins', async () => {
    const r = await baseGroup();
    await r.ok(anna, { type: 'set-role', account: bernd.account, role: 'owner' });
    const fork = r.log.heads();
    const annaRemovesBernd = await r.ok(anna, { type: 'remove', account: bernd.account }, fork);
    const berndRemovesAnna = await r.ok(bernd, { type: 'remove', account: anna.account }, fork);
    expect(r.effective(annaRemovesBernd.id)).toBe(true);
    expect(r.ignoredReason(berndRemovesAnna.id)).toMatch(/concurrent/);
    expect(roleOf(r.state, anna.account)).toBe('owner');
    expect(roleOf(r.state, bernd.account)).toBeUndefined();
    const other = new MembershipLog(trustStore(school), r.group);
    for (const o of [...r.log.ops()].reverse()) await other.add(o);
    await sameResult(r.log, other);
  });

  it('a concurrent downgrade caps the author’s role', async () => {
    const r = await baseGroup();
    const fork = r.log.heads();
    await r.ok(anna, { type: 'set-role', account: bernd.account, role: 'member' }, fork);
    const removal = await r.ok(bernd, { type: 'remove', account: clara.account }, fork);
    expect(r.ignoredReason(removal.id)).toMatch(/owners and moderators/);
    expect(roleOf(r.state, clara.account)).toBe('member');
  });

  it('concurrent first-device claims for one account cancel each other', async () => {
    const r = await baseGroup();
    await r.ok(bernd, { type: 'add', account: emil.account, role: 'member' });
    const fork = r.log.heads();
    // emil's own device adds itself, and much later a relay-minted one claims the same first slot from the old heads.
    const real = await r.ok(emil, { type: 'add-device', certificate: emil.certificate }, fork);
    await r.ok(anna, { type: 'rename', name: 'later' });
    const minted = await r.ok(emilMinted, { type: 'add-device', certificate: emilMinted.certificate }, fork);
    expect(r.ignoredReason(real.id)).toMatch(/contested/);
    expect(r.ignoredReason(minted.id)).toMatch(/contested/);
    expect(canRead(r.state, emilMinted.id)).toBe(false);
    // An owner resolves it by approving the right device.
    await r.ok(anna, { type: 'add-device', certificate: emil.certificate });
    expect(canRead(r.state, emil.id)).toBe(true);
    expect(canRead(r.state, emilMinted.id)).toBe(false);
  });
});

describe('the log', () => {
  it('keeps ops with missing parents and applies them when the parents arrive', async () => {
    const source = await baseGroup();
    const ops = source.log.ops();
    const log = new MembershipLog(trustStore(school));
    const last = ops[ops.length - 1]!;
    const res = await log.add(last);
    expect(res).toMatchObject({ status: 'missing-parents', missing: last.parents });
    expect(await log.add(last)).toMatchObject({ status: 'duplicate' });
    expect(log.pendingIds()).toEqual([last.id]);
    for (const o of ops.slice(0, -1)) await log.add(o);
    expect(log.has(last.id)).toBe(true);
    expect(log.pendingIds()).toEqual([]);
    await sameResult(source.log, log);
  });

  it('rejects what waits on a rejected op, and bounds what waits', async () => {
    const r = await baseGroup();
    const bad = await op(olaf, r.group, r.log.heads(), { type: 'rename', name: 'olaf was here' });
    const child = await op(anna, r.group, [bad.id], { type: 'rename', name: 'child' });
    const grandchild = await op(anna, r.group, [child.id], { type: 'rename', name: 'grandchild' });
    expect(await r.log.add(grandchild)).toMatchObject({ status: 'missing-parents', missing: [child.id] });
    expect(await r.log.add(child)).toMatchObject({ status: 'missing-parents', missing: [bad.id] });
    expect(await r.log.add(bad)).toMatchObject({ status: 'rejected' });
    expect(r.log.pendingIds()).toEqual([]);
    expect(await r.log.add(child)).toMatchObject({ status: 'rejected', reason: 'a parent op was rejected' });

    const small = new MembershipLog(trustStore(school), { group: r.group, maxPending: 1 });
    expect(await small.add(grandchild)).toMatchObject({ status: 'missing-parents' });
    expect(await small.add(child)).toMatchObject({ status: 'rejected', reason: 'too many ops waiting' });
  });

  it('reports released ops', async () => {
    const source = await baseGroup();
    const [create, ...rest] = source.log.ops();
    const log = new MembershipLog(trustStore(school));
    for (const o of rest) await log.add(o);
    const res = await log.add(create!);
    expect(res.status).toBe('applied');
    expect(res.released?.sort()).toEqual(rest.map((o) => o.id).sort());
  });

  it('rejects tampered ops and malformed bytes', async () => {
    const r = await baseGroup();
    const made = await op(anna, r.group, r.log.heads(), { type: 'rename', name: 'x' });
    const bytes = Uint8Array.from(made.bytes);
    bytes[bytes.length - 70]! ^= 1; // inside the body: the name
    const res = await r.log.add(bytes);
    expect(res.status).toBe('rejected');
    expect(await r.log.add(Uint8Array.of(1, 2, 3))).toMatchObject({ status: 'rejected' });
    expect((await r.log.add(Uint8Array.of(1, 2, 3))).reason).toMatch(/malformed/);
  });

  it('rejects an op whose author certificate is expired or revoked at arrival', async () => {
    let now = NOW;
    const trust = trustStore(school, () => now);
    const r = await baseGroup();
    const log = new MembershipLog(trust, r.group);
    for (const o of r.log.ops()) expect((await log.add(o)).status).toBe('applied');
    const made = await op(clara, r.group, r.log.heads(), { type: 'rename', name: 'x' });
    now = NOW + 40 * DAY; // clara's certificate has expired
    const late = await log.add(made);
    expect(late).toMatchObject({ status: 'rejected', held: true });
    expect(log.has(made.id)).toBe(false);

    const revoked = new MembershipLog(trustStore(school), r.group);
    const trustR = revoked.trust;
    await trustR.applyRevocationList(
      await issueRevocationList(school.authority, school.authorityCert, {
        sequence: 1,
        issuedAt: NOW,
        revokedDevices: [bernd.id],
      }),
    );
    const bootstrap = r.log.ops()[1]!;
    expect(bootstrap.author.account).toBe('bernd');
    expect(await revoked.add(r.log.ops()[0]!)).toMatchObject({ status: 'applied' });
    expect(await revoked.add(bootstrap)).toMatchObject({ status: 'rejected', held: true });
    // History others built on before the revocation stays history: the next op vouches for it.
    expect(await revoked.add(r.log.ops()[2]!)).toMatchObject({ status: 'applied', released: [bootstrap.id] });
    for (const o of r.log.ops()) await revoked.add(o);
    expect(revoked.size).toBe(r.log.size);
    const byBernd = await op(bernd, r.group, r.log.heads(), { type: 'rename', name: 'y' });
    expect(await revoked.add(byBernd)).toMatchObject({ status: 'rejected', held: true });
    expect(revoked.has(byBernd.id)).toBe(false);
  });

  it('accepts history whose certificates have since expired once a currently valid device builds on it', async () => {
    const r = await baseGroup();
    const annaLater = await makeDevice(school, 'anna', { notAfter: NOW + 70 * DAY });
    await r.ok(anna, { type: 'add-device', certificate: annaLater.certificate });
    const history = r.log.ops();
    const fresh = await op(annaLater, r.group, r.log.heads(), { type: 'rename', name: 'Neues Jahr' });
    const log = new MembershipLog(trustStore(school, () => NOW + 40 * DAY), r.group);
    for (const o of history) expect((await log.add(o)).held).toBe(true);
    expect(log.size).toBe(0);
    const res = await log.add(fresh);
    expect(res.status).toBe('applied');
    expect(res.released?.length).toBe(history.length);
    expect(log.state().name).toBe('Neues Jahr');
  });

  it('restore() re-loads stored ops without certificate checks', async () => {
    const r = await baseGroup();
    const log = new MembershipLog(trustStore(school, () => NOW + 400 * DAY));
    for (const o of r.log.ops()) expect(log.restore(o.bytes).status).toBe('applied');
    await sameResult(r.log, log);
  });

  it('opsNotIn gives what another replica lacks, parents first', async () => {
    const r = await baseGroup();
    const behind = new MembershipLog(trustStore(school), r.group);
    const ops = r.log.ops();
    for (const o of ops.slice(0, 2)) await behind.add(o);
    await r.ok(anna, { type: 'rename', name: 'a' });
    const missing = r.log.opsNotIn(behind.heads());
    expect(missing.map((o) => o.id)).toEqual(r.log.ops().slice(2).map((o) => o.id));
    for (const o of missing) expect((await behind.add(o)).status).toBe('applied');
    await sameResult(r.log, behind);
    expect(r.log.opsNotIn(r.log.heads())).toEqual([]);
    expect(r.log.opsNotIn([]).length).toBe(r.log.size);
  });

  it('pastOf gives an op and its ancestors another replica lacks, parents first, and nothing after it', async () => {
    const r = await baseGroup();
    const behind = new MembershipLog(trustStore(school), r.group);
    for (const o of r.log.ops().slice(0, 2)) await behind.add(o);
    await r.ok(anna, { type: 'rename', name: 'a' });
    const target = r.log.ops().at(-1)!;
    await r.ok(anna, { type: 'rename', name: 'b' });
    const past = r.log.pastOf(target.id, behind.heads());
    expect(past.map((o) => o.id)).toEqual(r.log.ops().slice(2, -1).map((o) => o.id));
    expect(past.at(-1)!.id).toBe(target.id);
    for (const o of past) expect((await behind.add(o)).status).toBe('applied');
    expect(behind.state().name).toBe('a');
    expect(r.log.pastOf(target.id, [target.id])).toEqual([]);
    expect(r.log.pastOf('unknown', [])).toEqual([]);
  });

  it('state() is a snapshot', async () => {
    const r = await baseGroup();
    const before = r.log.state();
    await r.ok(anna, { type: 'rename', name: 'after' });
    expect(before.name).toBe('Klasse 7b');
    expect(r.log.state().name).toBe('after');
  });
});

/** The sync account creates a class as manager with bernd (moderator), clara (member), dora (reader); each adds its device. */
async function managedGroup(policy?: GroupPolicy): Promise<Replica> {
  const r = new Replica();
  const create = await createGroup(
    sync,
    [
      { account: sync.account, role: 'manager' },
      { account: bernd.account, role: 'moderator' },
      { account: clara.account, role: 'member' },
      { account: dora.account, role: 'reader' },
    ],
    'class',
    policy ?? { ...defaultGroupPolicy('class') },
  );
  expect(await r.log.add(create)).toMatchObject({ status: 'applied' });
  for (const d of [bernd, clara, dora]) await r.ok(d, { type: 'add-device', certificate: d.certificate });
  return r;
}

/** A rotate-key body with placeholder boxes (judging never opens them). */
const placeholderRotation = (devices: string[]): OpBody => ({ type: 'rotate-key', sealed: devices.map((device) => ({ device, box: randomBytes(80) })) });

describe('the manager role (membership without content keys)', () => {
  it('a group created by a manager has it as manager: listed device, no reading, no posting, no epoch until a member rotates', async () => {
    const r = await managedGroup();
    expect(roleOf(r.state, sync.account)).toBe('manager');
    expect(r.state.devices.has(sync.id)).toBe(true);
    expect(canRead(r.state, sync.id)).toBe(false);
    expect(canPost(r.state, sync.id)).toBe(false);
    expect(readingDevices(r.state)).toEqual([bernd.id, clara.id, dora.id].sort());
    expect(r.state.currentEpoch).toBeUndefined();
    // Devices but no epoch: the first member to write rotates; the key is sealed to readers only.
    expect(needsRotation(r.state)).toBe(true);
    const first = await newEpochBody(r.state);
    expect(first.body.sealed.map((s) => s.device)).not.toContain(sync.id);
    const epoch = await r.ok(clara, first.body);
    expect(r.state.currentEpoch).toBe(epoch.id);
    expect(r.state.epochMembers.get(epoch.id)?.has(sync.account)).toBe(false);
    expect(devicesWithoutKey(r.state)).toEqual([]);
    expect(needsRotation(r.state)).toBe(false);
    await expect(openEpochKey(r.state, epoch.id, sync)).rejects.toMatchObject({ code: 'not-sealed-to-device' });
    // Without the author listing itself as manager, a create makes it owner, as before.
    const owned = new Replica();
    await owned.log.add(await createGroup(sync, [{ account: clara.account, role: 'member' }]));
    expect(roleOf(owned.state, sync.account)).toBe('owner');
  });

  it('a group whose only device is its manager needs no rotation', async () => {
    const r = new Replica();
    await r.log.add(await createGroup(sync, [{ account: sync.account, role: 'manager' }, { account: clara.account, role: 'member' }], 'class'));
    expect(r.state.devices.size).toBe(1);
    expect(needsRotation(r.state)).toBe(false);
  });

  it('a manager does the membership ops of an owner', async () => {
    const r = await managedGroup();
    await r.ok(clara, (await newEpochBody(r.state)).body);
    const done = [
      await r.ok(sync, { type: 'add', account: emil.account, role: 'member' }),
      await r.ok(sync, { type: 'add-device', certificate: emil.certificate }),
      await r.ok(sync, { type: 'set-role', account: clara.account, role: 'moderator' }),
      await r.ok(sync, { type: 'set-policy', policy: { ...r.state.policy, retentionDays: 7 } }),
      await r.ok(sync, { type: 'rename', name: 'Klasse 8b' }),
      await r.ok(sync, { type: 'add', account: olaf.account, role: 'owner' }),
      await r.ok(sync, { type: 'remove-device', device: emil.id }),
      await r.ok(sync, { type: 'remove', account: dora.account }),
    ];
    for (const o of done) expect(r.effective(o.id), r.ignoredReason(o.id)).toBe(true);
    expect(r.state.name).toBe('Klasse 8b');
    expect(roleOf(r.state, clara.account)).toBe('moderator');
    expect(roleOf(r.state, olaf.account)).toBe('owner');
    expect(r.state.members.has(dora.account)).toBe(false);
    // An owner can take the manager out, too; the manager ranks with owners.
    const out = await r.ok(olaf, { type: 'add-device', certificate: olaf.certificate });
    expect(r.effective(out.id)).toBe(true);
    const removed = await r.ok(olaf, { type: 'remove', account: sync.account });
    expect(r.effective(removed.id)).toBe(true);
  });

  it('a manager cannot make itself a reader: no own role change, no re-add, its own devices never read', async () => {
    const r = await managedGroup();
    await r.ok(clara, (await newEpochBody(r.state)).body);
    for (const role of ['owner', 'moderator', 'member', 'reader'] as const) {
      const o = await r.ok(sync, { type: 'set-role', account: sync.account, role });
      expect(r.ignoredReason(o.id)).toBe('a manager cannot change its own role');
    }
    const readd = await r.ok(sync, { type: 'add', account: sync.account, role: 'member' });
    expect(r.ignoredReason(readd.id)).toBe('already a member');
    // Its second device is listed (it may sign) but reads nothing and is never owed a key.
    const second = await r.ok(sync, { type: 'add-device', certificate: sync2.certificate });
    expect(r.effective(second.id)).toBe(true);
    expect(canRead(r.state, sync2.id)).toBe(false);
    expect(devicesWithoutKey(r.state)).toEqual([]);
    expect(needsRotation(r.state)).toBe(false);
    expect(roleOf(r.state, sync.account)).toBe('manager');
  });

  it('no key reaches a manager: it starts and shares no epoch, and no rotation or share may seal to its devices', async () => {
    const r = await managedGroup();
    // A manager's own rotation would be a key it knows: refused at the door.
    const own = await r.act(sync, placeholderRotation([sync.id, bernd.id, clara.id, dora.id]));
    expect(own.result).toMatchObject({ status: 'rejected', reason: 'a manager holds no content key: it starts and shares no epoch' });
    // A member's rotation that seals to the manager's device is refused too.
    const leaky = await r.act(clara, placeholderRotation([sync.id, bernd.id, clara.id, dora.id]));
    expect(leaky.result).toMatchObject({ status: 'rejected', reason: "a key may not be sealed to a manager's device" });
    const first = await newEpochBody(r.state);
    const epoch = await r.ok(clara, first.body);
    const share = await r.act(clara, { type: 'share-key', epoch: epoch.id, sealed: [{ device: sync.id, box: randomBytes(80) }] });
    expect(share.result).toMatchObject({ status: 'rejected', reason: "a key may not be sealed to a manager's device" });
    await expect(shareKeyBody(r.state, epoch.id, first.key, [sync.id])).resolves.toBeDefined(); // the body can be made…
    const sharedByManager = await r.act(sync, { type: 'share-key', epoch: epoch.id, sealed: [{ device: emil.id, box: randomBytes(80) }] });
    expect(sharedByManager.result).toMatchObject({ status: 'rejected' }); // …but a manager's share never stands
    expect(r.state.sealedKeys.get(epoch.id)?.has(sync.id)).toBe(false);
  });

  it('after a manager removes a member or a device, the next writer must rotate, and the new key excludes them', async () => {
    const r = await managedGroup();
    await r.ok(clara, (await newEpochBody(r.state)).body);
    expect(needsRotation(r.state)).toBe(false);
    await r.ok(sync, { type: 'remove', account: dora.account });
    expect(r.state.removedSince.accounts).toEqual([dora.account]);
    expect(needsRotation(r.state)).toBe(true);
    const second = await newEpochBody(r.state);
    expect(second.body.sealed.map((s) => s.device).sort()).toEqual([bernd.id, clara.id].sort());
    await r.ok(bernd, second.body);
    expect(needsRotation(r.state)).toBe(false);
    await r.ok(sync, { type: 'remove-device', device: clara.id });
    expect(r.state.removedSince.devices).toEqual([clara.id]);
    expect(needsRotation(r.state)).toBe(true);
    // Removing the manager's own second device is no reason to rotate: it never held a key.
    const r2 = await managedGroup();
    await r2.ok(clara, (await newEpochBody(r2.state)).body);
    await r2.ok(sync, { type: 'add-device', certificate: sync2.certificate });
    await r2.ok(sync, { type: 'remove-device', device: sync2.id });
    expect(needsRotation(r2.state)).toBe(false);
  });

  it('an owner who makes itself manager stops reading: the next writer rotates it out (adopting an older directory group)', async () => {
    const r = new Replica();
    await r.log.add(await createGroup(sync, [{ account: clara.account, role: 'member' }, { account: bernd.account, role: 'moderator' }], 'class'));
    for (const d of [bernd, clara]) await r.ok(d, { type: 'add-device', certificate: d.certificate });
    await r.ok(sync, (await newEpochBody(r.state)).body);
    expect(roleOf(r.state, sync.account)).toBe('owner');
    const demote = await r.ok(sync, { type: 'set-role', account: sync.account, role: 'manager' });
    expect(r.effective(demote.id), r.ignoredReason(demote.id)).toBe(true);
    expect(canRead(r.state, sync.id)).toBe(false);
    expect(r.state.removedSince.accounts).toEqual([sync.account]);
    expect(needsRotation(r.state)).toBe(true);
    const next = await newEpochBody(r.state);
    expect(next.body.sealed.map((s) => s.device)).not.toContain(sync.id);
    await r.ok(clara, next.body);
    expect(needsRotation(r.state)).toBe(false);
    expect(r.state.sealedKeys.get(r.state.currentEpoch!)?.has(sync.id)).toBe(false);
    // The last owner or manager cannot leave while others remain, nor be demoted to a non-administering role.
    const leave = await r.ok(sync, { type: 'remove', account: sync.account });
    expect(r.ignoredReason(leave.id)).toBe('the last owner or manager cannot leave while others remain');
  });

  it('a rotation that reaches a device made manager concurrently stands, and the next writer rotates it out', async () => {
    const r = new Replica();
    await r.log.add(await createGroup(anna, [{ account: clara.account, role: 'member' }, { account: bernd.account, role: 'moderator' }]));
    for (const d of [bernd, clara]) await r.ok(d, { type: 'add-device', certificate: d.certificate });
    await r.ok(anna, (await newEpochBody(r.state)).body);
    const base = r.log.heads();
    const rotation = await newEpochBody(r.state);
    await r.ok(anna, { type: 'set-role', account: bernd.account, role: 'manager' }, base);
    const concurrent = await r.ok(clara, rotation.body, base);
    expect(r.state.currentEpoch).toBe(concurrent.id);
    // Whichever of the two is placed first, bernd may hold this epoch's key: it counts as removed since this epoch.
    expect(r.state.removedSince.devices.includes(bernd.id) || r.state.removedSince.accounts.includes(bernd.account)).toBe(true);
    expect(needsRotation(r.state)).toBe(true);
    const next = await newEpochBody(r.state);
    expect(next.body.sealed.map((s) => s.device)).not.toContain(bernd.id);
  });

  it('two members creating the first epoch concurrently resolve to the same epoch everywhere', async () => {
    const r = await managedGroup();
    const base = r.log.heads();
    const a = await r.ok(bernd, (await newEpochBody(r.state)).body, base);
    const b = await r.ok(clara, (await newEpochBody(r.state)).body, base);
    const other = new Replica(r.group);
    for (const o of [...r.log.ops()].reverse()) await other.log.add(o);
    await sameResult(r.log, other.log);
    expect(other.state.currentEpoch).toBe(r.state.currentEpoch);
    expect(r.state.epochs.sort()).toEqual([a.id, b.id].sort());
    expect(needsRotation(r.state)).toBe(false);
  });

  it('devices the caller treats as removed (revoked) are never sealed to, and one holding the current key makes a rotation due', async () => {
    const r = await managedGroup();
    await r.ok(clara, (await newEpochBody(r.state)).body);
    const revoked = new Set([dora.id]);
    expect(needsRotation(r.state)).toBe(false);
    expect(needsRotation(r.state, undefined, revoked)).toBe(true);
    const next = await newEpochBody(r.state, undefined, revoked);
    expect(next.body.sealed.map((s) => s.device).sort()).toEqual([bernd.id, clara.id].sort());
    await r.ok(clara, next.body);
    // dora lacks the new key, but she is revoked: that is no reason to rotate again.
    expect(devicesWithoutKey(r.state)).toEqual([dora.id]);
    expect(needsRotation(r.state, undefined, revoked)).toBe(false);
  });

  it('encodes the manager role on the wire and decodes it back', async () => {
    const create = await createGroup(sync, [{ account: sync.account, role: 'manager' }]);
    expect(decodeOp(encodeOp(create))).toEqual(create);
    const body = create.body as { members: { role: string }[] };
    expect(body.members[0]!.role).toBe('manager');
  });
});
