/** Why a membership operation could not be made, verified or opened (other than DecodeError / CertificateError). */
export type MembershipErrorCode =
  | 'bad-signature'
  | 'bad-argument'
  | 'wrong-group'
  | 'unknown-epoch'
  | 'not-sealed-to-device'
  | 'bad-epoch-key';

export class MembershipError extends Error {
  override readonly name = 'MembershipError';
  constructor(
    readonly code: MembershipErrorCode,
    message: string,
  ) {
    super(message);
  }
}
