import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { asEngramError, EngramError, ErrorCode, httpStatusOf } from '@engram/core';
import { randomUUID } from 'node:crypto';
import type { Response } from 'express';
import { EngramRequest } from './request-context.decorator';

/**
 * The one place errors become HTTP responses:
 * `{ error: { code, message, details?, requestId } }`. Unknown errors are logged and
 * answered as a 500 with an error id, never a stack trace.
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<EngramRequest>();
    const response = http.getResponse<Response>();
    const error = this.toEngramError(exception);
    const status = httpStatusOf(error.code);
    const body: Record<string, unknown> = { code: error.code, message: error.message };
    if (error.details !== undefined) body.details = error.details;
    body.requestId = request.id ?? null;
    if (status >= 500) {
      const errorId = randomUUID();
      body.errorId = errorId;
      if (status === 503) this.logger.warn({ errorId, requestId: request.id, err: exception }, `${error.message} (${errorId}) on ${request.method} ${request.path}`);
      else this.logger.error({ errorId, requestId: request.id, err: exception }, `unhandled error ${errorId} on ${request.method} ${request.path}`);
    }
    if (response.headersSent) return;
    const retryAfter = (error.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    if ((status === 503 || status === 429) && typeof retryAfter === 'number') response.setHeader('Retry-After', String(retryAfter));
    response.status(status).json({ error: body });
  }

  private toEngramError(thrown: unknown): EngramError {
    const exception = asEngramError(thrown);
    if (exception instanceof EngramError) return exception;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === 404) return new EngramError(ErrorCode.RouteNotFound, 'no such route: the routes are listed at /docs (the dashboard is at /ui)');
      if (status === 405) return new EngramError(ErrorCode.MethodNotAllowed, 'method not allowed on this route');
      if (status === 413) return new EngramError(ErrorCode.PayloadTooLarge, 'the request body is too large');
      if (status === 415) return new EngramError(ErrorCode.UnsupportedMediaType, exception.message);
      if (status >= 400 && status < 500) return new EngramError(ErrorCode.ValidationFailed, exception.message);
    }
    return new EngramError(ErrorCode.Internal, 'internal error');
  }
}
