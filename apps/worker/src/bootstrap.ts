import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EngramConfig } from '@engram/config';
import { tracingEnabled } from '@engram/telemetry';
// The server's logger factory, so that a separate worker logs what `engram serve` logs, as it does.
import { createLogger, EngramLogger } from '@engram/telemetry';
import { WorkerModule } from './worker.module';

/** Starts a worker: migrates if configured, then polls the job queue until shut down. */
export async function createWorker(config: EngramConfig, options: { quiet?: boolean; runWorker?: boolean } = {}): Promise<INestApplicationContext> {
  // Pino JSON at LOG_LEVEL from the first line, like the server; a failed start is thrown to
  // the caller (the CLI says what to do next), not exited on.
  const logger = createLogger(config.logLevel, tracingEnabled());
  return NestFactory.createApplicationContext(WorkerModule.forRoot(config, { runWorker: options.runWorker }), {
    logger: options.quiet ? false : new EngramLogger(logger),
    abortOnError: false,
  });
}
