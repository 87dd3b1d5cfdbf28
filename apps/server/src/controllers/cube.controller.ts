import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiAcceptedResponse, ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CreateCubeDto, CubeCreateResult, CubeListQueryDto, CubeOverviewDto, CubeOverviewService, CubePageDto, CubeResponseDto, CubeService, CubeStatsDto, RequestContext, UpdateCubeDto } from '@engram/core';
import { CubeId } from '../http/id.pipe';
import { Ctx } from '../http/request-context.decorator';

function created(res: Response, result: CubeCreateResult): CubeResponseDto {
  res.status(result.created ? 201 : 200);
  return result.cube;
}

@ApiTags('cubes')
@ApiBearerAuth()
@Controller('v1/cubes')
export class CubeController {
  constructor(
    private readonly cubes: CubeService,
    private readonly overviews: CubeOverviewService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a cube, or return the live one of that name', description: 'Scope cubes:write. 201 when created; with `ifExists: "return"` an existing cube of that name answers 200 (get-or-create), otherwise it is a 409.' })
  @ApiCreatedResponse({ type: CubeResponseDto, description: 'created' })
  @ApiOkResponse({ type: CubeResponseDto, description: 'with ifExists: "return", the live cube that already had this name' })
  async create(@Ctx() ctx: RequestContext, @Body() dto: CreateCubeDto, @Res({ passthrough: true }) res: Response) {
    return created(res, await this.cubes.createOrReturn(ctx, dto));
  }

  @Get()
  @ApiOperation({ summary: "List the caller's cubes, or find one by name", description: 'Scope memories:read.' })
  @ApiOkResponse({ type: CubePageDto })
  list(@Ctx() ctx: RequestContext, @Query() query: CubeListQueryDto) {
    return this.cubes.list(ctx, query);
  }

  @Get(':cubeId')
  @ApiOperation({ summary: 'Get a cube', description: 'Scope memories:read. 404 when there is no such cube or the key cannot reach it.' })
  @ApiOkResponse({ type: CubeResponseDto })
  get(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string) {
    return this.cubes.get(ctx, cubeId);
  }

  @Get(':cubeId/stats')
  @ApiOperation({ summary: "Get a cube's memory counts by kind and state", description: 'Scope memories:read.' })
  @ApiOkResponse({ type: CubeStatsDto, description: 'the cube and its memory counts by kind and state' })
  stats(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string) {
    return this.cubes.stats(ctx, cubeId);
  }

  @Get(':cubeId/overview')
  @ApiOperation({ summary: "Get a cube's overview across text, KV and parametric memory", description: 'Scope memories:read.' })
  @ApiOkResponse({ type: CubeOverviewDto, description: 'the cube across the three kinds of memory: counts by kind and state, KV bytes by tier, heat histogram, bank occupancy and staleness, working-memory cache, last scheduler runs (memories:read)' })
  overview(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string) {
    return this.overviews.get(ctx, cubeId);
  }

  @Patch(':cubeId')
  @ApiOperation({ summary: "Change a cube's name, description or settings", description: 'Scope cubes:write. 409 for a name taken, or for another embedder once the cube holds memories.' })
  @ApiOkResponse({ type: CubeResponseDto })
  update(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: UpdateCubeDto) {
    return this.cubes.update(ctx, cubeId, dto);
  }

  @Delete(':cubeId')
  @ApiOperation({ summary: 'Delete a cube and queue its purge', description: 'Scope cubes:write. Gone from reads at once; a job removes everything it holds.' })
  @HttpCode(202)
  @ApiAcceptedResponse({ description: 'soft-deleted; { purgeJobId } removes it for good' })
  delete(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string) {
    return this.cubes.delete(ctx, cubeId);
  }
}
