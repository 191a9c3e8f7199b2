import { type DeviceIdentity, decodeDeviceCertificate, deviceIdentity, renewalDue, signRenewal } from '@schoolmesh/identity';
import { fromBase64Url, toBase64Url } from '@schoolmesh/wire';
import { EnrollError } from './enroll.ts';

/**
 * Asks the school's relay for a fresh certificate for this device (same keys, account and role; a request signed
 * with the device key). The caller stores the returned identity and hands it to its engine (`renewIdentity`), which
 * lists the new certificate in the device's groups.
 */
export async function renewCertificate(httpUrl: string, identity: DeviceIdentity, now: number = Date.now()): Promise<DeviceIdentity> {
  const request = await signRenewal(identity, now);
  let response: Response;
  try {
    response = await fetch(new URL('/api/renew', httpUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ certificate: toBase64Url(request.certificate), timestamp: request.timestamp, signature: toBase64Url(request.signature) }),
    });
  } catch (error) {
    throw new EnrollError('unreachable', `the relay at ${httpUrl} cannot be reached: ${(error as Error).message}`);
  }
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) throw new EnrollError(String(body.error ?? 'error'), String(body.message ?? `HTTP ${response.status}`), response.status);
  const certificate = decodeDeviceCertificate(fromBase64Url(String(body.certificate)));
  if (certificate.account !== identity.certificate.account || certificate.school !== identity.certificate.school)
    throw new EnrollError('wrong-account', 'the relay renewed the certificate for another account');
  // deviceIdentity checks that the certificate is for this device's keys.
  return deviceIdentity(identity.signing, identity.agreement, certificate);
}

/** Renews when less than a third of the certificate's validity is left; returns the new identity, or undefined. */
export async function renewIfDue(httpUrl: string, identity: DeviceIdentity, now: number = Date.now()): Promise<DeviceIdentity | undefined> {
  if (!renewalDue(identity.certificate, now)) return undefined;
  return renewCertificate(httpUrl, identity, now);
}
