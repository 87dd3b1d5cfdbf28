/** Error codes of the inference runtime; the server maps them to HTTP in one place. */
export enum InferenceErrorCode {
  ModelNotFound = 'MODEL_NOT_FOUND',
  ModelInvalid = 'MODEL_INVALID',
  InputMismatch = 'INPUT_MISMATCH',
  ContextOverflow = 'CONTEXT_OVERFLOW',
  ProviderUnavailable = 'PROVIDER_UNAVAILABLE',
  SessionLoadFailed = 'SESSION_LOAD_FAILED',
  Aborted = 'ABORTED',
}

export class InferenceError extends Error {
  constructor(readonly code: InferenceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InferenceError';
  }
}
