import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CreateCubeDto, CubePageDto, CubeResponseDto, CubeService, PageQueryDto, RequestContext, UpdateCubeDto } from '@engram/core';
import { CubeId } from '../http/id.pipe';
import { Ctx } from '../http/request-context.decorator';

@ApiTags('cubes')
@ApiBearerAuth()
@Controller('v1/cubes')
export class CubeController {
  constructor(private readonly cubes: CubeService) {}

  @Post()
  @ApiCreatedResponse({ type: CubeResponseDto })
  create(@Ctx() ctx: RequestContext, @Body() dto: CreateCubeDto) {
    return this.cubes.create(ctx, dto);
  }

  @Get()
  @ApiOkResponse({ type: CubePageDto })
  list(@Ctx() ctx: RequestContext, @Query() query: PageQueryDto) {
    return this.cubes.list(ctx, query);
  }

  @Get(':cubeId')
  @ApiOkResponse({ type: CubeResponseDto })
  get(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string) {
    return this.cubes.get(ctx, cubeId);
  }

  @Patch(':cubeId')
  @ApiOkResponse({ type: CubeResponseDto })
  update(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Body() dto: UpdateCubeDto) {
    return this.cubes.update(ctx, cubeId, dto);
  }

  @Delete(':cubeId')
  @HttpCode(202)
  @ApiAcceptedResponse({ description: 'soft-deleted; { purgeJobId } removes it for good' })
  delete(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string) {
    return this.cubes.delete(ctx, cubeId);
  }
}
