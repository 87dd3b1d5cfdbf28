import { ActivationError, ActivationErrorCode } from '@engram/activation';
import { InferenceError, InferenceErrorCode, SafetensorsError } from '@engram/inference';
import { EngramError } from './engram.error';
import { ErrorCode, httpStatusOf } from './error-code';
import { asEngramError } from './runtime-error.mapper';

const statusOf = (error: unknown) => httpStatusOf((asEngramError(error) as EngramError).code);

describe('asEngramError', () => {
  it('maps every inference error code to a clear status', () => {
    const expected: Record<InferenceErrorCode, number> = {
      [InferenceErrorCode.ModelNotFound]: 422,
      [InferenceErrorCode.ModelInvalid]: 422,
      [InferenceErrorCode.InputMismatch]: 400,
      [InferenceErrorCode.ContextOverflow]: 400,
      [InferenceErrorCode.ProviderUnavailable]: 503,
      [InferenceErrorCode.SessionLoadFailed]: 503,
      [InferenceErrorCode.Aborted]: 499,
    };
    for (const code of Object.values(InferenceErrorCode)) expect([code, statusOf(new InferenceError(code, 'x'))]).toEqual([code, expected[code]]);
  });

  it('maps every activation error code, hiding the details of a corrupt blob', () => {
    const expected: Record<ActivationErrorCode, number> = {
      [ActivationErrorCode.CacheNotFound]: 404,
      [ActivationErrorCode.FingerprintMismatch]: 409,
      [ActivationErrorCode.InvalidRequest]: 400,
      [ActivationErrorCode.CorruptBlob]: 500,
    };
    for (const code of Object.values(ActivationErrorCode)) expect([code, statusOf(new ActivationError(code, 'x'))]).toEqual([code, expected[code]]);
    expect((asEngramError(new ActivationError(ActivationErrorCode.CorruptBlob, '/data/kv/chunks/ab.ekv')) as EngramError).message).toBe('internal error');
  });

  it('treats a lying safetensors file as an invalid model and leaves other errors alone', () => {
    expect((asEngramError(new SafetensorsError('/m/model.safetensors', 'header lies')) as EngramError).code).toBe(ErrorCode.ModelInvalid);
    const other = new Error('boom');
    expect(asEngramError(other)).toBe(other);
  });
});
