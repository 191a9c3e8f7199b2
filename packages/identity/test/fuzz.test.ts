import fc from 'fast-check';
import { DecodeError } from '@schoolmesh/wire';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateError,
  type DeviceIdentity,
  type RevocationList,
  TrustStore,
  decodeAuthorityCertificate,
  decodeDeviceCertificate,
  decodeDeviceIdentity,
  decodeRevocationList,
  encodeDeviceIdentity,
  issueRevocationList,
} from '../src/index.ts';
import { DAY, T0, type TestSchool, makeDevice, makeSchool } from './helpers.ts';

const seed = 20261123;
const numRuns = 1500;

let school: TestSchool;
let device: DeviceIdentity;
let list: RevocationList;
let samples: { name: string; bytes: Uint8Array; decode: (b: Uint8Array) => unknown }[];

beforeAll(async () => {
  school = await makeSchool('Fuzzschule');
  device = await makeDevice(school);
  const other = await makeDevice(school);
  list = await issueRevocationList(school.authority, school.authorityCert, {
    sequence: 3,
    issuedAt: T0,
    revokedDevices: [device.id, other.id],
  });
  samples = [
    { name: 'authority certificate', bytes: school.authorityCert.bytes, decode: decodeAuthorityCertificate },
    { name: 'device certificate', bytes: device.certificate.bytes, decode: decodeDeviceCertificate },
    { name: 'revocation list', bytes: list.bytes, decode: decodeRevocationList },
  ];
});

/** Only DecodeError (or CertificateError('malformed') where allowed) may escape a decoder. */
function expectDecodeFailure(error: unknown, allowMalformed = false): void {
  if (error instanceof DecodeError) return;
  if (allowMalformed && error instanceof CertificateError && error.code === 'malformed') return;
  throw new Error(`decoder threw ${String(error)}`);
}

type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'set'; at: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0x00, 0x7f, 0x80, 0xff, 0x01, 0x02) }),
);

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let out = Uint8Array.from(bytes);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % (out.length + 1);
    if (m.kind === 'flip' && at < out.length) out[at]! ^= m.mask;
    else if (m.kind === 'set' && at < out.length) out[at] = m.value;
    else if (m.kind === 'truncate') out = out.slice(0, at);
    else if (m.kind === 'insert') out = Uint8Array.from([...out.subarray(0, at), ...m.bytes, ...out.subarray(at)]);
    else if (m.kind === 'delete') out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + m.length)]);
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

describe('decoders are total', () => {
  it('random bytes: every decoder returns or throws DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        for (const { decode } of samples) {
          try {
            decode(bytes);
          } catch (e) {
            expectDecodeFailure(e);
          }
        }
      }),
      { seed, numRuns },
    );
  });

  it('random bytes behind a valid version byte get past the first check and still only throw DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (tail) => {
        const bytes = Uint8Array.from([1, ...tail]);
        for (const { decode } of samples) {
          try {
            decode(bytes);
          } catch (e) {
            expectDecodeFailure(e);
          }
        }
      }),
      { seed, numRuns },
    );
  });

  it('mutated valid encodings: decoders return or throw DecodeError; a changed encoding never verifies', async () => {
    const store = new TrustStore(() => T0 + DAY);
    store.addSchool(school.root.publicKey);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 2 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), async (which, mutations) => {
        const sample = samples[which]!;
        const bytes = mutate(sample.bytes, mutations);
        try {
          sample.decode(bytes);
        } catch (e) {
          expectDecodeFailure(e);
        }
        const changed = !sameBytes(bytes, sample.bytes);
        if (which === 1) {
          try {
            await store.verifyDevice(bytes);
            expect(changed).toBe(false);
          } catch (e) {
            expect(e).toBeInstanceOf(CertificateError);
          }
        } else if (which === 2) {
          try {
            await store.applyRevocationList(bytes);
            // Only the untouched list may apply (or be ignored as not newer).
            expect(changed).toBe(false);
          } catch (e) {
            expect(e).toBeInstanceOf(CertificateError);
          }
        }
      }),
      { seed, numRuns },
    );
  });

  it('device identities: random and mutated bytes give DecodeError or CertificateError(malformed)', async () => {
    const stored = encodeDeviceIdentity(device);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 700 }),
          fc.array(mutation, { minLength: 1, maxLength: 4 }).map((m) => mutate(stored, m)),
        ),
        async (bytes) => {
          try {
            const restored = await decodeDeviceIdentity(bytes);
            // Whatever decodes must still be self-consistent.
            expect(sameBytes(restored.signing.publicKey, restored.certificate.deviceKey)).toBe(true);
          } catch (e) {
            expectDecodeFailure(e, true);
          }
        },
      ),
      { seed, numRuns },
    );
  });
});
