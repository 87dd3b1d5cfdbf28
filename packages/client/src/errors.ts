/** Error codes the engram API answers with (`error.code`); see the server's ErrorCode. */
export type EngramErrorCode =
  | 'validation_failed'
  | 'invalid_json'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'precondition_failed'
  | 'quota_exceeded'
  | 'model_invalid'
  | 'context_length_exceeded'
  | 'cancelled'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'route_not_found'
  | 'method_not_allowed'
  | 'rate_limited'
  | 'unavailable'
  | 'internal_error'
  | 'network_error';

export interface FieldProblem {
  field: string;
  problems: string[];
}

/** Any error answered by engram (or the network on the way): status, code, message, request id. */
export class EngramApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: EngramErrorCode | (string & {}),
    message: string,
    readonly details?: unknown,
    readonly requestId?: string | null,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** 400: a field was wrong; `problems` names each one. */
export class EngramValidationError extends EngramApiError {
  get problems(): FieldProblem[] {
    return Array.isArray(this.details) ? (this.details as FieldProblem[]) : [];
  }
}
/** 401 or 403: the key is missing, invalid, revoked, or lacks the scope. */
export class EngramAuthError extends EngramApiError {}
/** 404: no such resource for this key (another tenant's looks exactly the same). */
export class EngramNotFoundError extends EngramApiError {}
/** 409: a name is taken, or an idempotency key was reused with another body. */
export class EngramConflictError extends EngramApiError {}
/** 429 after the retries were spent. */
export class EngramRateLimitError extends EngramApiError {}
/** 503 after the retries were spent, or the server could not be reached. */
export class EngramUnavailableError extends EngramApiError {}

export function errorFor(status: number, code: string, message: string, details?: unknown, requestId?: string | null): EngramApiError {
  const Type =
    status === 400 ? EngramValidationError
    : status === 401 || status === 403 ? EngramAuthError
    : status === 404 ? EngramNotFoundError
    : status === 409 ? EngramConflictError
    : status === 429 ? EngramRateLimitError
    : status === 503 || status === 0 ? EngramUnavailableError
    : EngramApiError;
  return new Type(status, code, message, details, requestId);
}

/** Reads engram's `{ error: { code, message, details, requestId } }` body (or makes do without it). */
export async function errorFromResponse(response: Response): Promise<EngramApiError> {
  const text = await response.text().catch(() => '');
  let error: { code?: string; message?: string; details?: unknown; requestId?: string } = {};
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
  } catch {
    // not JSON: a proxy's page, say
  }
  const fallback = response.status === 429 ? 'rate_limited' : response.status === 503 ? 'unavailable' : 'internal_error';
  return errorFor(response.status, error.code ?? fallback, error.message ?? (text.slice(0, 200) || response.statusText), error.details, error.requestId ?? response.headers.get('x-request-id'));
}
