export type StorageErrorCode = 'bad-key' | 'closed' | 'io';

export class StorageError extends Error {
  readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
    this.code = code;
  }
}

/** Wraps an unexpected failure of the underlying store; StorageErrors pass through unchanged. */
export function ioError(what: string, cause: unknown): StorageError {
  if (cause instanceof StorageError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StorageError('io', `${what} failed: ${detail}`, { cause });
}
