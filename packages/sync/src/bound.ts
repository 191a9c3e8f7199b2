import { bytesEqual } from '@schoolmesh/wire';
import type { PeerVerifier } from './replica.ts';

/**
 * Binds a verifier to the transport's authenticated key: the credential must certify the very key that the
 * transport (libp2p's Noise handshake) proved, so a stolen certificate cannot be replayed over another connection.
 */
export function boundToTransport(verifier: PeerVerifier, transportKey: Uint8Array | undefined): PeerVerifier {
  if (!transportKey) return verifier;
  return {
    async verify(kind, credential) {
      const result = await verifier.verify(kind, credential);
      if (!bytesEqual(result.publicKey, transportKey)) throw new Error('the certificate is not for the key this connection authenticated');
      return result;
    },
  };
}
