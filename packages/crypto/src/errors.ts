/** Why a crypto operation refused. Callers branch on `code`, never on the message. */
export type CryptoErrorCode = 'bad-key' | 'decrypt-failed' | 'bad-input';

export class CryptoError extends Error {
  override readonly name = 'CryptoError';
  constructor(
    readonly code: CryptoErrorCode,
    message: string = code,
  ) {
    super(message);
  }
}
