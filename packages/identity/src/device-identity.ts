import {
  type AgreementKeyPair,
  type SigningKeyPair,
  agreementKeyPairFromSecret,
  signingKeyPairFromSeed,
} from '@schoolmesh/crypto';
import { DecodeError, Decoder, Encoder, bytesEqual, decodeTotal } from '@schoolmesh/wire';
import { type DeviceCertificate, KEY_BYTES, decodeDeviceCertificate } from './codec.ts';
import { CertificateError } from './errors.ts';
import { deviceIdOf } from './issue.ts';

/** What a device holds: its secret keys and the certificate that binds them to an account. */
export interface DeviceIdentity {
  signing: SigningKeyPair;
  agreement: AgreementKeyPair;
  certificate: DeviceCertificate;
  /** Device id: base64url of the signing public key. */
  id: string;
}

const IDENTITY_VERSION = 1;
const MAX_CERT_BYTES = 4096;

/** Builds a DeviceIdentity, checking that the certificate is for exactly these keys. */
export function deviceIdentity(
  signing: SigningKeyPair,
  agreement: AgreementKeyPair,
  certificate: DeviceCertificate,
): DeviceIdentity {
  if (!bytesEqual(signing.publicKey, certificate.deviceKey) || !bytesEqual(agreement.publicKey, certificate.agreementKey))
    throw new CertificateError('malformed', 'the certificate is for other keys');
  return { signing, agreement, certificate, id: deviceIdOf(signing.publicKey) };
}

/**
 * Local storage form: version, Ed25519 seed, X25519 secret, certificate. SECRET: whoever reads these bytes is the
 * device. Store them encrypted at rest (deriveKeyFromPassphrase) where the platform allows.
 */
export function encodeDeviceIdentity(identity: DeviceIdentity): Uint8Array {
  return new Encoder(160 + identity.certificate.bytes.length)
    .u8(IDENTITY_VERSION)
    .fixed(identity.signing.seed, KEY_BYTES)
    .fixed(identity.agreement.secretKey, KEY_BYTES)
    .bytes(identity.certificate.bytes)
    .finish();
}

/**
 * Decodes what encodeDeviceIdentity wrote and re-derives the key pairs. Throws DecodeError for bad bytes and
 * CertificateError('malformed') when the keys do not match the certificate; never anything else. Does not check
 * the certificate chain (TrustStore.verifyDevice does).
 */
export async function decodeDeviceIdentity(bytes: Uint8Array): Promise<DeviceIdentity> {
  const { seed, secret, certificate } = decodeTotal(() => {
    const dec = new Decoder(Uint8Array.from(bytes));
    const version = dec.u8();
    if (version !== IDENTITY_VERSION) dec.fail('bad-version', `unsupported identity version ${version}`);
    const seed = dec.fixed(KEY_BYTES);
    const secret = dec.fixed(KEY_BYTES);
    const certBytes = dec.bytes(MAX_CERT_BYTES);
    dec.end();
    let certificate: DeviceCertificate;
    try {
      certificate = decodeDeviceCertificate(certBytes);
    } catch (error) {
      if (error instanceof DecodeError) dec.fail(error.code, `in certificate: ${error.message}`);
      throw error;
    }
    return { seed, secret, certificate };
  });
  let signing: SigningKeyPair;
  let agreement: AgreementKeyPair;
  try {
    signing = await signingKeyPairFromSeed(seed);
    agreement = await agreementKeyPairFromSecret(secret);
  } catch (error) {
    throw new CertificateError('malformed', `unusable keys: ${(error as Error).message}`);
  }
  return deviceIdentity(signing, agreement, certificate);
}
