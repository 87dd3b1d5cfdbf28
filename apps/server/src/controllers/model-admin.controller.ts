import { Body, Controller, Get, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ImportModelDto, ModelResponseDto, ModelService, RequestContext } from '@engram/core';
import { Ctx } from '../http/request-context.decorator';

@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/models')
export class ModelAdminController {
  constructor(private readonly models: ModelService) {}

  @Post()
  @ApiOperation({ summary: 'Register a model directory of the server machine', description: 'Admin token.' })
  @ApiCreatedResponse({ type: ModelResponseDto, description: 'registers a model directory of the server machine (admin token)' })
  import(@Ctx() ctx: RequestContext, @Body() dto: ImportModelDto) {
    return this.models.import(ctx, dto);
  }

  @Get()
  @ApiOperation({ summary: 'List registered models', description: 'Admin token.' })
  list(@Ctx() ctx: RequestContext) {
    return this.models.list(ctx);
  }
}
