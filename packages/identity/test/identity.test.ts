import { generateAgreementKeyPair, generateSigningKeyPair } from '@schoolmesh/crypto';
import { DecodeError, Encoder, bytesEqual, concatBytes, fromBase64Url, toBase64Url } from '@schoolmesh/wire';
import { beforeEach, describe, expect, it } from 'vitest';
import { encodeAuthorityBody, encodeDeviceBody, encodeRevocationBody, signedMessage } from '../src/codec.ts';
import {
  AUTHORITY_CERT_MS,
  type AuthorityCertificate,
  CONTEXT_AUTHORITY,
  CONTEXT_DEVICE,
  CONTEXT_REVOCATION,
  CertificateError,
  DEVICE_CERT_MS,
  type DeviceCertificate,
  type RevocationList,
  TrustStore,
  decodeAuthorityCertificate,
  decodeDeviceCertificate,
  decodeDeviceIdentity,
  decodeRevocationList,
  deviceIdOf,
  deviceIdentity,
  encodeAuthorityCertificate,
  encodeDeviceCertificate,
  encodeDeviceIdentity,
  encodeRevocationList,
  issueDeviceCertificate,
  issueRevocationList,
} from '../src/index.ts';
import { DAY, T0, type TestSchool, codeOf, flip, makeDevice, makeSchool } from './helpers.ts';

let now = T0 + DAY;
let store: TrustStore;
let schoolA: TestSchool;
let schoolB: TestSchool;

beforeEach(async () => {
  now = T0 + DAY;
  store = new TrustStore(() => now);
  schoolA = await makeSchool('Gesamtschule Am Park');
  schoolB = await makeSchool('Gymnasium Nord');
  store.addSchool(schoolA.root.publicKey, schoolA.name);
});

/** A device certificate signed by `signer` over `context`, with fields the issuing API would refuse. */
async function craftDevice(
  fields: Omit<DeviceCertificate, 'signature' | 'bytes' | 'version'>,
  signer: { sign(m: Uint8Array): Promise<Uint8Array> },
  context = CONTEXT_DEVICE,
): Promise<Uint8Array> {
  const body = encodeDeviceBody({ version: 1, ...fields });
  return concatBytes(body, await signer.sign(signedMessage(context, body)));
}

async function craftAuthority(
  fields: Omit<AuthorityCertificate, 'signature' | 'bytes' | 'version'>,
  signer: { sign(m: Uint8Array): Promise<Uint8Array> },
): Promise<AuthorityCertificate> {
  const body = encodeAuthorityBody({ version: 1, ...fields });
  return decodeAuthorityCertificate(concatBytes(body, await signer.sign(signedMessage(CONTEXT_AUTHORITY, body))));
}

describe('issuing and encoding', () => {
  it('issues certificates with the default lifetimes and canonical encodings', async () => {
    const device = await makeDevice(schoolA);
    const cert = device.certificate;
    expect(schoolA.authorityCert.notAfter - schoolA.authorityCert.notBefore).toBe(AUTHORITY_CERT_MS);
    expect(cert.notAfter - cert.notBefore).toBe(DEVICE_CERT_MS);
    expect(DEVICE_CERT_MS).toBe(30 * DAY);
    expect(cert.school).toBe(toBase64Url(schoolA.root.publicKey));
    expect(device.id).toBe(deviceIdOf(device.signing.publicKey));
    expect(encodeDeviceCertificate(cert)).toEqual(cert.bytes);
    expect(encodeAuthorityCertificate(schoolA.authorityCert)).toEqual(schoolA.authorityCert.bytes);
    const decoded = decodeDeviceCertificate(cert.bytes);
    expect(decoded).toEqual(cert);
    expect(encodeDeviceCertificate(decoded)).toEqual(cert.bytes);
    expect(decodeAuthorityCertificate(schoolA.authorityCert.bytes)).toEqual(schoolA.authorityCert);
  });

  it('refuses bad input at issue time', async () => {
    const keys = { deviceKey: new Uint8Array(32), agreementKey: new Uint8Array(32) };
    const base = { account: 'a', displayName: 'A', role: 'pupil' as const, ...keys, notBefore: T0 };
    const issue = (over: object) =>
      codeOf(issueDeviceCertificate(schoolA.authority, schoolA.authorityCert, { ...base, ...over }));
    expect(await issue({})).toBe('ok');
    expect(await issue({ notAfter: T0 })).toBe('malformed');
    expect(await issue({ account: '' })).toBe('malformed');
    expect(await issue({ account: 'x'.repeat(257) })).toBe('malformed');
    expect(await issue({ displayName: 'broken \ud800' })).toBe('malformed');
    expect(await issue({ role: 'janitor' })).toBe('malformed');
    expect(await issue({ deviceKey: new Uint8Array(31) })).toBe('malformed');
    expect(await issue({ notBefore: -1 })).toBe('malformed');
    // The authority key must be the certified one, and the certificate must be its school's.
    expect(await codeOf(issueDeviceCertificate(schoolB.authority, schoolA.authorityCert, base))).toBe('wrong-issuer');
    expect(await codeOf(issueDeviceCertificate(schoolA.authority, schoolB.authorityCert, base))).toBe('wrong-issuer');
    const forged = { ...schoolA.authorityCert, signature: flip(schoolA.authorityCert.signature, 3) };
    forged.bytes = encodeAuthorityCertificate(forged);
    expect(await codeOf(issueDeviceCertificate(schoolA.authority, forged, base))).toBe('bad-signature');
    expect(await codeOf(issueRevocationList(schoolA.authority, schoolA.authorityCert, { sequence: 1, issuedAt: T0, revokedDevices: ['nope'] }))).toBe(
      'malformed',
    );
  });

  it('stores a device identity and restores it', async () => {
    const device = await makeDevice(schoolA);
    const restored = await decodeDeviceIdentity(encodeDeviceIdentity(device));
    expect(restored.id).toBe(device.id);
    expect(restored.signing.publicKey).toEqual(device.signing.publicKey);
    expect(restored.agreement.publicKey).toEqual(device.agreement.publicKey);
    expect(restored.certificate.bytes).toEqual(device.certificate.bytes);
    const message = new TextEncoder().encode('hallo');
    expect((await restored.signing.sign(message)).length).toBe(64);
    // Keys that do not match the certificate are refused.
    const other = await generateSigningKeyPair();
    expect(() => deviceIdentity(other, device.agreement, device.certificate)).toThrow(CertificateError);
    const swapped = encodeDeviceIdentity({ ...device, signing: other });
    expect(await codeOf(decodeDeviceIdentity(swapped))).toBe('malformed');
    await expect(decodeDeviceIdentity(new Uint8Array([2]))).rejects.toBeInstanceOf(DecodeError);
  });
});

describe('TrustStore.verifyDevice', () => {
  it('verifies a valid chain, from an object or from bytes', async () => {
    const device = await makeDevice(schoolA, { account: 'lschmidt', displayName: 'Lena Schmidt', role: 'teacher' });
    const verified = await store.verifyDevice(device.certificate);
    expect(verified).toMatchObject({
      id: device.id,
      school: schoolA.id,
      account: 'lschmidt',
      accountRef: `lschmidt@${schoolA.id}`,
      displayName: 'Lena Schmidt',
      role: 'teacher',
      notAfter: T0 + 30 * DAY,
    });
    expect(bytesEqual(verified.agreementKey, device.agreement.publicKey)).toBe(true);
    expect((await store.verifyDevice(device.certificate.bytes)).id).toBe(device.id);
    // Cached: same answer again.
    expect((await store.verifyDevice(device.certificate)).id).toBe(device.id);
  });

  it('takes the earlier notAfter of device and authority', async () => {
    const short = await makeSchool('Kurz', { notAfter: T0 + 10 * DAY });
    store.addSchool(short.root.publicKey);
    const device = await makeDevice(short);
    expect((await store.verifyDevice(device.certificate)).notAfter).toBe(T0 + 10 * DAY);
  });

  it('rejects expired and not-yet-valid certificates, also once cached', async () => {
    const device = await makeDevice(schoolA, { notBefore: T0 + 2 * DAY, notAfter: T0 + 5 * DAY });
    expect(await codeOf(store.verifyDevice(device.certificate))).toBe('not-yet-valid');
    now = T0 + 2 * DAY;
    expect(await codeOf(store.verifyDevice(device.certificate))).toBe('ok');
    now = T0 + 5 * DAY;
    expect(await codeOf(store.verifyDevice(device.certificate))).toBe('expired');
    now = T0 + 4 * DAY;
    expect(await codeOf(store.verifyDevice(device.certificate))).toBe('ok');
    now = T0 + 400 * DAY;
    expect(await codeOf(store.verifyDevice((await makeDevice(schoolA, { notBefore: T0 + 399 * DAY })).certificate))).toBe(
      'expired', // the authority expired at T0 + 365 days
    );
    now = T0 - 1;
    expect(await codeOf(store.verifyDevice((await makeDevice(schoolA, { notBefore: T0 - DAY })).certificate))).toBe(
      'not-yet-valid', // the authority is not valid before T0
    );
  });

  it('rejects forged signatures and edited bytes', async () => {
    const device = await makeDevice(schoolA);
    const bytes = device.certificate.bytes;
    expect(await codeOf(store.verifyDevice(flip(bytes, bytes.length - 1)))).toBe('bad-signature');
    const nameAt = bytes.indexOf('M'.charCodeAt(0), 33);
    expect(await codeOf(store.verifyDevice(flip(bytes, nameAt)))).toBe('bad-signature');
    // A bit flipped inside the embedded authority certificate's signature.
    const authoritySigAt = bytes.length - 64 - 1;
    expect(await codeOf(store.verifyDevice(flip(bytes, authoritySigAt)))).toBe('bad-signature');
    // Signed by some other key than the certified authority.
    const mallory = await generateSigningKeyPair();
    const { signature: _s, bytes: _b, version: _v, ...fields } = device.certificate;
    expect(await codeOf(store.verifyDevice(await craftDevice(fields, mallory)))).toBe('bad-signature');
    // The right key, but a signature made for another kind of object (domain separation).
    expect(await codeOf(store.verifyDevice(await craftDevice(fields, schoolA.authority, CONTEXT_REVOCATION)))).toBe(
      'bad-signature',
    );
  });

  it('believes the signed bytes, not edited fields of a certificate object', async () => {
    const device = await makeDevice(schoolA, { role: 'pupil' });
    const edited: DeviceCertificate = { ...device.certificate, role: 'admin', account: 'root' };
    const verified = await store.verifyDevice(edited);
    expect(verified.role).toBe('pupil');
    expect(verified.account).toBe('mmueller');
  });

  it('rejects a device certificate claiming a school its authority does not belong to', async () => {
    store.addSchool(schoolB.root.publicKey);
    const agreement = await generateAgreementKeyPair();
    const deviceKey = (await generateSigningKeyPair()).publicKey;
    const fields = {
      school: schoolA.id,
      account: 'mmueller',
      displayName: 'Maria Müller',
      role: 'admin' as const,
      deviceKey,
      agreementKey: agreement.publicKey,
      notBefore: T0,
      notAfter: T0 + DAY * 2,
      authority: schoolB.authorityCert,
    };
    expect(await codeOf(store.verifyDevice(await craftDevice(fields, schoolB.authority)))).toBe('wrong-issuer');
    // B's own devices are fine while B is trusted.
    expect(await codeOf(store.verifyDevice((await makeDevice(schoolB)).certificate))).toBe('ok');
  });

  it('rejects an authority certificate not signed by a trusted root', async () => {
    const mallory = await generateSigningKeyPair();
    const fakeAuthority = await craftAuthority(
      {
        school: schoolA.id,
        schoolName: schoolA.name,
        authorityKey: mallory.publicKey,
        notBefore: T0,
        notAfter: T0 + 365 * DAY,
      },
      mallory,
    );
    const device = await issueDeviceCertificate(mallory, fakeAuthority, {
      account: 'admin',
      displayName: 'Admin',
      role: 'admin',
      deviceKey: mallory.publicKey,
      agreementKey: (await generateAgreementKeyPair()).publicKey,
      notBefore: T0,
    }).catch((e: CertificateError) => e);
    // The issuing API refuses to build on it ...
    expect(device).toBeInstanceOf(CertificateError);
    // ... and a hand-built chain on it is refused by the store.
    const agreement = await generateAgreementKeyPair();
    const bytes = await craftDevice(
      {
        school: schoolA.id,
        account: 'admin',
        displayName: 'Admin',
        role: 'admin',
        deviceKey: mallory.publicKey,
        agreementKey: agreement.publicKey,
        notBefore: T0,
        notAfter: T0 + DAY * 2,
        authority: fakeAuthority,
      },
      mallory,
    );
    expect(await codeOf(store.verifyDevice(bytes))).toBe('bad-signature');
    // A whole chain from a school nobody added.
    expect(await codeOf(store.verifyDevice((await makeDevice(schoolB)).certificate))).toBe('unknown-school');
  });

  it('rejects revoked devices and devices of removed schools, also once cached', async () => {
    const device = await makeDevice(schoolA);
    const other = await makeDevice(schoolA, { account: 'kweber' });
    expect(await codeOf(store.verifyDevice(device.certificate))).toBe('ok');
    const list = await issueRevocationList(schoolA.authority, schoolA.authorityCert, {
      sequence: 1,
      issuedAt: now,
      revokedDevices: [device.id],
    });
    await store.applyRevocationList(list);
    expect(store.isRevoked(device.id)).toBe(true);
    expect(store.isRevoked(device.id, schoolA.id)).toBe(true);
    expect(store.isRevoked(device.id, schoolB.id)).toBe(false);
    expect(store.isRevoked(other.id)).toBe(false);
    expect(await codeOf(store.verifyDevice(device.certificate))).toBe('revoked');
    expect(await codeOf(store.verifyDevice(other.certificate))).toBe('ok');
    store.removeSchool(schoolA.id);
    expect(store.hasSchool(schoolA.id)).toBe(false);
    expect(store.schools()).toEqual([]);
    expect(await codeOf(store.verifyDevice(other.certificate))).toBe('unknown-school');
    expect(store.isRevoked(device.id)).toBe(false);
  });

  it('refuses garbage with malformed, and never throws anything but CertificateError', async () => {
    expect(await codeOf(store.verifyDevice(new Uint8Array([1, 2, 3])))).toBe('malformed');
    expect(await codeOf(store.verifyDevice(undefined as unknown as Uint8Array))).toBe('malformed');
    expect(await codeOf(store.verifyDevice({} as DeviceCertificate))).toBe('malformed');
  });
});

describe('revocation lists', () => {
  const issue = (school: TestSchool, sequence: number, revokedDevices: string[], issuedAt = now) =>
    issueRevocationList(school.authority, school.authorityCert, { sequence, issuedAt, revokedDevices });

  it('round-trips in canonical order', async () => {
    const ids = await Promise.all([1, 2, 3].map(async () => (await makeDevice(schoolA)).id));
    const list = await issue(schoolA, 7, [ids[2]!, ids[0]!, ids[1]!, ids[0]!]);
    expect(list.revokedDevices.length).toBe(3);
    expect(decodeRevocationList(list.bytes)).toEqual(list);
    expect(encodeRevocationList(list)).toEqual(list.bytes);
    // A list whose ids are out of order, or repeated, does not decode.
    const keys = list.revokedDevices.map((id) => fromBase64Url(id));
    for (const order of [[keys[1]!, keys[0]!, keys[2]!], [keys[0]!, keys[0]!]]) {
      const bytes = new Encoder()
        .u8(1)
        .fixed(schoolA.root.publicKey, 32)
        .varuint(7)
        .varuint(now)
        .list(order, (e, k) => e.fixed(k, 32))
        .bytes(schoolA.authorityCert.bytes)
        .fixed(new Uint8Array(64), 64)
        .finish();
      expect(() => decodeRevocationList(bytes)).toThrow(DecodeError);
    }
  });

  it('applies higher sequences, ignores stale ones, and un-revokes when a newer list says so', async () => {
    const d1 = await makeDevice(schoolA);
    const d2 = await makeDevice(schoolA);
    await store.applyRevocationList(await issue(schoolA, 2, [d1.id]));
    expect(store.revocationSequence(schoolA.id)).toBe(2);
    await store.applyRevocationList(await issue(schoolA, 1, [d2.id])); // stale
    await store.applyRevocationList(await issue(schoolA, 2, [d2.id])); // same sequence: ignored
    expect(store.isRevoked(d1.id)).toBe(true);
    expect(store.isRevoked(d2.id)).toBe(false);
    await store.applyRevocationList((await issue(schoolA, 3, [d2.id])).bytes);
    expect(store.revocationSequence(schoolA.id)).toBe(3);
    expect(store.isRevoked(d1.id)).toBe(false);
    expect(store.isRevoked(d2.id)).toBe(true);
  });

  it('verifies lists: school, authority, signature, validity', async () => {
    const d1 = await makeDevice(schoolA);
    expect(await codeOf(store.applyRevocationList(await issue(schoolB, 1, [d1.id])))).toBe('unknown-school');
    const good = await issue(schoolA, 5, [d1.id]);
    expect(await codeOf(store.applyRevocationList(flip(good.bytes, good.bytes.length - 1)))).toBe('bad-signature');
    const edited: RevocationList = { ...good, sequence: 9, revokedDevices: [] };
    expect(await codeOf(store.applyRevocationList(edited))).toBe('ok'); // fields ignored: bytes say sequence 5
    expect(store.revocationSequence(schoolA.id)).toBe(5);
    expect(store.isRevoked(d1.id)).toBe(true);
    // School B's authority cannot speak for school A.
    store.addSchool(schoolB.root.publicKey);
    const body = encodeRevocationBody({ school: schoolA.id, sequence: 99, issuedAt: now, revokedDevices: [], authority: schoolB.authorityCert });
    const crafted = concatBytes(body, await schoolB.authority.sign(signedMessage(CONTEXT_REVOCATION, body)));
    expect(await codeOf(store.applyRevocationList(crafted))).toBe('wrong-issuer');
    // A signature made for a device certificate does not make a revocation list.
    const replay = concatBytes(body, await schoolA.authority.sign(signedMessage(CONTEXT_DEVICE, body)));
    expect(await codeOf(store.applyRevocationList(replay))).not.toBe('ok');
    // An expired authority cannot publish a newer list.
    const old = await makeSchool('Alt', { notBefore: T0 - 10 * DAY, notAfter: T0 });
    store.addSchool(old.root.publicKey);
    expect(await codeOf(store.applyRevocationList(await issue(old, 1, [])))).toBe('expired');
    expect(await codeOf(store.applyRevocationList(new Uint8Array(10)))).toBe('malformed');
    expect(store.revocationSequence(schoolA.id)).toBe(5);
  });
});

describe('trusted schools', () => {
  it('adds, names, lists and removes schools', () => {
    expect(store.schools()).toEqual([schoolA.id]);
    expect(store.schoolName(schoolA.id)).toBe(schoolA.name);
    store.addSchool(schoolB.root.publicKey);
    store.addSchool(schoolB.root.publicKey, 'Gymnasium Nord');
    expect(store.schools().sort()).toEqual([schoolA.id, schoolB.id].sort());
    expect(store.schoolName(schoolB.id)).toBe('Gymnasium Nord');
    store.removeSchool(schoolB.id);
    expect(store.hasSchool(schoolB.id)).toBe(false);
    expect(() => store.addSchool(new Uint8Array(31))).toThrow(CertificateError);
  });
});
