/**
 * Structured errors: what went wrong (`code`), where (file, row, column, series), and what to do
 * (`hint` as data: the CLI turns it into a flag, the UI into a control). Defined at the bottom of the
 * layering so every module can say what the user can do without naming a CLI flag or a UI control.
 */
export type ErrorCode =
  | 'invalid_argument' // the call's arguments do not match the contract
  | 'data_error' // the user's data has a problem they can fix (see `where`)
  | 'not_found' // a project, dataset, run, ... that does not exist
  | 'conflict' // the call does not fit the current state (a run already running, a folder already used)
  | 'forbidden' // a transport refused the caller or a file argument
  | 'unsupported' // this machine or build cannot do it (no native engine for DP-SGD, ...)
  | 'cancelled'
  | 'store_too_new' // the project store was written by a newer version of the app
  | 'internal';

export interface ErrorWhere {
  file?: string;
  /** 1-based; CSV counts the header as row 1. */
  row?: number;
  column?: string;
  series?: string;
}

/**
 * What the user can do about it. `option` names a field of the call's arguments (for example
 * `holdoutFraction` or `dp.epsilon`) the UI can show as a control; `action` a follow-up call.
 */
export interface ErrorHint {
  text: string;
  option?: string;
  value?: unknown;
  action?: string;
}

export interface ApiErrorData {
  code: ErrorCode;
  message: string;
  where?: ErrorWhere;
  hint?: ErrorHint;
}

export class ApiError extends Error implements ApiErrorData {
  readonly code: ErrorCode;
  readonly where?: ErrorWhere;
  readonly hint?: ErrorHint;

  constructor(code: ErrorCode, message: string, extra: { where?: ErrorWhere; hint?: ErrorHint } = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    if (extra.where) this.where = extra.where;
    if (extra.hint) this.hint = extra.hint;
  }

  toData(): ApiErrorData {
    return { code: this.code, message: this.message, ...(this.where ? { where: this.where } : {}), ...(this.hint ? { hint: this.hint } : {}) };
  }
}

/** Any thrown value as error data: ApiErrors as they are, anything else as `internal`. */
export function errorData(error: unknown): ApiErrorData {
  if (error instanceof ApiError) return error.toData();
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}
