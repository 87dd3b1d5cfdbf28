import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CreateKvCacheDto, KvCacheListDto, KvCacheResponseDto, KvCacheService, RequestContext } from '@engram/core';
import { CubeId, KvCacheId } from '../http/id.pipe';
import { Ctx } from '../http/request-context.decorator';

@ApiTags('kv-caches')
@ApiBearerAuth()
@Controller('v1/cubes/:cubeId/kv-caches')
export class KvCacheController {
  constructor(private readonly kvCaches: KvCacheService) {}

  @Post()
  @ApiOperation({ summary: 'Build a KV cache from memories or text', description: 'Scope memories:write.' })
  @ApiCreatedResponse({ type: KvCacheResponseDto, description: 'built inline from memoryIds (active memories of the cube) or text' })
  create(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: CreateKvCacheDto) {
    return this.kvCaches.create(ctx, cubeId, dto);
  }

  @Get()
  @ApiOperation({ summary: "List the cube's KV caches with tiers and hit rates", description: 'Scope memories:read.' })
  @ApiOkResponse({ type: KvCacheListDto, description: 'the cube\'s caches with tier and bytes, and its hit rates by tier' })
  list(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string) {
    return this.kvCaches.list(ctx, cubeId);
  }

  @Delete(':cacheId')
  @ApiOperation({ summary: 'Delete a KV cache', description: 'Scope memories:write.' })
  @HttpCode(204)
  delete(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('cacheId', KvCacheId) cacheId: string) {
    return this.kvCaches.delete(ctx, cubeId, cacheId);
  }
}
