/** Why a decoder refused its input. Every decoder in Schoolmesh throws only this, never a RangeError from deep inside. */
export type DecodeErrorCode =
  | 'truncated'
  | 'overlong'
  | 'too-large'
  | 'bad-utf8'
  | 'bad-tag'
  | 'bad-version'
  | 'bad-value'
  | 'trailing-bytes';

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly code: DecodeErrorCode,
    message: string,
    readonly offset = -1,
  ) {
    super(offset >= 0 ? `${message} (at byte ${offset})` : message);
  }
}

/**
 * Runs a decoder and turns any stray exception into a DecodeError, so that callers (a relay reading what a
 * peer sent) can rely on one error type. A decoder that throws anything else is a bug, and the fuzz tests
 * look for it; this is the belt to their braces.
 */
export function decodeTotal<T>(decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof DecodeError) throw error;
    throw new DecodeError('bad-value', `undecodable input: ${(error as Error)?.message ?? String(error)}`);
  }
}
