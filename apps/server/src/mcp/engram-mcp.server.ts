import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import {
  AddMemoriesDto,
  AddMessagesDto,
  ChatCompletionRequestDto,
  ChatCompletionService,
  CubeListQueryDto,
  CubeService,
  EngramError,
  ErrorCode,
  MemoryListQueryDto,
  MemoryService,
  Permission,
  RequestContext,
  SearchDto,
  SearchService,
  UpdateMemoryDto,
} from '@engram/core';
import { checkedCubeRef, resourceError, runTool, toDto } from './mcp-tool.runner';
import { MemoryId } from '../http/id.pipe';

/**
 * engram's MCP tool set (ADR 0502). Every tool calls the same service as the REST route,
 * with the caller's own RequestContext, so scopes, cube lists and tenant isolation are the
 * REST rules by construction. Argument names are snake_case like the mem0/OpenMemory
 * tools agents already know; memory fields inside keep the REST names.
 */

export interface EngramMcpServices {
  cubes: CubeService;
  memories: MemoryService;
  searcher: SearchService;
  chat: ChatCompletionService;
  log: (error: unknown) => void;
}

export const MCP_TOOL_NAMES = ['list_cubes', 'add_memories', 'search_memories', 'get_memory', 'update_memory', 'delete_memory', 'list_memories', 'add_messages', 'chat'] as const;

/**
 * Any JSON object (metadata, filters). Not z.record: its JSON Schema carries
 * `propertyNames`, which Gemini's function calling refuses ("Unknown name propertyNames",
 * INVALID_ARGUMENT), so agents on Gemini could not load engram's tools at all.
 */
const jsonObject = () => z.looseObject({});

const cubeArg = z
  .string()
  .min(1)
  .max(200)
  .optional()
  .describe('The cube (memory space) to use: its id or its name. Omit it when the connection fixes the cube (the key reaches one cube, or the URL has ?cube=).');

const memoryIdArg = z.string().describe('The memory id (a UUID) as returned by add_memories, search_memories or list_memories.');

const memoryInput = z.object({
  text: z.string().describe('The memory itself, one self-contained statement ("Alice prefers window seats").'),
  kind: z.enum(['fact', 'episode', 'preference', 'procedure', 'message']).optional().describe('What sort of memory it is; default fact.'),
  tags: z.array(z.string()).optional().describe('Short labels to filter on later.'),
  metadata: jsonObject().optional().describe('Any JSON attributes to filter on later (e.g. { "project": "apollo" }).'),
  importance: z.number().optional().describe('0..1; higher ranks higher in search.'),
  observedAt: z.string().optional().describe('ISO-8601 time when this was said or learned.'),
  validFrom: z.string().optional().describe('ISO-8601 time from which it is true in the world.'),
  validTo: z.string().optional().describe('ISO-8601 time until which it is true in the world.'),
});

const chatMessage = z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() });

/** Returns a fresh server bound to one caller (MCP over HTTP is stateless here: one per request). */
export function createEngramMcpServer(services: EngramMcpServices, ctx: RequestContext, fixedCube: string | null): McpServer {
  const server = new McpServer(
    { name: 'engram', version: '0.1.0' },
    {
      instructions:
        'engram stores long-term memories in cubes (one per end user or topic). Search before answering questions about the user; add memories when the user shares facts or preferences or asks you to remember something.',
    },
  );
  const { cubes, memories, searcher, chat, log } = services;
  const tool = (body: () => Promise<unknown>) => runTool(body, log);

  /** The cube id a tool acts on: the argument, else the connection's fixed cube, else the key's only cube. */
  const cubeOf = async (permission: Permission, cube: string | undefined): Promise<string> => {
    const ref = cube ?? fixedCube ?? (ctx.auth.kind === 'key' && ctx.auth.cubeIds?.length === 1 ? ctx.auth.cubeIds[0] : undefined);
    if (ref === undefined) throw EngramError.validation([{ field: 'cube', problems: ['cube is required: give the id or name of a cube (see list_cubes)'] }]);
    return cubes.resolveId(ctx, permission, checkedCubeRef(ref));
  };

  server.registerTool(
    'list_cubes',
    {
      title: 'List cubes',
      description: 'List the memory cubes this key can reach (id, name, description). Use it to find the cube to pass to the other tools.',
      inputSchema: { name: z.string().optional().describe('Only the cube with exactly this name.'), cursor: z.string().optional().describe('nextCursor of the previous page.') },
      annotations: { readOnlyHint: true },
    },
    ({ name, cursor }) => tool(async () => cubes.list(ctx, await toDto(CubeListQueryDto, { name, cursor, limit: 100 }))),
  );

  server.registerTool(
    'add_memories',
    {
      title: 'Add memories',
      description:
        'Store new long-term memories in a cube. Call it whenever the user shares a fact, preference or plan, or asks you to remember something. Give `text` for one memory or `memories` for several (up to 1000), each a self-contained statement.',
      inputSchema: { cube: cubeArg, text: z.string().optional().describe('One memory to store (shortcut for memories: [{ text }]).'), memories: z.array(memoryInput).optional().describe('Several memories, stored all or nothing, in order.') },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    },
    ({ cube, text, memories: items }) =>
      tool(async () => {
        const cubeId = await cubeOf(Permission.MemoryWrite, cube);
        if ((text === undefined) === (items === undefined)) throw EngramError.validation([{ field: 'text', problems: ['give either text or memories'] }]);
        const dto = await toDto(AddMemoriesDto, { items: items ?? [{ text }] });
        return (await memories.add(ctx, cubeId, dto)).body;
      }),
  );

  server.registerTool(
    'search_memories',
    {
      title: 'Search memories',
      description:
        'Find the memories most relevant to a question (hybrid semantic + keyword search). Call it before answering anything that may depend on what you know about the user or topic. Returns results best first, each with a score.',
      inputSchema: {
        cube: cubeArg,
        query: z.string().describe('What you want to know, in natural language.'),
        top_k: z.number().int().optional().describe('How many results (1..200, default 10).'),
        filters: jsonObject().optional().describe('Optional: kind, tags ({ any } | { all } | [..]), metadata ({ key: value }), state, observedAfter, observedBefore, validAt, sessionId.'),
        explain: z.boolean().optional().describe('Include how each score was made (dense, lexical, priors).'),
      },
      annotations: { readOnlyHint: true },
    },
    ({ cube, query, top_k, filters, explain }) =>
      tool(async () => searcher.search(ctx, await cubeOf(Permission.MemoryRead, cube), await toDto(SearchDto, { query, topK: top_k, filters, explain }))),
  );

  server.registerTool(
    'get_memory',
    {
      title: 'Get a memory',
      description: 'Read one memory by id with all its fields (state, version, validity, source).',
      inputSchema: { cube: cubeArg, memory_id: memoryIdArg },
      annotations: { readOnlyHint: true },
    },
    ({ cube, memory_id }) => tool(async () => memories.get(ctx, await cubeOf(Permission.MemoryRead, cube), MemoryId.transform(memory_id))),
  );

  server.registerTool(
    'update_memory',
    {
      title: 'Update a memory',
      description: 'Correct or refine a memory. The old text is kept in its version history; say why in `reason`.',
      inputSchema: {
        cube: cubeArg,
        memory_id: memoryIdArg,
        text: z.string().optional().describe('The new text.'),
        tags: z.array(z.string()).optional().describe('Replaces the tags.'),
        metadata: jsonObject().optional().describe('Replaces the metadata.'),
        importance: z.number().optional().describe('0..1.'),
        reason: z.string().optional().describe('Why it changed (kept in the history).'),
        expected_version: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe('The memory\'s "version" as you last read it: the update then applies only if nobody changed it since, else precondition_failed with the current version (read it again and reapply).'),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
    },
    ({ cube, memory_id, text, tags, metadata, importance, reason, expected_version }) =>
      tool(async () =>
        memories.update(ctx, await cubeOf(Permission.MemoryWrite, cube), MemoryId.transform(memory_id), await toDto(UpdateMemoryDto, { text, tags, metadata, importance, reason }), { expectedVersion: expected_version }),
      ),
  );

  server.registerTool(
    'delete_memory',
    {
      title: 'Delete a memory',
      description: 'Delete a memory that is wrong or that the user asked to forget. It disappears from search at once.',
      inputSchema: { cube: cubeArg, memory_id: memoryIdArg },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
    },
    ({ cube, memory_id }) =>
      tool(async () => {
        await memories.delete(ctx, await cubeOf(Permission.MemoryWrite, cube), MemoryId.transform(memory_id));
        return { deleted: memory_id };
      }),
  );

  server.registerTool(
    'list_memories',
    {
      title: 'List memories',
      description: 'Page through the memories of a cube, oldest first (in the order they were stored), optionally filtered. Use search_memories to find memories about something.',
      inputSchema: {
        cube: cubeArg,
        limit: z.number().int().optional().describe('Page size (1..500, default 50).'),
        cursor: z.string().optional().describe('nextCursor of the previous page.'),
        kind: z.string().optional().describe('Comma-separated kinds.'),
        tags: z.string().optional().describe('Comma-separated tags (any of them).'),
        state: z.string().optional().describe('Comma-separated states (default active).'),
      },
      annotations: { readOnlyHint: true },
    },
    ({ cube, limit, cursor, kind, tags, state }) =>
      tool(async () => memories.list(ctx, await cubeOf(Permission.MemoryRead, cube), await toDto(MemoryListQueryDto, { limit, cursor, kind, tags, state }))),
  );

  server.registerTool(
    'add_messages',
    {
      title: 'Add conversation messages',
      description: 'Store conversation turns as they were said (role + content), filed under an optional session id. Use it to keep the raw conversation; use add_memories for distilled facts.',
      inputSchema: {
        cube: cubeArg,
        messages: z.array(z.object({ role: z.string(), content: z.string(), name: z.string().optional(), at: z.string().optional().describe('ISO-8601 time of the turn.') })),
        session_id: z.string().optional().describe('The conversation these turns belong to.'),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    },
    ({ cube, messages, session_id }) =>
      tool(async () => (await memories.addMessages(ctx, await cubeOf(Permission.MemoryWrite, cube), await toDto(AddMessagesDto, { messages, sessionId: session_id }))).body),
  );

  server.registerTool(
    'chat',
    {
      title: 'Chat with memory',
      description:
        "Answer with one of engram's local models, grounded in the cube's memories: the memories most relevant to the last user message are searched and placed before the conversation.",
      inputSchema: {
        cube: cubeArg,
        model: z.string().describe('Name of a model registered on this engram server.'),
        messages: z.array(chatMessage).min(1).describe('The conversation so far; the last message is usually the user.'),
        memory_top_k: z.number().int().optional().describe('How many memories to put in front (0..50, default 5; 0: none).'),
        max_tokens: z.number().int().optional().describe('Most tokens to generate.'),
        temperature: z.number().optional(),
      },
      annotations: { readOnlyHint: true },
    },
    ({ cube, model, messages, memory_top_k, max_tokens, temperature }) =>
      tool(async () => {
        const cubeId = await cubeOf(Permission.ModelUse, cube);
        const topK = memory_top_k ?? 5;
        if (!Number.isInteger(topK) || topK < 0 || topK > 50) throw EngramError.validation([{ field: 'memory_top_k', problems: ['memory_top_k must be an integer from 0 to 50'] }]);
        // The server's own retrieval, as REST chat with engram.cubeId: the memories go into the
        // prompt once (they used to be searched here and sent as memoryText as well), and the
        // cube's working-memory cache and bank stay in play (memoryText turns both off).
        const dto = await toDto(ChatCompletionRequestDto, { model, messages, max_tokens, temperature, engram: { cubeId, retrieve: topK === 0 ? false : { topK } } });
        const answer = await chat.complete(ctx, dto);
        const used = answer.engram.retrieval?.memoryIds ?? [];
        // Chat needs inference:run alone, as REST; the texts of the memories it used are a
        // read on top (memories:read): a key without it gets their ids, as REST answers.
        // A memory deleted since the prompt was built has no text left to show.
        const texts = await Promise.all(
          used.map(async (id) => {
            try {
              return { id, text: (await memories.get(ctx, cubeId, id)).text };
            } catch (error) {
              if (error instanceof EngramError && (error.code === ErrorCode.Forbidden || error.code === ErrorCode.NotFound)) return { id };
              throw error;
            }
          }),
        );
        return { answer: answer.choices[0]?.message.content ?? '', finish_reason: answer.choices[0]?.finish_reason ?? null, memories: texts, usage: answer.usage };
      }),
  );

  server.registerResource(
    'cube-overview',
    new ResourceTemplate('engram://cubes/{cube}', {
      list: async () => {
        try {
          const page = await cubes.list(ctx, { limit: 100 });
          return { resources: page.items.map((c) => ({ uri: `engram://cubes/${c.id}`, name: c.name, description: c.description ?? undefined, mimeType: 'application/json' })) };
        } catch (error) {
          // A key that may not read cubes (inference:run alone) has no overviews to list;
          // clients list resources on connect, and an error there reads as a broken server.
          if (error instanceof EngramError && error.code === ErrorCode.Forbidden) return { resources: [] };
          throw resourceError(error, 'engram://cubes', log);
        }
      },
    }),
    { title: 'Cube overview', description: 'A cube with its settings and memory counts by kind and state.', mimeType: 'application/json' },
    async (uri, variables) => {
      try {
        let ref: string;
        try {
          ref = decodeURIComponent(String(variables.cube));
        } catch {
          throw EngramError.validation([{ field: 'uri', problems: ['the cube in the URI is not valid percent-encoding (UTF-8)'] }]);
        }
        const stats = await cubes.stats(ctx, await cubes.resolveId(ctx, Permission.CubeRead, checkedCubeRef(ref)));
        return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(stats, null, 2) }] };
      } catch (error) {
        throw resourceError(error, uri.href, log);
      }
    },
  );

  return server;
}
