/** Error codes of parametric memory; the server maps them to HTTP in one place. */
export enum ParametricErrorCode {
  BankNotFound = 'BANK_NOT_FOUND',
  BankCorrupt = 'BANK_CORRUPT',
  BankTruncated = 'BANK_TRUNCATED',
  ChecksumMismatch = 'BLOCK_CHECKSUM_MISMATCH',
  ModelMismatch = 'MODEL_FINGERPRINT_MISMATCH',
  EmbedderMismatch = 'EMBEDDER_FINGERPRINT_MISMATCH',
  PathOutsideTree = 'PATH_OUTSIDE_TREE',
  PathOutsideRoot = 'PATH_OUTSIDE_ROOT',
  BlockLocked = 'BLOCK_LOCKED',
  InvalidConfig = 'INVALID_CONFIG',
  WriteFailed = 'WRITE_FAILED',
}

export class ParametricError extends Error {
  constructor(readonly code: ParametricErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ParametricError';
  }
}
