import type { TrustStore } from '@schoolmesh/identity';
import type { CredentialKind, PeerInfo, PeerVerifier } from '@schoolmesh/sync';
import { bytesEqual, toBase64Url } from '@schoolmesh/wire';

export interface Admitted {
  peer: PeerInfo;
  kind: CredentialKind;
  credential: Uint8Array;
}

/**
 * Who gets in: devices certified by this school or a partner school (the trust store holds exactly those), and
 * the relays of partner schools by their authority certificate. The certificate must be for the key that libp2p's
 * Noise handshake authenticated on this very connection. What a peer may then read is the replica's judgement
 * (membership), per group.
 */
export function admissionVerifier(trust: TrustStore, transportKey: Uint8Array, onAdmitted: (a: Admitted) => void): PeerVerifier {
  return {
    async verify(kind, credential) {
      let result: { peer: PeerInfo; publicKey: Uint8Array };
      if (kind === 'device') {
        const device = await trust.verifyDevice(credential);
        result = { peer: { kind: 'device', id: device.id, school: device.school, account: device.accountRef }, publicKey: device.deviceKey };
      } else if (kind === 'authority') {
        const cert = await trust.verifyAuthority(credential);
        result = { peer: { kind: 'relay', id: toBase64Url(cert.authorityKey), school: cert.school }, publicKey: cert.authorityKey };
      } else {
        throw new Error(`credential kind ${String(kind)} not accepted`);
      }
      if (!bytesEqual(result.publicKey, transportKey)) throw new Error('the certificate is not for the key this connection authenticated');
      onAdmitted({ peer: result.peer, kind, credential });
      return result;
    },
  };
}

/** Re-checks an admitted peer's credential now (revocation, expiry, a partner removed); throws if it no longer holds. */
export async function stillAdmitted(trust: TrustStore, a: Admitted): Promise<void> {
  if (a.kind === 'device') await trust.verifyDevice(a.credential);
  else await trust.verifyAuthority(a.credential);
}
