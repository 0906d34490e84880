/**
 * The store's errors. The api layer maps them onto its structured errors (core/store may not import
 * core/api): `store_too_new` and `conflict` keep their names, `not_found` too, `corrupt` is internal.
 */
export type StoreErrorCode = 'store_too_new' | 'not_found' | 'conflict' | 'corrupt' | 'invalid';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: StoreErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
    if (details) this.details = details;
  }
}

export function isStoreError(error: unknown, code?: StoreErrorCode): error is StoreError {
  return error instanceof StoreError && (code === undefined || error.code === code);
}
