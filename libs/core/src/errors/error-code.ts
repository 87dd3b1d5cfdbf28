/** Every failure engram reports to a client has one of these codes. */
export enum ErrorCode {
  ValidationFailed = 'validation_failed',
  InvalidJson = 'invalid_json',
  Unauthenticated = 'unauthenticated',
  Forbidden = 'forbidden',
  NotFound = 'not_found',
  Conflict = 'conflict',
  /** An If-Match that no longer holds: the resource changed since the client read it (412). */
  PreconditionFailed = 'precondition_failed',
  /** A model directory that cannot be served (missing or mismatched files, bad config). */
  ModelInvalid = 'model_invalid',
  /** A prompt (or memory text) longer than the model's context. */
  ContextLengthExceeded = 'context_length_exceeded',
  /** The client went away and the work was cancelled (nobody reads the answer). */
  Cancelled = 'cancelled',
  PayloadTooLarge = 'payload_too_large',
  UnsupportedMediaType = 'unsupported_media_type',
  RouteNotFound = 'route_not_found',
  MethodNotAllowed = 'method_not_allowed',
  Unavailable = 'unavailable',
  /** Too many requests for this key now; Retry-After says when. */
  RateLimited = 'rate_limited',
  /** A limit the operator set for the tenant (cubes, memories, KV bytes, jobs, tokens per minute). */
  QuotaExceeded = 'quota_exceeded',
  Internal = 'internal_error',
}

export function assertUnreachable(value: never): never {
  throw new Error(`unreachable: ${String(value)}`);
}

/** The single mapping of error codes to HTTP statuses. */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.ValidationFailed:
    case ErrorCode.InvalidJson:
    case ErrorCode.ContextLengthExceeded:
      return 400;
    case ErrorCode.Unauthenticated:
      return 401;
    case ErrorCode.Forbidden:
      return 403;
    case ErrorCode.NotFound:
    case ErrorCode.RouteNotFound:
      return 404;
    case ErrorCode.MethodNotAllowed:
      return 405;
    case ErrorCode.Conflict:
      return 409;
    case ErrorCode.PreconditionFailed:
      return 412;
    case ErrorCode.PayloadTooLarge:
      return 413;
    case ErrorCode.UnsupportedMediaType:
      return 415;
    case ErrorCode.ModelInvalid:
      return 422;
    case ErrorCode.Cancelled:
      return 499;
    case ErrorCode.Unavailable:
      return 503;
    case ErrorCode.RateLimited:
    case ErrorCode.QuotaExceeded:
      return 429;
    case ErrorCode.Internal:
      return 500;
    default:
      return assertUnreachable(code);
  }
}
