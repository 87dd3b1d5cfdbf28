import type { NextFunction, Request, Response } from 'express';
import type { Level, Logger } from 'pino';
import type { EngramRequest } from './request-context.decorator';

// createLogger and EngramLogger live in @engram/telemetry (the worker logs the same way).
export { createLogger, EngramLogger } from '@engram/telemetry';

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
