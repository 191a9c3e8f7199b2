import { sha256, verifySignature } from '@schoolmesh/crypto';
import { Encoder } from '@schoolmesh/wire';
import type { DeviceCertificate } from './codec.ts';
import type { DeviceIdentity } from './device-identity.ts';

export const CONTEXT_RENEWAL = 'schoolmesh/renewal/v1';

/** How far a renewal request's time may lie from the relay's clock. */
export const RENEWAL_SKEW_MS = 5 * 60 * 1000;

/**
 * A device asks its school to renew its certificate: it signs, with its own device key, the hash of the certificate
 * it holds and the time. Only the holder of the device key can ask, only for its own certificate, and a captured
 * request is worthless after a few minutes (and would only renew that device's certificate again anyway).
 */
export interface RenewalRequest {
  certificate: Uint8Array;
  timestamp: number;
  signature: Uint8Array;
}

export function renewalMessage(certificate: Uint8Array, timestamp: number): Uint8Array {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError('renewal timestamp must be a non-negative integer');
  return new Encoder().string(CONTEXT_RENEWAL).fixed(sha256(certificate), 32).varuint(timestamp).finish();
}

export async function signRenewal(identity: DeviceIdentity, now: number): Promise<RenewalRequest> {
  const certificate = identity.certificate.bytes;
  return { certificate, timestamp: now, signature: await identity.signing.sign(renewalMessage(certificate, now)) };
}

/** Checks a request's signature against the device key of `certificate` (already decoded and verified by the caller) and its time. */
export async function verifyRenewal(certificate: DeviceCertificate, request: RenewalRequest, now: number): Promise<string | undefined> {
  if (Math.abs(now - request.timestamp) > RENEWAL_SKEW_MS) return 'the request is too old or from the future (check the clock)';
  if (request.signature.length !== 64) return 'the signature must be 64 bytes';
  const ok = await verifySignature(certificate.deviceKey, renewalMessage(certificate.bytes, request.timestamp), request.signature);
  return ok ? undefined : 'the signature is not by this device';
}

/**
 * Is a certificate due for renewal? When less than a third of its validity is left (10 days of the default 30),
 * so a device that is used once a week still renews in time.
 */
export function renewalDue(certificate: Pick<DeviceCertificate, 'notBefore' | 'notAfter'>, now: number): boolean {
  return now >= certificate.notAfter - (certificate.notAfter - certificate.notBefore) / 3;
}
