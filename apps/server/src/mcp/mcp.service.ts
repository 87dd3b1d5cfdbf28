import { Injectable, Logger } from '@nestjs/common';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Request, Response } from 'express';
import { ChatCompletionService, CubeService, EngramError, ErrorCode, MemoryService, RequestContext, SearchService } from '@engram/core';
import { createEngramMcpServer, EngramMcpServices } from './engram-mcp.server';

/**
 * Streamable HTTP MCP at /mcp, stateless: each POST gets a server bound to the caller's
 * credentials (already checked by the auth guard) and answers in JSON. No session state
 * means any replica can answer any request.
 */
@Injectable()
export class McpService {
  private readonly logger = new Logger('Mcp');
  private readonly services: EngramMcpServices;

  constructor(cubes: CubeService, memories: MemoryService, searcher: SearchService, chat: ChatCompletionService) {
    this.services = { cubes, memories, searcher, chat, log: (error) => this.logger.error({ err: error }, 'MCP tool failed') };
  }

  async handle(ctx: RequestContext, req: Request, res: Response, cube: string | undefined): Promise<void> {
    if (cube !== undefined && (typeof cube !== 'string' || !/\S/.test(cube) || cube.length > 200)) {
      throw EngramError.validation([{ field: 'cube', problems: ['cube must be a cube id or name'] }]);
    }
    const server = createEngramMcpServer(this.services, ctx, cube?.trim() ?? null);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    // The transport reads `req.auth` as MCP AuthInfo; engram's own is in ctx, so hide it.
    await transport.handleRequest(Object.assign(req, { auth: undefined }), res, req.body);
  }

  /** Stateless servers have no standalone SSE stream and no session to delete. */
  refuse(): never {
    throw new EngramError(ErrorCode.MethodNotAllowed, 'this MCP endpoint is stateless: POST JSON-RPC messages to /mcp');
  }
}
