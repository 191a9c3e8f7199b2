/** The op decoder is total: random bytes and mutated valid encodings give an op or a DecodeError, nothing else. */
import { randomBytes } from '@schoolmesh/crypto';
import { defaultGroupPolicy } from '@schoolmesh/model';
import { DecodeError } from '@schoolmesh/wire';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeOp, MembershipLog, type MembershipOp } from '../src/index.ts';
import { createGroup, makeDevice, makeSchool, op, type SchoolKeys, trustStore } from './fixtures.ts';

let school: SchoolKeys;
const valid: MembershipOp[] = [];

beforeAll(async () => {
  school = await makeSchool();
  const [a, b] = await Promise.all([makeDevice(school, 'anna'), makeDevice(school, 'bernd')]);
  const create = await createGroup(a!, [{ account: b!.account, role: 'moderator' }]);
  const g = create.group;
  const p = [create.id];
  const sealed = [
    { device: a!.id, box: randomBytes(80) },
    { device: b!.id, box: randomBytes(80) },
  ];
  valid.push(
    create,
    await op(a!, g, p, { type: 'add', account: 'clara@x', role: 'member' }),
    await op(a!, g, p, { type: 'remove', account: b!.account }),
    await op(a!, g, p, { type: 'set-role', account: b!.account, role: 'reader' }),
    await op(a!, g, p, { type: 'set-policy', policy: { ...defaultGroupPolicy('club'), historyForNewMembers: 'none' } }),
    await op(a!, g, p, { type: 'rename', name: 'Fußball-AG' }),
    await op(a!, g, p, { type: 'add-device', certificate: b!.certificate }),
    await op(a!, g, p, { type: 'remove-device', device: b!.id }),
    await op(a!, g, p, { type: 'rotate-key', sealed }),
    await op(a!, g, p, { type: 'share-key', epoch: create.id, sealed }),
  );
});

function decodesOrDecodeError(bytes: Uint8Array): void {
  try {
    const decoded = decodeOp(bytes);
    expect(decoded.bytes).toEqual(bytes);
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
  }
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(bytes: Uint8Array, ms: Mutation[]): Uint8Array {
  let out = Array.from(bytes);
  for (const m of ms) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.kind === 'flip') out[at] = (out[at] ?? 0) ^ (1 << m.bit);
    else if (m.kind === 'set') out[at] = m.value;
    else if (m.kind === 'cut') out = out.slice(0, at);
    else if (m.kind === 'insert') out.splice(at, 0, m.value);
    else out.splice(at, 1);
  }
  return Uint8Array.from(out);
}

describe('decodeOp fuzz', () => {
  it('valid encodings decode', () => {
    for (const o of valid) expect(decodeOp(o.bytes).id).toBe(o.id);
  });

  it('random bytes give only DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => decodesOrDecodeError(bytes)),
      { seed: 7, numRuns: 3000 },
    );
  });

  it('random bytes behind a valid prefix give only DecodeError', () => {
    fc.assert(
      fc.property(fc.nat(9), fc.nat(), fc.uint8Array({ maxLength: 300 }), (i, cut, tail) => {
        const base = valid[i % valid.length]!.bytes;
        const prefix = base.subarray(0, cut % base.length);
        decodesOrDecodeError(Uint8Array.of(...prefix, ...tail));
      }),
      { seed: 8, numRuns: 3000 },
    );
  });

  it('mutated valid encodings give only DecodeError', () => {
    fc.assert(
      fc.property(fc.nat(9), fc.array(mutation, { minLength: 1, maxLength: 4 }), (i, ms) => {
        decodesOrDecodeError(mutate(valid[i % valid.length]!.bytes, ms));
      }),
      { seed: 9, numRuns: 5000 },
    );
  });

  it('a log never throws on mutated input', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(9), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (i, ms) => {
        const log = new MembershipLog(trustStore(school));
        log.restore(valid[0]!);
        const result = await log.add(mutate(valid[i % valid.length]!.bytes, ms));
        expect(['applied', 'duplicate', 'missing-parents', 'rejected']).toContain(result.status);
      }),
      { seed: 10, numRuns: 300 },
    );
  });
});
