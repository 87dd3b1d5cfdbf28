import { ActivationError, ActivationErrorCode } from '@engram/activation';
import { InferenceError, InferenceErrorCode, SafetensorsError } from '@engram/inference';
import { ParametricError, ParametricErrorCode } from '@engram/parametric';
import { asDatabaseUnavailable } from './database-error.mapper';
import { EngramError } from './engram.error';
import { assertUnreachable, ErrorCode } from './error-code';

function inferenceCode(code: InferenceErrorCode): ErrorCode {
  switch (code) {
    case InferenceErrorCode.ModelNotFound: // a model directory that is not there
    case InferenceErrorCode.ModelInvalid:
      return ErrorCode.ModelInvalid;
    case InferenceErrorCode.InputMismatch:
      return ErrorCode.ValidationFailed;
    case InferenceErrorCode.ContextOverflow:
      return ErrorCode.ContextLengthExceeded;
    case InferenceErrorCode.ProviderUnavailable:
    case InferenceErrorCode.SessionLoadFailed:
      return ErrorCode.Unavailable;
    case InferenceErrorCode.Aborted:
      return ErrorCode.Cancelled;
    default:
      return assertUnreachable(code);
  }
}

function activationCode(code: ActivationErrorCode): ErrorCode {
  switch (code) {
    case ActivationErrorCode.CacheNotFound:
      return ErrorCode.NotFound;
    case ActivationErrorCode.FingerprintMismatch:
      return ErrorCode.Conflict;
    case ActivationErrorCode.InvalidRequest:
      return ErrorCode.ValidationFailed;
    case ActivationErrorCode.CorruptBlob:
      return ErrorCode.Internal;
    default:
      return assertUnreachable(code);
  }
}

function parametricCode(code: ParametricErrorCode): ErrorCode {
  switch (code) {
    case ParametricErrorCode.PathOutsideTree: // a block address outside the bank
      return ErrorCode.NotFound;
    case ParametricErrorCode.ModelMismatch:
    case ParametricErrorCode.EmbedderMismatch:
    case ParametricErrorCode.BlockLocked:
      return ErrorCode.Conflict;
    case ParametricErrorCode.InvalidConfig:
    case ParametricErrorCode.PathOutsideRoot:
      return ErrorCode.ValidationFailed;
    case ParametricErrorCode.BankNotFound: // a row without its files: the server's fault, not the caller's
    case ParametricErrorCode.BankCorrupt:
    case ParametricErrorCode.BankTruncated:
    case ParametricErrorCode.ChecksumMismatch:
    case ParametricErrorCode.WriteFailed:
      return ErrorCode.Internal;
    default:
      return assertUnreachable(code);
  }
}

/**
 * Errors of the inference runtime and activation memory as domain errors, so that the
 * one code → HTTP switch (`httpStatusOf`) answers them too. Anything else: unchanged.
 */
export function asEngramError(error: unknown): unknown {
  if (error instanceof InferenceError) return new EngramError(inferenceCode(error.code), error.message, { runtimeCode: error.code });
  if (error instanceof SafetensorsError) return new EngramError(ErrorCode.ModelInvalid, error.message);
  if (error instanceof ActivationError) {
    const code = activationCode(error.code);
    return new EngramError(code, code === ErrorCode.Internal ? 'internal error' : error.message, { runtimeCode: error.code });
  }
  if (error instanceof ParametricError) {
    const code = parametricCode(error.code);
    return new EngramError(code, code === ErrorCode.Internal ? 'internal error' : error.message, { runtimeCode: error.code });
  }
  return asDatabaseUnavailable(error) ?? error;
}
