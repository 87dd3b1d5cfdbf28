import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminCubesQueryDto, JobSummary, LifecycleAdminService, LifecyclePolicyDto, LifecyclePolicyResponseDto, LifecycleRunResponseDto, RequestContext, RunLifecycleDto, SchedulerPauseDto } from '@engram/core';
import { CubeId, ResourceIdPipe, TenantId } from '../http/id.pipe';
import { Ctx } from '../http/request-context.decorator';
import { sendRun } from './lifecycle.controller';

const JobId = new ResourceIdPipe('job');
const RunId = new ResourceIdPipe('lifecycle run');

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
  @ApiOperation({ summary: "Get the instance's lifecycle policy defaults", description: 'Admin token.' })
  @ApiOkResponse({ type: LifecyclePolicyResponseDto })
  getDefaults(@Ctx() ctx: RequestContext) {
    return this.admin.getDefaults(ctx, null);
  }

  @Put('lifecycle-defaults')
  @ApiOperation({ summary: "Replace the instance's lifecycle policy defaults", description: 'Admin token. Replaces the whole level: a section left out is no longer overridden.' })
  @ApiOkResponse({ type: LifecyclePolicyResponseDto })
  putDefaults(@Ctx() ctx: RequestContext, @Body() dto: LifecyclePolicyDto) {
    return this.admin.putDefaults(ctx, null, dto);
  }

  @Get('tenants/:tenantId/lifecycle-defaults')
  @ApiOperation({ summary: "Get a tenant's lifecycle policy defaults", description: 'Admin token.' })
  @ApiOkResponse({ type: LifecyclePolicyResponseDto })
  getTenantDefaults(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string) {
    return this.admin.getDefaults(ctx, tenantId);
  }

  @Put('tenants/:tenantId/lifecycle-defaults')
  @ApiOperation({ summary: "Replace a tenant's lifecycle policy defaults", description: 'Admin token. Replaces the whole level: a section left out is no longer overridden.' })
  @ApiOkResponse({ type: LifecyclePolicyResponseDto })
  putTenantDefaults(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string, @Body() dto: LifecyclePolicyDto) {
    return this.admin.putDefaults(ctx, tenantId, dto);
  }

  @Get('cubes')
  @ApiOperation({ summary: 'List cubes across tenants with memory counts by state', description: "Admin token. `tenantId` keeps one tenant's cubes." })
  listCubes(@Ctx() ctx: RequestContext, @Query() query: AdminCubesQueryDto) {
    return this.admin.listCubes(ctx, query);
  }

  @Post('cubes/:cubeId/lifecycle/run')
  @ApiOperation({ summary: 'Run or dry-run the lifecycle of any cube', description: 'Admin token. `dryRun: true` answers 200 with the plan and changes nothing; otherwise 202 with the run id.' })
  async runCube(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: RunLifecycleDto, @Res({ passthrough: true }) res: Response) {
    return sendRun(res, await this.admin.runCube(ctx, cubeId, dto));
  }

  @Get('cubes/:cubeId/lifecycle/runs/:runId')
  @ApiOperation({ summary: 'Get a lifecycle run of any cube and its actions', description: 'Admin token. Follows a run started with POST /v1/admin/cubes/{cubeId}/lifecycle/run.' })
  @ApiOkResponse({ type: LifecycleRunResponseDto })
  getCubeRun(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('runId', RunId) runId: string) {
    return this.admin.getCubeRun(ctx, cubeId, runId);
  }

  @Get('scheduler')
  @ApiOperation({ summary: "Get the lifecycle scheduler's queues, failures and pauses", description: 'Admin token.' })
  scheduler(@Ctx() ctx: RequestContext) {
    return this.admin.scheduler(ctx);
  }

  @Post('scheduler/pause')
  @ApiOperation({ summary: 'Pause the lifecycle scheduler, for the instance or one tenant', description: 'Admin token. Paused ticks and runs wait; pausing again changes nothing.' })
  @HttpCode(200)
  pause(@Ctx() ctx: RequestContext, @Body() dto: SchedulerPauseDto) {
    return this.admin.pause(ctx, dto, true);
  }

  @Post('scheduler/resume')
  @ApiOperation({ summary: 'Resume the lifecycle scheduler, for the instance or one tenant', description: 'Admin token.' })
  @HttpCode(200)
  resume(@Ctx() ctx: RequestContext, @Body() dto: SchedulerPauseDto) {
    return this.admin.pause(ctx, dto, false);
  }

  @Post('jobs/:jobId/retry')
  @ApiOperation({ summary: 'Retry a failed or cancelled job', description: 'Admin token. Runs it again from the start on what is committed now. 409 unless the job failed or was cancelled.' })
  @HttpCode(200)
  retryJob(@Ctx() ctx: RequestContext, @Param('jobId', JobId) jobId: string) {
    return this.admin.retryJob(ctx, jobId);
  }

  @Post('jobs/:jobId/cancel')
  @ApiOperation({ summary: 'Cancel a queued or running job', description: 'Admin token. 200 once cancelled (state `cancelled`); 202 while its worker has not stopped yet; 409 when it already ended (or completed before its worker saw the cancel).' })
  async cancelJob(@Ctx() ctx: RequestContext, @Param('jobId', JobId) jobId: string, @Res({ passthrough: true }) res: Response) {
    return sendCancel(res, await this.admin.cancelJob(ctx, jobId));
  }
}
