import { Controller, Get, Headers, Inject, Logger, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ENGRAM_CONFIG, EngramConfig } from '@engram/config';
import { EngramError, hashSecret, secretMatches } from '@engram/core';
import { HealthRepository } from '@engram/persistence';
import type { Response } from 'express';
import { MetricsService } from '../http/metrics.service';
import { Public } from '../http/request-context.decorator';

@ApiTags('system')
@Controller()
export class SystemController {
  private readonly logger = new Logger('Health');
  private readonly metricsTokenHash: string | null;

  constructor(
    private readonly health: HealthRepository,
    private readonly metrics: MetricsService,
    @Inject(ENGRAM_CONFIG) config: EngramConfig,
  ) {
    this.metricsTokenHash = config.metricsToken === null ? null : hashSecret(config.metricsToken);
  }

  /**
   * Liveness plus a database round trip on a connection outside the pool: answers even when
   * every pooled connection is busy. `degraded` (200) when requests are waiting for the
   * pool; 503 when PostgreSQL does not answer. The driver's error stays in the server log.
   */
  @Public()
  @Get('health')
  @ApiOperation({ summary: 'Check liveness and the database', description: 'No auth. 503 when PostgreSQL does not answer.' })
  @ApiOkResponse({ description: '{ status: "ok" | "degraded", database: { ok, latencyMs }, pool: { total, idle, waiting, max } }' })
  async getHealth(@Res() res: Response): Promise<void> {
    const pool = this.health.poolStats();
    try {
      const latencyMs = await this.health.ping();
      const status = pool.waiting > 0 ? 'degraded' : 'ok';
      res.status(200).json({ status, database: { ok: true, latencyMs: Math.round(latencyMs * 100) / 100 }, pool });
    } catch (error) {
      this.logger.warn(`health: database ping failed: ${error instanceof Error ? error.message : String(error)}`);
      res.status(503).json({ status: 'unavailable', database: { ok: false }, pool });
    }
  }

  @Public()
  @Get('metrics')
  @ApiExcludeEndpoint()
  async getMetrics(@Headers('authorization') authorization: string | undefined, @Res({ passthrough: true }) res: Response): Promise<string> {
    // Public unless the operator set ENGRAM_METRICS_TOKEN (Prometheus sends it as a bearer token).
    if (this.metricsTokenHash !== null) {
      const token = /^Bearer (\S+)$/i.exec(authorization ?? '')?.[1];
      if (!token || !secretMatches(token, this.metricsTokenHash)) throw EngramError.unauthenticated('/metrics needs Authorization: Bearer <ENGRAM_METRICS_TOKEN>');
    }
    const text = await this.metrics.registry.metrics();
    res.setHeader('Content-Type', 'text/plain; version=0.0.4; charset=utf-8'); // set here, so that a 401 stays JSON
    return text;
  }
}
