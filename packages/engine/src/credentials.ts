import { type DeviceIdentity, type TrustStore, decodeDeviceCertificate } from '@schoolmesh/identity';
import type { CredentialKind, LocalCredential, PeerInfo, PeerVerifier } from '@schoolmesh/sync';
import { toBase64Url } from '@schoolmesh/wire';

/** A device proves itself in the sync handshake with its certificate and its signing key. */
export function deviceCredential(identity: DeviceIdentity): LocalCredential {
  return { kind: 'device', bytes: identity.certificate.bytes, sign: (m) => identity.signing.sign(m) };
}

/**
 * Verifies a peer's credential against the trust store: devices of any trusted school, and relays by the authority
 * certificate of a trusted school (a device talks to its own school's relay, and relays to partner relays).
 */
export function trustStoreVerifier(trust: TrustStore): PeerVerifier {
  return {
    async verify(kind: CredentialKind, credential: Uint8Array): Promise<{ peer: PeerInfo; publicKey: Uint8Array }> {
      if (kind === 'authority') {
        const cert = await trust.verifyAuthority(credential);
        return { peer: { kind: 'relay', id: toBase64Url(cert.authorityKey), school: cert.school }, publicKey: cert.authorityKey };
      }
      if (kind !== 'device') throw new Error(`credential kind ${kind} not accepted here`);
      const device = await trust.verifyDevice(decodeDeviceCertificate(credential));
      return {
        peer: { kind: 'device', id: device.id, school: device.school, account: device.accountRef },
        publicKey: device.deviceKey,
      };
    },
  };
}
