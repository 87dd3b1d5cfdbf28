import { Command } from 'commander';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  CallToolRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { ClientEnv, remoteOptions } from './remote.options';
import { isNetworkFailure, ServerUnreachableError } from './server-unreachable.error';

/**
 * `engram mcp`: MCP over stdio for desktop agents, proxied to a running engram's /mcp
 * (ADR 0502). The tools, their schemas and their errors are the server's own, so stdio
 * and HTTP cannot drift apart; the key never leaves this process except to engram.
 */
/** How long the proxy waits for one tool call (the MCP SDK's default is 60 s). */
export const TOOL_CALL_TIMEOUT_MS = 15 * 60_000;

export async function serveMcpOverStdio(url: string, key: string, cube: string | undefined): Promise<void> {
  const endpoint = new URL('mcp', url.endsWith('/') ? url : `${url}/`);
  if (cube) endpoint.searchParams.set('cube', cube);
  const upstream = new Client({ name: 'engram-stdio-proxy', version: '0.1.0' });
  try {
    await upstream.connect(new StreamableHTTPClientTransport(endpoint, { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
  } catch (error) {
    throw isNetworkFailure(error) ? new ServerUnreachableError(url, error) : error;
  }
  const info = upstream.getServerVersion() ?? { name: 'engram', version: '0.1.0' };
  const server = new Server({ name: info.name, version: info.version }, { capabilities: { tools: {}, resources: {} }, instructions: upstream.getInstructions() });
  server.setRequestHandler(ListToolsRequestSchema, (request) => relay(upstream.listTools(request.params)));
  // A chat on a local model can run for minutes: the SDK's 60 s default would cut it here; the agent's own cancel still reaches the server.
  server.setRequestHandler(CallToolRequestSchema, (request, extra) => relay(upstream.callTool(request.params, undefined, { timeout: TOOL_CALL_TIMEOUT_MS, signal: extra.signal })));
  server.setRequestHandler(ListResourcesRequestSchema, (request) => relay(upstream.listResources(request.params)));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, (request) => relay(upstream.listResourceTemplates(request.params)));
  server.setRequestHandler(ReadResourceRequestSchema, (request) => relay(upstream.readResource(request.params)));
  server.onclose = () => void upstream.close();
  await server.connect(new StdioServerTransport());
}

/**
 * The server's JSON-RPC error as the server sent it: same code, data and message. (The
 * client's McpError reads "MCP error N: …"; relayed as it is, the stdio client would show
 * "MCP error N: MCP error N: …".)
 */
export function relay<T>(answer: Promise<T>): Promise<T> {
  return answer.catch((error: unknown) => {
    if (!(error instanceof McpError)) throw error;
    throw Object.assign(new Error(error.message.replace(/^MCP error -?\d+: /, '')), { code: error.code, data: error.data });
  });
}

export function registerMcpCommand(program: Command, env: () => ClientEnv): void {
  remoteOptions(program.command('mcp'))
    .description('serve engram\'s MCP tools over stdio, proxied to a running engram (for desktop agents)')
    .option('--cube <idOrName>', 'fix the cube for every tool call (id or name)')
    .action(async (options: { url?: string; key?: string; cube?: string }) => {
      const { url, key } = resolveRemote(options, env());
      await serveMcpOverStdio(url, key, options.cube);
    });
}

export function resolveRemote(options: { url?: string; key?: string }, env: ClientEnv): { url: string; key: string } {
  const url = options.url ?? env.url;
  const key = options.key ?? env.key;
  if (!url) throw new Error('give --url or set ENGRAM_URL (e.g. http://127.0.0.1:8080)');
  // "localhost:8080" parses as a URL of scheme "localhost:" and then fails as "engram unreachable".
  let protocol: string | null = null;
  try {
    protocol = new URL(url).protocol;
  } catch {
    // named below
  }
  if (protocol !== 'http:' && protocol !== 'https:') throw new Error(`--url / ENGRAM_URL "${url}" is not an http(s) URL: write it in full, e.g. http://${url.replace(/^[a-z]+:\/\//i, '')}`);
  if (!key) throw new Error('give --key or set ENGRAM_API_KEY');
  return { url, key };
}
