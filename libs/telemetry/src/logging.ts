import type { LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Level, type Logger } from 'pino';
import type { EngramConfig } from '@engram/config';
import { activeTraceIds } from './tracing';

/**
 * The logger of engram's processes (serve, worker): one pino instance writing JSON lines to stdout (ADR 0508). With tracing
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
