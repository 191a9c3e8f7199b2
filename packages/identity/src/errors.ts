/** Why a certificate, revocation list or stored identity was refused. Callers branch on `code`. */
export type CertificateErrorCode =
  | 'bad-signature'
  | 'expired'
  | 'not-yet-valid'
  | 'unknown-school'
  | 'revoked'
  | 'wrong-issuer'
  | 'malformed';

export class CertificateError extends Error {
  override readonly name = 'CertificateError';
  constructor(
    readonly code: CertificateErrorCode,
    message: string = code,
  ) {
    super(message);
  }
}
