import { generateAgreementKeyPair, generateSigningKeyPair } from '@schoolmesh/crypto';
import { type DeviceIdentity, TrustStore, decodeDeviceCertificate, decodeRevocationList, deviceIdentity, rootKeyOf } from '@schoolmesh/identity';
import { fromBase64Url, toBase64Url } from '@schoolmesh/wire';

/** What a relay tells about itself (GET /api/school, and with every enrollment). */
export interface SchoolInfo {
  school: { id: string; name: string; root: string };
  partners: { name: string; root: string }[];
  relay: { peerId: string; ws: string[]; tcp: string[] };
  methods?: string[];
  /** The school's rules a device applies itself (absent from older relays: the model's defaults then). */
  policy?: { pupilDirectMessages?: boolean; whoMayCreateGroups?: string[] };
}

export class EnrollError extends Error {
  override readonly name = 'EnrollError';
  constructor(
    readonly code: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export type Credentials = { code: string } | { method: string; username: string; password: string };

/**
 * Enrolls this device at the school's relay: generates the device's keys here (the secret keys never leave the
 * device), sends the public keys with a one-time code or a sign-in, and returns the certified identity.
 */
export async function enroll(httpUrl: string, credentials: Credentials): Promise<{ identity: DeviceIdentity; info: SchoolInfo }> {
  const signing = await generateSigningKeyPair();
  const agreement = await generateAgreementKeyPair();
  let response: Response;
  try {
    response = await fetch(new URL('/api/enroll', httpUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...credentials, deviceKey: toBase64Url(signing.publicKey), agreementKey: toBase64Url(agreement.publicKey) }),
    });
  } catch (error) {
    throw new EnrollError('unreachable', `the relay at ${httpUrl} cannot be reached: ${(error as Error).message}`);
  }
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) throw new EnrollError(String(body.error ?? 'error'), String(body.message ?? `HTTP ${response.status}`), response.status);
  const certificate = decodeDeviceCertificate(fromBase64Url(String(body.certificate)));
  const identity = deviceIdentity(signing, agreement, certificate);
  const info = body as unknown as SchoolInfo;
  if (certificate.school !== info.school.id) throw new EnrollError('wrong-school', 'the relay certified the device for another school');
  return { identity, info };
}

/** Reads the relay's public description. */
export async function schoolInfo(httpUrl: string): Promise<SchoolInfo> {
  const response = await fetch(new URL('/api/school', httpUrl));
  if (!response.ok) throw new EnrollError('error', `HTTP ${response.status}`, response.status);
  return (await response.json()) as SchoolInfo;
}

/** The trust store a device of this school starts from: its own school's root and the partners its relay lists. */
export function trustFor(info: SchoolInfo, clock: () => number = Date.now): TrustStore {
  const trust = new TrustStore(clock);
  const own = rootKeyOf(info.school.root);
  if (!own) throw new EnrollError('bad-info', 'the relay sent no valid school root');
  trust.addSchool(own, info.school.name);
  for (const p of info.partners ?? []) {
    const key = rootKeyOf(p.root);
    if (key) trust.addSchool(key, p.name);
  }
  return trust;
}

/**
 * Fetches the school's signed revocation list from its relay and applies it to the trust store (the list's
 * signature and school are checked there; an older list than the one held is ignored). Returns how many devices
 * the school has revoked, 0 when it has revoked none.
 */
export async function refreshRevocations(httpUrl: string, trust: TrustStore): Promise<number> {
  const response = await fetch(new URL('/api/revocations', httpUrl));
  if (response.status === 404) return 0;
  if (!response.ok) throw new EnrollError('error', `revocation list: HTTP ${response.status}`, response.status);
  const list = decodeRevocationList(new Uint8Array(await response.arrayBuffer()));
  await trust.applyRevocationList(list);
  return list.revokedDevices.length;
}
