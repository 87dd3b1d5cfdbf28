import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { BankBlockMapDto, BankBlockResponseDto, BankJobResponseDto, BankResponseDto, BankService, CreateBankDto, RequestContext, WriteBankDto } from '@engram/core';
import { BankId, BlockIndexPipe, CubeId } from '../http/id.pipe';
import { Ctx } from '../http/request-context.decorator';

@ApiTags('banks')
@ApiBearerAuth()
@Controller('v1/cubes/:cubeId/banks')
export class BankController {
  constructor(private readonly banks: BankService) {}

  @Post()
  @ApiOperation({ summary: "Build a parametric bank from the cube's active memories", description: 'Scope banks:write. Queues a job; poll the bank for its state.' })
  @HttpCode(202)
  @ApiAcceptedResponse({ type: BankJobResponseDto, description: 'queues a job that clusters the cube\'s active memories into a new bank; poll GET …/banks/{bankId}' })
  create(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: CreateBankDto) {
    return this.banks.create(ctx, cubeId, dto);
  }

  @Get()
  @ApiOperation({ summary: "List the cube's banks with their state and progress", description: 'Scope memories:read.' })
  @ApiOkResponse({ description: '{ items: Bank[] } with state and progress' })
  list(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string) {
    return this.banks.list(ctx, cubeId);
  }

  @Get(':bankId')
  @ApiOperation({ summary: 'Get a bank: state, progress and occupancy', description: 'Scope memories:read.' })
  @ApiOkResponse({ type: BankResponseDto, description: 'state, progress, and occupancy per level once ready' })
  get(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('bankId', BankId) bankId: string) {
    return this.banks.get(ctx, cubeId, bankId);
  }

  @Get(':bankId/blocks')
  @ApiOperation({ summary: "Get a bank's block map: writes and staleness per block", description: 'Scope memories:read.' })
  @ApiOkResponse({ type: BankBlockMapDto, description: 'every written block with its write count and staleness, and the geometry per level (a heat map of the bank)' })
  blockMap(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('bankId', BankId) bankId: string) {
    return this.banks.blockMap(ctx, cubeId, bankId);
  }

  @Get(':bankId/blocks/:level/:node')
  @ApiOperation({ summary: 'Get one block of a bank and the memories written into it', description: 'Scope memories:read.' })
  @ApiOkResponse({ type: BankBlockResponseDto, description: 'provenance of one block: the memories written into it, stale, locked' })
  block(
    @Ctx() ctx: RequestContext,
    @Param('cubeId', CubeId) cubeId: string,
    @Param('bankId', BankId) bankId: string,
    @Param('level', BlockIndexPipe) level: number,
    @Param('node', BlockIndexPipe) node: number,
  ) {
    return this.banks.block(ctx, cubeId, bankId, level, node);
  }

  @Post(':bankId/write')
  @ApiOperation({ summary: 'Write memories into a bank', description: 'Scope banks:write. Queues a training job.' })
  @HttpCode(202)
  @ApiAcceptedResponse({ type: BankJobResponseDto, description: 'queues a job that trains the blocks on the memories\' paths (anchor frozen)' })
  write(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('bankId', BankId) bankId: string, @Body() dto: WriteBankDto) {
    return this.banks.write(ctx, cubeId, bankId, dto);
  }

  @Delete(':bankId')
  @ApiOperation({ summary: 'Delete a bank', description: 'Scope banks:write.' })
  @HttpCode(204)
  @ApiNoContentResponse()
  delete(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Param('bankId', BankId) bankId: string) {
    return this.banks.delete(ctx, cubeId, bankId);
  }
}
