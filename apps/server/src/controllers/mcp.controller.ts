import { Controller, Delete, Get, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { RequestContext } from '@engram/core';
import { McpService } from '../mcp/mcp.service';
import { Ctx } from '../http/request-context.decorator';

/** Model Context Protocol over streamable HTTP (ADR 0502); the same API keys as REST. */
@ApiExcludeController()
@Controller('mcp')
export class McpController {
  constructor(private readonly mcp: McpService) {}

  @Post()
  handle(@Ctx() ctx: RequestContext, @Req() req: Request, @Res() res: Response, @Query('cube') cube?: string) {
    return this.mcp.handle(ctx, req, res, cube);
  }

  @Get()
  stream() {
    return this.mcp.refuse();
  }

  @Delete()
  endSession() {
    return this.mcp.refuse();
  }
}
