/** The API's structured errors (defined in core/util/errors.ts so every layer can throw them). */
export { ApiError, errorData, type ApiErrorData, type ErrorCode, type ErrorHint, type ErrorWhere } from '../util/errors.ts';
