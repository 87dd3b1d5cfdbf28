import { asDatabaseUnavailable } from './database-error.mapper';
import { ErrorCode } from './error-code';

const pgError = (code: string, message = 'driver detail that must not leak') => Object.assign(new Error(message), { code });

describe('asDatabaseUnavailable', () => {
  it.each([
    ['55P03', /ENGRAM_DB_LOCK_TIMEOUT_MS/],
    ['57014', /ENGRAM_DB_STATEMENT_TIMEOUT_MS/],
    ['25P03', /ENGRAM_DB_IDLE_TX_TIMEOUT_MS/],
    ['40P01', /deadlocked/],
    ['57P01', /shutting down/],
    ['08006', /connection failed/],
  ])('answers SQLSTATE %s as a retryable 503 naming the cause', (code, reason) => {
    const mapped = asDatabaseUnavailable(pgError(code));
    expect(mapped?.code).toBe(ErrorCode.Unavailable);
    expect(mapped?.message).toMatch(reason);
    expect(mapped?.message).not.toMatch(/driver detail/);
    expect(mapped?.details).toEqual({ retryAfterSeconds: 1 });
  });

  it('reads the SQLSTATE of an error TypeORM wrapped', () => {
    const wrapped = Object.assign(new Error('QueryFailedError'), { driverError: { code: '55P03' } });
    expect(asDatabaseUnavailable(wrapped)?.code).toBe(ErrorCode.Unavailable);
  });

  it('recognises an exhausted pool and a lost connection', () => {
    expect(asDatabaseUnavailable(new Error('timeout exceeded when trying to connect'))?.message).toMatch(/ENGRAM_DB_ACQUIRE_TIMEOUT_MS/);
    expect(asDatabaseUnavailable(new Error('Connection terminated unexpectedly'))?.message).toMatch(/unreachable/);
  });

  it('recognises a socket error that is not an Error of this realm', () => {
    expect(asDatabaseUnavailable({ message: 'connect ECONNREFUSED 127.0.0.1:5432', code: 'ECONNREFUSED' })?.code).toBe(ErrorCode.Unavailable);
  });

  it('leaves other errors alone', () => {
    expect(asDatabaseUnavailable(pgError('23505'))).toBeNull(); // unique violation: a bug or a conflict, not "retry later"
    expect(asDatabaseUnavailable(new Error('something else'))).toBeNull();
    expect(asDatabaseUnavailable('not an error')).toBeNull();
  });
});
