import { Controller, Get, Param, Post, Query, Req, Res, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CubeExportQueryDto, CubeExportService, CubeImportQueryDto, CubeImportResultDto, CubeImportService, RequestContext } from '@engram/core';
import { CubeId } from '../http/id.pipe';
import { Ctx } from '../http/request-context.decorator';

/** Aborts when the client disconnects before the whole response was sent (also before the handler ran). */
function clientGone(res: Response): AbortSignal {
  const abort = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  if (res.req.socket?.destroyed) onClose();
  else res.once('close', onClose);
  return abort.signal;
}

/** Portable cubes: one archive out, one archive in (docs/cube-archive.md). */
@ApiTags('cubes')
@ApiBearerAuth()
@Controller('v1/cubes')
export class CubeArchiveController {
  constructor(
    private readonly exports: CubeExportService,
    private readonly imports: CubeImportService,
  ) {}

  @Get(':cubeId/export')
  @ApiOperation({ summary: 'Export a cube as an archive (tar.gz)', description: 'Scope cubes:export.' })
  @ApiProduces('application/gzip')
  @ApiOkResponse({ description: 'the cube archive (tar.gz, manifest.json first), streamed; needs the scope cubes:export' })
  async export(@Ctx() ctx: RequestContext, @Param('cubeId', CubeId) cubeId: string, @Query() query: CubeExportQueryDto, @Res({ passthrough: true }) res: Response) {
    // Spooling a large cube takes a while before the first byte: a client that leaves meanwhile stops it.
    const archive = await this.exports.export(ctx, cubeId, query, clientGone(res));
    return new StreamableFile(archive.stream, { type: 'application/gzip', disposition: `attachment; filename="${archive.filename}"` });
  }

  @Post('import')
  @ApiOperation({ summary: 'Import a cube archive as a new cube', description: "Scopes cubes:write and memories:write; the archive's banks are imported only with banks:write." })
  @ApiConsumes('application/gzip')
  @ApiBody({ description: 'a cube archive as made by GET /v1/cubes/{id}/export, streamed (ENGRAM_IMPORT_LIMIT)', schema: { type: 'string', format: 'binary' } })
  @ApiCreatedResponse({ type: CubeImportResultDto })
  import(@Ctx() ctx: RequestContext, @Query() query: CubeImportQueryDto, @Req() req: Request) {
    return this.imports.import(ctx, query, req, req.headers['content-type'], req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : null);
  }
}
