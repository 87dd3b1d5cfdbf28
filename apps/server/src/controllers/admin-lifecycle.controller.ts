import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AdminCubesQueryDto, JobSummary, LifecycleAdminService, LifecyclePolicyDto, LifecyclePolicyResponseDto, RequestContext, RunLifecycleDto, SchedulerPauseDto } from '@engram/core';
import { CubeId, ResourceIdPipe, TenantId } from '../http/id.pipe';
import { Ctx } from '../http/request-context.decorator';
import { sendRun } from './lifecycle.controller';

const JobId = new ResourceIdPipe('job');

/** A cancelled job answers 200; one whose worker has not stopped yet 202 (it ends cancelled, or completed if it committed first). */
function sendCancel(res: Response, job: JobSummary): JobSummary {
  res.status(job.state === 'running' ? 202 : 200);
  return job;
}

/** The operator's lifecycle routes (admin token): defaults, cubes across tenants, runs, scheduler, jobs. */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin')
export class AdminLifecycleController {
  constructor(private readonly admin: LifecycleAdminService) {}

  @Get('lifecycle-defaults')
  @ApiOkResponse({ type: LifecyclePolicyResponseDto })
  getDefaults(@Ctx() ctx: RequestContext) {
    return this.admin.getDefaults(ctx, null);
  }

  @Put('lifecycle-defaults')
  @ApiOkResponse({ type: LifecyclePolicyResponseDto })
  putDefaults(@Ctx() ctx: RequestContext, @Body() dto: LifecyclePolicyDto) {
    return this.admin.putDefaults(ctx, null, dto);
  }

  @Get('tenants/:tenantId/lifecycle-defaults')
  @ApiOkResponse({ type: LifecyclePolicyResponseDto })
  getTenantDefaults(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string) {
    return this.admin.getDefaults(ctx, tenantId);
  }

  @Put('tenants/:tenantId/lifecycle-defaults')
  @ApiOkResponse({ type: LifecyclePolicyResponseDto })
  putTenantDefaults(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string, @Body() dto: LifecyclePolicyDto) {
    return this.admin.putDefaults(ctx, tenantId, dto);
  }

  @Get('cubes')
  listCubes(@Ctx() ctx: RequestContext, @Query() query: AdminCubesQueryDto) {
    return this.admin.listCubes(ctx, query);
  }

  @Post('cubes/:cubeId/lifecycle/run')
  async runCube(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: RunLifecycleDto, @Res({ passthrough: true }) res: Response) {
    return sendRun(res, await this.admin.runCube(ctx, cubeId, dto));
  }

  @Get('scheduler')
  scheduler(@Ctx() ctx: RequestContext) {
    return this.admin.scheduler(ctx);
  }

  @Post('scheduler/pause')
  @HttpCode(200)
  pause(@Ctx() ctx: RequestContext, @Body() dto: SchedulerPauseDto) {
    return this.admin.pause(ctx, dto, true);
  }

  @Post('scheduler/resume')
  @HttpCode(200)
  resume(@Ctx() ctx: RequestContext, @Body() dto: SchedulerPauseDto) {
    return this.admin.pause(ctx, dto, false);
  }

  @Post('jobs/:jobId/retry')
  @HttpCode(200)
  retryJob(@Ctx() ctx: RequestContext, @Param('jobId', JobId) jobId: string) {
    return this.admin.retryJob(ctx, jobId);
  }

  @Post('jobs/:jobId/cancel')
  async cancelJob(@Ctx() ctx: RequestContext, @Param('jobId', JobId) jobId: string, @Res({ passthrough: true }) res: Response) {
    return sendCancel(res, await this.admin.cancelJob(ctx, jobId));
  }
}
