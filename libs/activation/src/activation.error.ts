export enum ActivationErrorCode {
  CacheNotFound = 'KV_CACHE_NOT_FOUND',
  FingerprintMismatch = 'KV_CACHE_FINGERPRINT_MISMATCH',
  CorruptBlob = 'KV_CACHE_CORRUPT',
  InvalidRequest = 'KV_CACHE_INVALID_REQUEST',
}

export class ActivationError extends Error {
  constructor(readonly code: ActivationErrorCode, message: string) {
    super(message);
    this.name = 'ActivationError';
  }
}
