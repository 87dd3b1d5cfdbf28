import type { LoggerService } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import pino, { type DestinationStream, type Level, type Logger } from 'pino';
import { activeTraceIds } from '@engram/telemetry';
import type { EngramConfig } from '@engram/config';
import type { EngramRequest } from './request-context.decorator';

/**
 * The server's logger: one pino instance writing JSON lines to stdout (ADR 0508). With tracing
 * on, every line written inside a traced request carries that trace's id, read from the
 * OpenTelemetry context when the line is written: requests pay nothing for log bindings
 * unless a line is actually written.
 */
export function createLogger(level: EngramConfig['logLevel'], tracing: boolean, destination?: DestinationStream): Logger {
  const traceIds = (): Record<string, string> => {
    const ids = activeTraceIds();
    return ids ? { traceId: ids.traceId } : {};
  };
  const options = { level, ...(tracing ? { mixin: traceIds } : {}) };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Nest's LoggerService on pino: `logger.log('message', 'Context')`, `logger.warn({ fields },
 * 'message', 'Context')`, `logger.error(new Error(), 'Context')`. The last extra argument is
 * the context (Nest's convention), an object argument becomes the line's fields, an Error
 * its `err`.
 */
export class EngramLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  private write(level: Level, message: unknown, rest: unknown[]): void {
    if (!this.logger.isLevelEnabled(level)) return;
    const fields: Record<string, unknown> = {};
    const params = rest.length > 0 ? rest.slice(0, -1) : [];
    if (rest.length > 0) fields.context = rest[rest.length - 1];
    if (message instanceof Error) {
      fields.err = message;
      this.logger[level](fields, message.message, ...params);
    } else if (typeof message === 'object' && message !== null) {
      Object.assign(fields, message);
      this.logger[level](fields, ...(params as [string?]));
    } else if (level === 'error' && typeof message === 'string' && params.length === 1 && typeof params[0] === 'string' && /\n\s*at /.test(params[0])) {
      // Nest's own exception handlers call error(message, stack, context).
      const err = new Error(message);
      err.stack = params[0];
      this.logger.error({ ...fields, err });
    } else {
      this.logger[level](fields, String(message), ...params);
    }
  }
}

/** 5xx: error, 4xx: info, the rest: debug (a healthy server logs no line per request at info). */
export function requestLevel(statusCode: number): Level {
  return statusCode >= 500 ? 'error' : statusCode >= 400 ? 'info' : 'debug';
}

/**
 * One line per request once its response is sent (or the client went away first): id, method,
 * URL, status, time. Nothing is built for a line the level leaves out. Headers are not logged
 * (credentials travel in them).
 */
export function requestLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const done = (): void => {
      res.removeListener('finish', done);
      res.removeListener('close', done);
      const aborted = !res.writableFinished;
      const level = aborted ? 'info' : requestLevel(res.statusCode);
      if (!logger.isLevelEnabled(level)) return;
      const request = req as unknown as EngramRequest;
      logger[level](
        {
          req: { id: request.id, method: req.method, url: req.originalUrl, remoteAddress: req.socket?.remoteAddress },
          res: { statusCode: res.statusCode },
          responseTime: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
          ...(request.traceId ? { traceId: request.traceId } : {}),
        },
        aborted ? 'request aborted' : 'request completed',
      );
    };
    res.once('finish', done);
    res.once('close', done);
    next();
  };
}
