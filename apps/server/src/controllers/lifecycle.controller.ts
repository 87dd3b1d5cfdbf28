import { Body, Controller, Get, Param, Post, Put, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  LifecycleEventPageDto,
  LifecycleEventsQueryDto,
  LifecyclePolicyDto,
  LifecyclePolicyResponseDto,
  LifecycleRunResponseDto,
  LifecycleService,
  RequestContext,
  RunAnswer,
  RunLifecycleDto,
} from '@engram/core';
import { CubeId, ResourceIdPipe } from '../http/id.pipe';
import { Ctx } from '../http/request-context.decorator';

const RunId = new ResourceIdPipe('lifecycle run');

/** A dry run answers 200 with the plan; a run is accepted (202) with its id. */
export function sendRun(res: Response, answer: RunAnswer): RunAnswer['body'] {
  res.status(answer.dryRun ? 200 : 202);
  return answer.body;
}

@ApiTags('lifecycle')
@ApiBearerAuth()
@Controller('v1/cubes/:cubeId/lifecycle')
export class LifecycleController {
  constructor(private readonly lifecycle: LifecycleService) {}

  @Get()
  @ApiOperation({ summary: "Get the cube's lifecycle policy: effective and own", description: 'Scope memories:read.' })
  @ApiOkResponse({ type: LifecyclePolicyResponseDto })
  getPolicy(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string) {
    return this.lifecycle.getPolicy(ctx, cubeId);
  }

  @Put()
  @ApiOperation({ summary: "Replace the cube's lifecycle policy level", description: "Scope cubes:write. Replaces the cube's whole level: a section left out of the body falls back to the tenant and instance defaults, so send every section you override in one PUT." })
  @ApiOkResponse({ type: LifecyclePolicyResponseDto, description: "replaces the cube's own policy level (cubes:write)" })
  putPolicy(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: LifecyclePolicyDto) {
    return this.lifecycle.putPolicy(ctx, cubeId, dto);
  }

  @Get('events')
  @ApiOperation({ summary: "List the cube's lifecycle events, newest first", description: 'Scope memories:read.' })
  @ApiOkResponse({ type: LifecycleEventPageDto })
  events(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Query() query: LifecycleEventsQueryDto) {
    return this.lifecycle.events(ctx, cubeId, query);
  }

  @Post('run')
  @ApiOperation({ summary: "Run or dry-run the cube's lifecycle now", description: '`dryRun: true` (scope memories:read) answers 200 with the plan and changes nothing; otherwise (memories:write) 202 with the run id.' })
  @ApiOkResponse({ description: 'dryRun: { actions: [{ type, memoryIds, targetId?, reason }] }, nothing changed' })
  @ApiAcceptedResponse({ description: '{ runId }' })
  async run(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: RunLifecycleDto, @Res({ passthrough: true }) res: Response) {
    return sendRun(res, await this.lifecycle.run(ctx, cubeId, dto));
  }

  @Get('runs/:runId')
  @ApiOperation({ summary: 'Get a lifecycle run and its actions', description: 'Scope memories:read.' })
  @ApiOkResponse({ type: LifecycleRunResponseDto })
  getRun(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('runId', RunId) runId: string) {
    return this.lifecycle.getRun(ctx, cubeId, runId);
  }
}
