/**
 * Convergence: replicas that receive the same set of ops, in any order, with duplicates and partitions, end with
 * the same state and the same op order. Key generation and signing are slow, so setup simulates a few groups
 * once (devices acting on partial views, syncing now and then, some acting out of turn or backdating) and the
 * properties only choose subsets and orders of those pre-signed ops.
 */
import { randomBytes } from '@schoolmesh/crypto';
import { type AccountRef, defaultGroupPolicy, type GroupRole } from '@schoolmesh/model';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { type GroupState, MembershipLog, type MembershipOp, type OpBody, readingDevices } from '../src/index.ts';
import { createGroup, type Device, makeDevice, makeSchool, op, type SchoolKeys, trustStore } from './fixtures.ts';
import { prng } from '../../../test/support/prng.ts';

let school: SchoolKeys;
const pools: MembershipOp[][] = [];


async function simulate(seed: number, devices: Device[], steps: number): Promise<MembershipOp[]> {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const roles: GroupRole[] = ['manager', 'owner', 'moderator', 'member', 'reader'];
  const accounts: AccountRef[] = [...new Set(devices.map((d) => d.account))];
  const [creator, ...rest] = devices;
  const create = await createGroup(
    creator!,
    [
      { account: rest[0]!.account, role: 'moderator' },
      { account: rest[1]!.account, role: 'member' },
      { account: rest[2]!.account, role: 'member' },
    ],
    'custom',
    defaultGroupPolicy('class'),
  );
  const pool: MembershipOp[] = [create];
  const views = new Map<Device, MembershipLog>();
  for (const d of devices) {
    const log = new MembershipLog(trustStore(school));
    log.restore(create);
    views.set(d, log);
  }
  const sync = (from: MembershipLog, to: MembershipLog) => {
    for (const o of from.opsNotIn(to.heads())) to.restore(o);
  };
  for (let step = 0; step < steps; step++) {
    // Mostly devices the author's own view lists; sometimes anyone (removed, minted, never added).
    let author = pick(devices);
    if (rnd() < 0.8) {
      const listed = devices.filter((d) => views.get(d)!.state().devices.has(d.id));
      if (listed.length > 0) author = pick(listed);
    }
    const view = views.get(author)!;
    const s: GroupState = view.state();
    const group = create.group;
    let body: OpBody;
    const kind = rnd();
    if (kind < 0.15) body = { type: 'add', account: pick(accounts), role: pick(roles) };
    else if (kind < 0.27) body = { type: 'remove', account: pick(accounts) };
    else if (kind < 0.37) body = { type: 'set-role', account: pick(accounts), role: pick(roles) };
    else if (kind < 0.42)
      body = { type: 'set-policy', policy: { ...s.policy, whoMayAdd: pick(['owners', 'moderators', 'members']) } };
    else if (kind < 0.47) body = { type: 'rename', name: `name ${step}` };
    else if (kind < 0.67) {
      const target = rnd() < 0.5 ? author : pick(devices);
      body = { type: 'add-device', certificate: target.certificate };
    } else if (kind < 0.75) body = { type: 'remove-device', device: pick(devices).id };
    else if (kind < 0.9) {
      // Boxes are never opened here: placeholders keep setup fast. Sometimes one device short.
      // Mostly the reading devices (never a manager's, which the log refuses); sometimes every listed one.
      const ids = rnd() < 0.9 ? readingDevices(s) : [...s.devices.keys()];
      if (rnd() < 0.15) ids.pop();
      body = { type: 'rotate-key', sealed: ids.map((device) => ({ device, box: randomBytes(80) })) };
    } else {
      const epoch = s.epochs.length > 0 ? pick(s.epochs) : undefined;
      if (epoch === undefined) body = { type: 'rename', name: `again ${step}` };
      else {
        const lacking = readingDevices(s).filter((d) => !s.sealedKeys.get(epoch)?.has(d));
        body = { type: 'share-key', epoch, sealed: lacking.map((device) => ({ device, box: randomBytes(80) })) };
      }
    }
    // Usually on top of what it knows; sometimes backdated onto an older op it knows.
    const known = view.ops();
    const parents = rnd() < 0.15 ? [pick(known).id] : view.heads();
    const made = await op(author, group, parents, body);
    view.restore(made);
    pool.push(made);
    if (rnd() < 0.35) sync(views.get(pick(devices))!, views.get(pick(devices))!);
    if (rnd() < 0.1) for (const d of devices) sync(views.get(d)!, views.get(creator!)!);
  }
  return pool;
}

beforeAll(async () => {
  school = await makeSchool();
  const devices = await Promise.all([
    makeDevice(school, 'anna'),
    makeDevice(school, 'bernd'),
    makeDevice(school, 'clara'),
    makeDevice(school, 'dora'),
    makeDevice(school, 'anna'),
    makeDevice(school, 'clara'),
    makeDevice(school, 'emil'),
    makeDevice(school, 'emil'),
    makeDevice(school, 'fritz'),
  ]);
  for (const seed of [1, 2, 3, 4]) pools.push(await simulate(seed, devices, 55));
});

function view(log: MembershipLog) {
  const s = log.state();
  return {
    order: log.ops().map((o) => o.id),
    heads: log.heads(),
    pending: log.pendingIds(),
    name: s.name,
    kind: s.kind,
    policy: s.policy,
    members: [...s.members].sort(),
    devices: [...s.devices].map(([id, d]) => [id, d.account, d.addedBy]).sort(),
    epochs: s.epochs,
    currentEpoch: s.currentEpoch,
    sealed: [...s.sealedKeys].map(([e, m]) => [e, [...m.keys()].sort()]),
    ignored: s.ignored.map((i) => [i.op, i.reason]),
    removedSince: s.removedSince,
  };
}

/** A delivery plan: a partition (first part, then the rest), each in its own order, with duplicates. */
const plan = (n: number) =>
  fc.record({
    first: fc.subarray([...Array(n).keys()]),
    orderA: fc.array(fc.nat(), { minLength: n, maxLength: n }),
    orderB: fc.array(fc.nat(), { minLength: n, maxLength: n }),
    dupA: fc.array(fc.nat(n - 1), { maxLength: 8 }),
    dupB: fc.array(fc.nat(n - 1), { maxLength: 8 }),
  });

type Plan = { first: number[]; orderA: number[]; orderB: number[]; dupA: number[]; dupB: number[] };

/** Sorts `items` by the random keys, then splices in duplicates: a permutation with repeats. */
function arrange(items: number[], keys: number[], dups: number[]): number[] {
  const out = items
    .map((x, i) => [keys[i] ?? 0, x] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map(([, x]) => x);
  for (const d of dups) if (items.includes(d)) out.splice((d * 7) % (out.length + 1), 0, d);
  return out;
}

function phases(p: Plan, n: number): { a: number[][]; b: number[][] } {
  const inFirst = new Set(p.first);
  const rest = [...Array(n).keys()].filter((i) => !inFirst.has(i));
  return {
    a: [arrange(p.first, p.orderA, p.dupA), arrange(rest, p.orderA.slice().reverse(), p.dupA)],
    b: [arrange(p.first, p.orderB, p.dupB), arrange(rest, p.orderB.slice().reverse(), p.dupB)],
  };
}

describe('convergence', () => {
  it('pools have concurrency, ignored and rejected ops', () => {
    for (const pool of pools) {
      const log = new MembershipLog(trustStore(school));
      let rejected = 0;
      for (const o of pool) if (log.restore(o).status === 'rejected') rejected++;
      const s = log.state();
      expect(rejected).toBeGreaterThan(0);
      expect(s.ignored.length).toBeGreaterThan(3);
      expect(log.ops().filter((o) => o.parents.length > 1).length).toBeGreaterThan(0);
      expect(s.members.size).toBeGreaterThan(1);
      if (process.env.MEMBERSHIP_STATS)
        console.log(pool.length, rejected, log.ops().filter((o) => o.parents.length > 1).length, s.ignored.map((i) => i.reason));
    }
  });

  it('same ops in any order, with duplicates and partitions, give the same state (restore path)', () => {
    const reference = pools.map((pool) => {
      const log = new MembershipLog(trustStore(school));
      for (const o of pool) log.restore(o);
      return view(log);
    });
    fc.assert(
      fc.property(
        fc.nat(pools.length - 1).chain((i) => fc.tuple(fc.constant(i), plan(pools[i]!.length))),
        ([i, p]) => {
          const pool = pools[i]!;
          const { a, b } = phases(p, pool.length);
          const logA = new MembershipLog(trustStore(school));
          const logB = new MembershipLog(trustStore(school));
          for (const k of a[0]!) logA.restore(pool[k]!.bytes);
          for (const k of b[0]!) logB.restore(pool[k]!);
          expect(view(logB)).toEqual(view(logA));
          for (const k of a[1]!) logA.restore(pool[k]!);
          for (const k of b[1]!) logB.restore(pool[k]!.bytes);
          expect(view(logA)).toEqual(reference[i]);
          expect(view(logB)).toEqual(reference[i]);
        },
      ),
      { seed: 20250110, numRuns: 900 },
    );
  });

  it('same ops in any order give the same state with full verification (add path)', async () => {
    const reference = await Promise.all(
      pools.map(async (pool) => {
        const log = new MembershipLog(trustStore(school));
        for (const o of pool) await log.add(o);
        return view(log);
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.nat(pools.length - 1).chain((i) => fc.tuple(fc.constant(i), plan(pools[i]!.length))),
        async ([i, p]) => {
          const pool = pools[i]!;
          const { a, b } = phases(p, pool.length);
          const trust = trustStore(school);
          const logA = new MembershipLog(trust);
          const logB = new MembershipLog(trust);
          for (const k of a[0]!) await logA.add(pool[k]!);
          for (const k of b[0]!) await logB.add(pool[k]!.bytes);
          expect(view(logB)).toEqual(view(logA));
          for (const k of a[1]!) await logA.add(pool[k]!.bytes);
          for (const k of b[1]!) await logB.add(pool[k]!);
          expect(view(logA)).toEqual(reference[i]);
          expect(view(logB)).toEqual(reference[i]);
        },
      ),
      { seed: 20250111, numRuns: 100 },
    );
  });
});
