export * from './bootstrap';
export * from './app.module';
export { MCP_TOOL_NAMES } from './mcp/engram-mcp.server';
