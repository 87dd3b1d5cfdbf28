import { Body, Controller, Get, Param, Post, Put, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
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
  @ApiOkResponse({ type: LifecyclePolicyResponseDto })
  getPolicy(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string) {
    return this.lifecycle.getPolicy(ctx, cubeId);
  }

  @Put()
  @ApiOkResponse({ type: LifecyclePolicyResponseDto, description: "replaces the cube's own policy level (cubes:write)" })
  putPolicy(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: LifecyclePolicyDto) {
    return this.lifecycle.putPolicy(ctx, cubeId, dto);
  }

  @Get('events')
  @ApiOkResponse({ type: LifecycleEventPageDto })
  events(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Query() query: LifecycleEventsQueryDto) {
    return this.lifecycle.events(ctx, cubeId, query);
  }

  @Post('run')
  @ApiOkResponse({ description: 'dryRun: { actions: [{ type, memoryIds, targetId?, reason }] }, nothing changed' })
  @ApiAcceptedResponse({ description: '{ runId }' })
  async run(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: RunLifecycleDto, @Res({ passthrough: true }) res: Response) {
    return sendRun(res, await this.lifecycle.run(ctx, cubeId, dto));
  }

  @Get('runs/:runId')
  @ApiOkResponse({ type: LifecycleRunResponseDto })
  getRun(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('runId', RunId) runId: string) {
    return this.lifecycle.getRun(ctx, cubeId, runId);
  }
}
