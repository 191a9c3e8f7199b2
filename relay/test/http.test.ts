/** The relay's HTTP side, against a real relay process: health, metrics, enrollment errors, the admin API's guard. */
import { EnrollError, enroll, refreshRevocations, renewCertificate, trustFor } from '@schoolmesh/client';
import { connectToRelay } from '@schoolmesh/client/node';
import { Engine } from '@schoolmesh/engine';
import { deviceIdentity, signRenewal } from '@schoolmesh/identity';
import { MemoryStorage } from '@schoolmesh/storage';
import { generateAgreementKeyPair, generateSigningKeyPair } from '@schoolmesh/crypto';
import { toBase64Url } from '@schoolmesh/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RelayProcess, removeSetup, setupRelay, startRelay } from './support/relay-process.ts';

describe('relay HTTP', () => {
  let relay: RelayProcess;
  beforeAll(async () => {
    relay = await startRelay(await setupRelay('Grundschule Am Bach', { enrollment: { failuresPerMinutePerAddress: 10 } }));
  });
  afterAll(async () => {
    await relay?.stop();
    if (relay) await removeSetup(relay.setup);
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${relay.http}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const keys = async () => ({ deviceKey: toBase64Url((await generateSigningKeyPair()).publicKey), agreementKey: toBase64Url((await generateAgreementKeyPair()).publicKey) });

  it('answers /healthz, /metrics and /api/school', async () => {
    const health = (await (await fetch(`${relay.http}/healthz`)).json()) as Record<string, unknown>;
    expect(health.status).toBe('ok');
    const metrics = await relay.metrics();
    for (const name of ['schoolmesh_connections', 'schoolmesh_entries_stored_total', 'schoolmesh_entries_forwarded_total', 'schoolmesh_store_seconds', 'schoolmesh_store_bytes', 'schoolmesh_federation_links', 'schoolmesh_process_resident_memory_bytes'])
      expect(metrics).toContain(name);
    const info = (await (await fetch(`${relay.http}/api/school`)).json()) as { school: { name: string }; relay: { tcp: string[]; ws: string[] } };
    expect(info.school.name).toBe('Grundschule Am Bach');
    expect(info.relay.tcp[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//);
    expect(info.relay.ws[0]).toMatch(/\/ws\/p2p\//);
  });

  it('gives clear errors for bad enrollment requests', async () => {
    const bad = await post('/api/enroll', '{not json');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/not valid JSON/);
    const noKey = await post('/api/enroll', { code: 'AAAAA-AAAAA-AAAAA' });
    expect(noKey.status).toBe(400);
    expect(((await noKey.json()) as { message: string }).message).toMatch(/deviceKey/);
    const unknown = await post('/api/enroll', { code: 'AAAAA-AAAAA-AAAAA', ...(await keys()) });
    expect(unknown.status).toBe(403);
    expect(((await unknown.json()) as { error: string }).error).toBe('unknown-code');
    const huge = await post('/api/enroll', { code: 'x'.repeat(20_000) });
    expect(huge.status).toBe(413);
  });

  it('guards the admin API with the token', async () => {
    const none = await post('/api/admin/codes', { account: 'ben', role: 'pupil' });
    expect(none.status).toBe(401);
    const wrong = await post('/api/admin/codes', { account: 'ben', role: 'pupil' }, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    const ok = await post('/api/admin/codes', { account: 'ben', role: 'pupil', displayName: 'Ben' }, { authorization: `Bearer ${relay.setup.keys.adminToken}` });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { code: string; qrSvg: string; url: string };
    expect(body.qrSvg).toMatch(/^<svg/);
    expect(body.url).toContain(`#enroll=${body.code}`);
    const badRole = await post('/api/admin/codes', { account: 'ben', role: 'king' }, { authorization: `Bearer ${relay.setup.keys.adminToken}` });
    expect(badRole.status).toBe(400);
  });

  it('publishes revocations that devices apply to their trust store', async () => {
    const code = await relay.issueCode('lost.laptop', 'pupil', 'Verlorener Laptop');
    const { identity, info } = await enroll(relay.http, { code });
    const trust = trustFor(info);
    expect(await refreshRevocations(relay.http, trust)).toBe(0);
    await trust.verifyDevice(identity.certificate);
    await relay.revoke([identity.id]);
    expect(await refreshRevocations(relay.http, trust)).toBe(1);
    await expect(trust.verifyDevice(identity.certificate)).rejects.toMatchObject({ code: 'revoked' });
  });

  it('renews a device certificate for the holder of the device key, and for nobody else', async () => {
    const { identity, info } = await enroll(relay.http, { code: await relay.issueCode('jonas', 'pupil', 'Jonas') });
    const renewed = await renewCertificate(relay.http, identity);
    expect(renewed.id).toBe(identity.id);
    expect(renewed.certificate.account).toBe('jonas');
    expect(renewed.certificate.role).toBe('pupil');
    // It starts where the old one started, so everything written under the old one stays inside its window.
    expect(renewed.certificate.notBefore).toBe(identity.certificate.notBefore);
    expect(renewed.certificate.notAfter).toBeGreaterThanOrEqual(identity.certificate.notAfter);
    await trustFor(info).verifyDevice(renewed.certificate);

    // The renewed identity is admitted: a sync session with the relay opens with it.
    const engine = await Engine.open({ storage: new MemoryStorage(), identity: renewed, trust: trustFor(info) });
    const connection = await connectToRelay(engine, renewed, info.relay, { loopbackOnly: true });
    try {
      await connection.link.caughtUp();
    } finally {
      await connection.stop();
      await engine.close();
    }

    // Someone holding only the certificate (not the device key) cannot renew it: the request is signed by another key.
    const mallory = (await enroll(relay.http, { code: await relay.issueCode('mallory', 'pupil') })).identity;
    const forged = await signRenewal(deviceIdentity(mallory.signing, mallory.agreement, mallory.certificate), Date.now());
    const asJonas = await post('/api/renew', { certificate: toBase64Url(identity.certificate.bytes), timestamp: forged.timestamp, signature: toBase64Url(forged.signature) });
    expect(asJonas.status).toBe(403);
    expect(await asJonas.json()).toMatchObject({ error: 'not-renewable', message: /not by this device/ });
    // A request from an hour ago is refused (a captured request cannot be replayed later).
    const old = await signRenewal(identity, Date.now() - 3600_000);
    const replayed = await post('/api/renew', { certificate: toBase64Url(old.certificate), timestamp: old.timestamp, signature: toBase64Url(old.signature) });
    expect(replayed.status).toBe(403);
    // A revoked device cannot renew.
    await relay.revoke([mallory.id]);
    await expect(renewCertificate(relay.http, mallory)).rejects.toSatisfy((e) => e instanceof EnrollError && e.code === 'not-renewable' && /revoked/.test(e.message));
    // Malformed requests get 400 with what is wrong.
    const bad = await post('/api/renew', { certificate: 'x', timestamp: -1, signature: 'y' });
    expect(bad.status).toBe(400);
  });

  it('slows down code guessing: too many failed attempts from one address get 429', async () => {
    const k = await keys();
    let last = 0;
    for (let i = 0; i < 12; i++) last = (await post('/api/enroll', { code: 'BBBBB-BBBBB-BBBBB', ...k })).status;
    expect(last).toBe(429);
  });
});
