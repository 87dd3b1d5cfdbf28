import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { HealthRepository } from '@engram/persistence';
import type { Response } from 'express';
import { MetricsService } from '../http/metrics.service';
import { Public } from '../http/request-context.decorator';

@ApiTags('system')
@Controller()
export class SystemController {
  constructor(
    private readonly health: HealthRepository,
    private readonly metrics: MetricsService,
  ) {}

  /** Liveness plus a database round trip; 503 when PostgreSQL does not answer. */
  @Public()
  @Get('health')
  @ApiOkResponse({ description: '{ status: "ok", database: { ok, latencyMs } }' })
  async getHealth(@Res() res: Response): Promise<void> {
    try {
      const latencyMs = await this.health.ping();
      res.status(200).json({ status: 'ok', database: { ok: true, latencyMs: Math.round(latencyMs * 100) / 100 } });
    } catch (error) {
      res.status(503).json({ status: 'unavailable', database: { ok: false, error: String((error as Error).message ?? error) } });
    }
  }

  @Public()
  @Get('metrics')
  @ApiExcludeEndpoint()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  getMetrics(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
