import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EngramConfig } from '@engram/config';
import { WorkerModule } from './worker.module';

/** Starts a worker: migrates if configured, then polls the job queue until shut down. */
export async function createWorker(config: EngramConfig, options: { quiet?: boolean; runWorker?: boolean } = {}): Promise<INestApplicationContext> {
  const context = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, { runWorker: options.runWorker }), {
    logger: options.quiet ? false : ['log', 'warn', 'error'],
    abortOnError: false, // a failed start is thrown to the caller (the CLI explains it), not exited on
  });
  return context;
}
