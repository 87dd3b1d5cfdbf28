import { ErrorCode } from './error-code';

export interface FieldProblem {
  field: string;
  problems: string[];
}

/** A domain error: a code the HTTP layer maps to a status, a message for people, optional details. */
export class EngramError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'EngramError';
  }

  static notFound(resource: string): EngramError {
    return new EngramError(ErrorCode.NotFound, `${resource} not found`);
  }

  static unauthenticated(message = 'missing or invalid credentials'): EngramError {
    return new EngramError(ErrorCode.Unauthenticated, message);
  }

  static forbidden(message: string): EngramError {
    return new EngramError(ErrorCode.Forbidden, message);
  }

  static validation(problems: FieldProblem[]): EngramError {
    const summary = problems.map((p) => `${p.field}: ${p.problems.join('; ')}`).join(', ');
    return new EngramError(ErrorCode.ValidationFailed, `invalid request: ${summary}`, problems);
  }

  static conflict(message: string): EngramError {
    return new EngramError(ErrorCode.Conflict, message);
  }

  static preconditionFailed(message: string, details?: unknown): EngramError {
    return new EngramError(ErrorCode.PreconditionFailed, message, details);
  }
}
