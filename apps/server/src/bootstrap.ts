import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { EngramConfig } from '@engram/config';
import { AuthenticationService } from '@engram/core';
import { tracingEnabled } from '@engram/telemetry';
import { AppModule, AppModuleOptions } from './app.module';
import { MetricsService } from './http/metrics.service';
import { serveDashboard } from './http/dashboard';
import { buildOpenApiDocument } from './openapi/openapi.document';
import { httpMetrics, jsonBody, requestId, requireJsonBody } from './http/request.middleware';
import { createLogger, EngramLogger, requestLog } from './http/logging';

export interface CreateAppOptions extends Partial<AppModuleOptions> {
  /** Where a generated admin token is shown (once); stdout by default. */
  announceAdminToken?: (token: string) => void;
  /** Keep Nest's own logs quiet (tests). */
  quiet?: boolean;
}

/** Builds the HTTP application (not yet listening): middleware, docs, admin token. */
export async function createApp(config: EngramConfig, options: CreateAppOptions = {}): Promise<NestExpressApplication> {
  // The configured logger from the first line (a start that fails logs at LOG_LEVEL, not Nest's
  // buffered boot lines at every level), and a failed start is thrown to the caller (the CLI
  // says what to do next) instead of Nest exiting the process itself.
  const logger = createLogger(config.logLevel, tracingEnabled());
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(config, { runWorker: options.runWorker ?? config.workerInProcess }),
    { bodyParser: false, abortOnError: false, logger: options.quiet ? false : new EngramLogger(logger) },
  );
  app.disable('x-powered-by');
  app.use(requestId);
  app.use(requestLog(logger));
  serveDashboard(app);
  app.use(httpMetrics(app.get(MetricsService)));
  app.use(requireJsonBody);
  app.use(jsonBody(config.bodyLimitBytes));

  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });

  await app.get(AuthenticationService).initAdminToken(
    options.announceAdminToken ??
      ((token) => process.stdout.write(`\nengram: generated admin token (shown once, store it now):\n  ${token}\n\n`)),
  );
  return app;
}
