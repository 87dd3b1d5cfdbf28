import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import {
  AddMemoriesDto,
  AddMessagesDto,
  AddMessagesResultDto,
  MemoryHistoryDto,
  MemoryListDto,
  MemoryPageDto,
  SearchResponseDto,
  DeleteMemoryQueryDto,
  MemoryListQueryDto,
  MemoryResponseDto,
  MemoryService,
  RequestContext,
  SearchDto,
  SearchService,
  UpdateMemoryDto,
  WriteResult,
} from '@engram/core';
import { CubeId, MemoryId } from '../http/id.pipe';
import { Ctx } from '../http/request-context.decorator';

function send<T>(res: Response, result: WriteResult<T>): T {
  res.status(result.statusCode);
  if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
  return result.body;
}

@ApiTags('memories')
@ApiBearerAuth()
@Controller('v1/cubes/:cubeId')
export class MemoryController {
  constructor(
    private readonly memories: MemoryService,
    private readonly searcher: SearchService,
  ) {}

  @Post('memories')
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiCreatedResponse({ type: MemoryListDto, description: 'the memories in input order, after commit (200 with Idempotent-Replayed: true on a replay)' })
  async add(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: AddMemoriesDto, @Headers('idempotency-key') key: string | undefined, @Res({ passthrough: true }) res: Response) {
    return send(res, await this.memories.add(ctx, cubeId, dto, key));
  }

  @Post('messages')
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiCreatedResponse({ type: AddMessagesResultDto, description: 'one message memory per turn, in order' })
  async addMessages(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: AddMessagesDto, @Headers('idempotency-key') key: string | undefined, @Res({ passthrough: true }) res: Response) {
    return send(res, await this.memories.addMessages(ctx, cubeId, dto, key));
  }

  @Post('search')
  @HttpCode(200)
  @ApiOkResponse({ type: SearchResponseDto })
  search(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: SearchDto) {
    return this.searcher.search(ctx, cubeId, dto);
  }

  @Get('memories')
  @ApiOkResponse({ type: MemoryPageDto })
  list(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Query() query: MemoryListQueryDto) {
    return this.memories.list(ctx, cubeId, query);
  }

  @Get('memories/:memoryId')
  @ApiOkResponse({ type: MemoryResponseDto })
  get(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('memoryId', MemoryId) memoryId: string) {
    return this.memories.get(ctx, cubeId, memoryId);
  }

  @Patch('memories/:memoryId')
  @ApiOkResponse({ type: MemoryResponseDto })
  update(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('memoryId', MemoryId) memoryId: string, @Body() dto: UpdateMemoryDto) {
    return this.memories.update(ctx, cubeId, memoryId, dto);
  }

  @Delete('memories/:memoryId')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'soft-deleted (restorable): gone from search and lists at once; with ?erase=true erased for good' })
  delete(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('memoryId', MemoryId) memoryId: string, @Query() query: DeleteMemoryQueryDto) {
    return this.memories.delete(ctx, cubeId, memoryId, query);
  }

  @Post('memories/:memoryId/restore')
  @HttpCode(200)
  @ApiOkResponse({ type: MemoryResponseDto })
  restore(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('memoryId', MemoryId) memoryId: string) {
    return this.memories.restore(ctx, cubeId, memoryId);
  }

  @Get('memories/:memoryId/history')
  @ApiOkResponse({ type: MemoryHistoryDto })
  history(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('memoryId', MemoryId) memoryId: string) {
    return this.memories.history(ctx, cubeId, memoryId);
  }
}
