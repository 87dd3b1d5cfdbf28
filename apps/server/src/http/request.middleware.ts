import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { json, type NextFunction, type Request, type Response } from 'express';
import { EngramError, ErrorCode } from '@engram/core';
import { activeTraceIds } from '@engram/telemetry';
import { EngramRequest } from './request-context.decorator';
import { MetricsService } from './metrics.service';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Takes a well-formed X-Request-Id from the caller or makes one, and echoes it back. With
 * tracing on (ADR 0505) the request's trace id goes back too, as X-Trace-Id, and into its logs.
 */
export function requestId(req: Request, res: Response, next: NextFunction): void {
  const given = req.header('x-request-id');
  const id = given && REQUEST_ID.test(given) ? given : randomUUID();
  (req as EngramRequest).id = id;
  res.setHeader('X-Request-Id', id);
  const trace = activeTraceIds();
  if (trace) {
    (req as EngramRequest).traceId = trace.traceId;
    res.setHeader('X-Trace-Id', trace.traceId);
  }
  next();
}

/** Routes whose body is a stream the service reads itself (never parsed as JSON, not held by ENGRAM_BODY_LIMIT). */
const STREAMED_BODY_ROUTES = new Set(['POST /v1/cubes/import']);

/** A request that carries a body must send it as JSON (streamed-body routes check their own media type). */
export function requireJsonBody(req: Request, _res: Response, next: NextFunction): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody || !['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method)) return next();
  if (STREAMED_BODY_ROUTES.has(`${req.method} ${req.path}`)) return next();
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type)) return next();
  next(new EngramError(ErrorCode.UnsupportedMediaType, `the request body must be application/json, got ${type || 'no content type'}`));
}

/** Observes each request's latency under its route template (not its concrete path). */
export function httpMetrics(metrics: MetricsService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl ?? ''}${req.route.path}` : 'unmatched';
      metrics.observeHttp(req.method, route, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}

interface BodyParserError {
  type?: string;
  limit?: number;
}

/** Parses JSON bodies up to `limit` bytes; parser failures become domain errors here, before Nest rewrites them. */
export function jsonBody(limit: number) {
  const parse = json({ limit, strict: false, type: ['application/json', 'application/*+json'], verify: refuseInvalidUtf8 });
  return (req: Request, res: Response, next: NextFunction): void => {
    parse(req, res, (error?: unknown) => next(error === undefined ? undefined : toDomainError(error as BodyParserError)));
  };
}

/**
 * A UTF-8 body must be UTF-8: the decoder would turn each bad byte (a Latin-1 "é") into
 * U+FFFD, stored as such with a 201. Other charsets (utf-16…) are the parser's to decode.
 */
function refuseInvalidUtf8(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  if (/^utf-?8$/i.test(encoding) && !isUtf8(body)) throw Object.assign(new Error('the request body is not valid UTF-8'), { type: 'entity.encoding.invalid' });
}

function toDomainError(error: BodyParserError): unknown {
  switch (error.type) {
    case 'entity.encoding.invalid':
      return new EngramError(ErrorCode.InvalidJson, 'the request body is not valid UTF-8 (a Latin-1 or Windows-1252 byte?): send JSON encoded as UTF-8');
    case 'entity.parse.failed':
      return new EngramError(ErrorCode.InvalidJson, 'the request body is not valid JSON');
    case 'entity.too.large':
      return new EngramError(ErrorCode.PayloadTooLarge, `the request body is larger than the limit of ${error.limit} bytes`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new EngramError(ErrorCode.UnsupportedMediaType, 'the request body must be UTF-8 JSON');
    case 'request.aborted':
    case 'request.size.invalid':
      return new EngramError(ErrorCode.ValidationFailed, 'the request body was not received completely');
    default:
      return error;
  }
}
