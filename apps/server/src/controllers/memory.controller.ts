import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
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
  parseIfMatch,
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
  @ApiOperation({ summary: 'Add memories to a cube', description: 'Scope memories:write. With an Idempotency-Key a retry answers the first response.' })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiCreatedResponse({ type: MemoryListDto, description: 'the memories in input order, after commit (a replay answers the same 201 and body, with Idempotent-Replayed: true)' })
  async add(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: AddMemoriesDto, @Headers('idempotency-key') key: string | undefined, @Res({ passthrough: true }) res: Response) {
    return send(res, await this.memories.add(ctx, cubeId, dto, key));
  }

  @Post('messages')
  @ApiOperation({ summary: 'Add conversation turns as message memories', description: 'Scope memories:write. `mode: "extract"` also extracts facts (operator LLM). With an Idempotency-Key a retry answers the first response.' })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiCreatedResponse({ type: AddMessagesResultDto, description: 'one message memory per turn, in order' })
  async addMessages(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: AddMessagesDto, @Headers('idempotency-key') key: string | undefined, @Res({ passthrough: true }) res: Response) {
    return send(res, await this.memories.addMessages(ctx, cubeId, dto, key));
  }

  @Post('search')
  @ApiOperation({ summary: "Search a cube's memories", description: 'Scope memories:read. Results are best first; `score` ranks them within this response only (see SearchResultDto.score), `explain: true` gives the raw scores per signal.' })
  @HttpCode(200)
  @ApiOkResponse({ type: SearchResponseDto })
  search(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: SearchDto) {
    return this.searcher.search(ctx, cubeId, dto);
  }

  @Get('memories')
  @ApiOperation({ summary: "List a cube's memories, oldest first", description: 'Scope memories:read. Active memories unless `state` asks for others (deleted included); paged by `cursor`.' })
  @ApiOkResponse({ type: MemoryPageDto })
  list(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Query() query: MemoryListQueryDto) {
    return this.memories.list(ctx, cubeId, query);
  }

  @Get('memories/:memoryId')
  @ApiOperation({ summary: 'Get a memory', description: 'Scope memories:read. Merged, superseded, expired and archived memories answer 200; a deleted or erased one is a 404 (restore brings a deleted one back).' })
  @ApiOkResponse({ type: MemoryResponseDto })
  get(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('memoryId', MemoryId) memoryId: string) {
    return this.memories.get(ctx, cubeId, memoryId);
  }

  @Patch('memories/:memoryId')
  @ApiOperation({
    summary: 'Update an active memory as a new version',
    description:
      'Scope memories:write. 409 when it is not active (restore it first); 404 when deleted. With If-Match: <version> it applies only while the memory is still at that version (412 otherwise), so a read-modify-write (of metadata or tags, which are replaced whole) cannot overwrite a change made meanwhile.',
  })
  @ApiHeader({ name: 'If-Match', required: false, description: 'the memory\'s "version" as last read (3 or "3"); * or absent: any version' })
  @ApiOkResponse({ type: MemoryResponseDto })
  update(
    @Ctx() ctx: RequestContext,
    @Param('cubeId', CubeId) cubeId: string,
    @Param('memoryId', MemoryId) memoryId: string,
    @Body() dto: UpdateMemoryDto,
    @Headers('if-match') ifMatch: string | undefined,
  ) {
    return this.memories.update(ctx, cubeId, memoryId, dto, { expectedVersion: parseIfMatch(ifMatch) });
  }

  @Delete('memories/:memoryId')
  @ApiOperation({ summary: 'Delete a memory (restorable), or erase it for good', description: 'Scope memories:write (`erase=true`: memories:erase). Deleting again answers 204 too.' })
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'soft-deleted (restorable): gone from search and lists at once; with ?erase=true erased for good' })
  delete(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('memoryId', MemoryId) memoryId: string, @Query() query: DeleteMemoryQueryDto) {
    return this.memories.delete(ctx, cubeId, memoryId, query);
  }

  @Post('memories/:memoryId/restore')
  @ApiOperation({ summary: 'Restore a merged, superseded, expired, archived or deleted memory', description: 'Scope memories:write. 409 when it is active or was erased.' })
  @HttpCode(200)
  @ApiOkResponse({ type: MemoryResponseDto })
  restore(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('memoryId', MemoryId) memoryId: string) {
    return this.memories.restore(ctx, cubeId, memoryId);
  }

  @Get('memories/:memoryId/history')
  @ApiOperation({ summary: "List a memory's versions, oldest first", description: 'Scope memories:read. Answers for deleted and erased memories too.' })
  @ApiOkResponse({ type: MemoryHistoryDto })
  history(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('memoryId', MemoryId) memoryId: string) {
    return this.memories.history(ctx, cubeId, memoryId);
  }
}
