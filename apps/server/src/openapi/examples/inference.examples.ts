// Examples of the OpenAPI document (ADR 0507). KV caches, parametric banks and chat completions.
// Each is checked against its schema by test/openapi.e2e-spec.ts.
import type { OperationExamples } from './operation-examples';

const BANK_ID = '6f1c2a9e-4b1d-4c55-9a77-2d8f0e3b9c41';
const CUBE_ID = 'c0a8f3e2-5b7d-4e1a-9f3c-2d6b8e4a1f07';
const MEMORY_ID = '3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13';
const JOB_ID = 'e5b3a7c9-1d2f-4e6a-b8c0-3f9d1a5e7b24';
const WRITTEN_AT = '2026-11-29T10:15:00.000Z';

const bank = {
  id: BANK_ID,
  cubeId: CUBE_ID,
  model: 'tiny',
  modelFingerprint: '5f0c3e1a9d7b2c4e',
  embedderFingerprint: 'hash-256-v1',
  levels: 2,
  branching: 16,
  blockSizes: [64, 16],
  replay: { source: 'anchor', perStep: 8, weight: 20, samples: 128 },
  state: 'ready',
  progress: { phase: 'written', memories: 1, finalLoss: 0.41 },
  generation: 7,
  jobId: JOB_ID,
  error: null,
  createdAt: '2026-11-28T16:02:11.000Z',
};
const levels = [
  { level: 1, rank: 64, nodes: 16, treeNodes: 14, writtenBlocks: 9, staleBlocks: 1, blockParameters: 98304 },
  { level: 2, rank: 16, nodes: 256, treeNodes: 131, writtenBlocks: 40, staleBlocks: 2, blockParameters: 24576 },
];

export const INFERENCE_EXAMPLES: Record<string, OperationExamples> = {
  // POST /v1/cubes/{cubeId}/kv-caches
  KvCacheController_create: {
    request: { model: "tiny", memoryIds: ["3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13"] },
    responses: {
      "201": {
        id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
        cubeId: "c0a8f3e2-5b7d-4e1a-9f3c-2d6b8e4a1f07",
        model: "tiny",
        modelFingerprint: "5f0c3e1a9d7b2c4e",
        tokens: 24,
        bytes: 6144,
        tier: "ram",
        sourceMemoryIds: ["3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13"],
        createdAt: "2026-11-29T10:15:00.000Z",
      },
    },
  },
  // GET /v1/cubes/{cubeId}/kv-caches
  KvCacheController_list: {
    responses: {
      "200": {
        items: [
          {
            id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            cubeId: "c0a8f3e2-5b7d-4e1a-9f3c-2d6b8e4a1f07",
            model: "tiny",
            modelFingerprint: "5f0c3e1a9d7b2c4e",
            tokens: 24,
            bytes: 6144,
            tier: "ram",
            sourceMemoryIds: ["3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13"],
            createdAt: "2026-11-29T10:15:00.000Z",
          },
        ],
        hitRates: {
          hits: {"ram":41,"disk":6,"object":0},
          misses: 3,
          lookups: 50,
          hitRate: 0.94,
          since: "2026-11-29T09:00:00.000Z",
        },
      },
    },
  },
  // DELETE /v1/cubes/{cubeId}/kv-caches/{cacheId}
  KvCacheController_delete: {},
  // POST /v1/cubes/{cubeId}/banks
  BankController_create: {
    request: { model: 'tiny', levels: 2, branching: 16, blockSizes: [64, 16] },
    responses: { 202: { bankId: BANK_ID, jobId: JOB_ID, state: 'building' } },
  },
  // GET /v1/cubes/{cubeId}/banks
  BankController_list: { responses: { 200: { items: [bank] } } },
  // GET /v1/cubes/{cubeId}/banks/{bankId}
  BankController_get: {
    responses: { 200: { ...bank, occupancy: { levels, texts: 2140, deleted: 3, fileBytes: 50331648, parameters: 7864320 } } },
  },
  // DELETE /v1/cubes/{cubeId}/banks/{bankId}
  BankController_delete: {},
  // GET /v1/cubes/{cubeId}/banks/{bankId}/blocks
  BankController_blockMap: {
    responses: {
      200: {
        bankId: BANK_ID,
        generation: 7,
        levels,
        blocks: [
          { level: 1, node: 0, writes: 4, memories: 310, stale: false, locked: false, generation: 7, writtenAt: WRITTEN_AT },
          { level: 1, node: 3, writes: 1, memories: 122, stale: true, locked: false, generation: 5, writtenAt: '2026-11-29T08:40:00.000Z' },
          { level: 2, node: 17, writes: 2, memories: 24, stale: false, locked: true, generation: 6, writtenAt: '2026-11-29T09:05:00.000Z' },
        ],
      },
    },
  },
  // GET /v1/cubes/{cubeId}/banks/{bankId}/blocks/{level}/{node}
  BankController_block: {
    responses: {
      200: { bankId: BANK_ID, level: 1, node: 0, rank: 64, written: true, locked: false, stale: false, memoryIds: [MEMORY_ID], generation: 7, steps: 40, finalLoss: 0.41, writtenAt: WRITTEN_AT },
    },
  },
  // POST /v1/cubes/{cubeId}/banks/{bankId}/write
  BankController_write: {
    request: { memoryIds: [MEMORY_ID], rewriteStale: true, epochs: 4 },
    responses: { 202: { bankId: BANK_ID, jobId: JOB_ID, state: 'building' } },
  },
  // POST /v1/chat/completions
  ChatController_complete: {
    request: {
      model: 'tiny',
      messages: [{ role: 'user', content: 'What should I avoid ordering for Alice?' }],
      max_tokens: 64,
      engram: { cubeId: CUBE_ID, retrieve: { topK: 5 } },
    },
    responses: {
      200: {
        'application/json': {
          id: 'chatcmpl-5d1c7e9f0a13',
          object: 'chat.completion',
          created: 1795947300,
          model: 'tiny',
          choices: [{ index: 0, message: { role: 'assistant', content: 'Avoid anything with peanuts: Alice is allergic to them.' }, finish_reason: 'stop', logprobs: null }],
          usage: { prompt_tokens: 61, completion_tokens: 12, total_tokens: 73, prompt_tokens_details: { cached_tokens: 32 } },
          engram: { cubeId: CUBE_ID, memoryIds: [MEMORY_ID], cachedTokens: 32, tiers: ['ram', 'ram'] },
        },
        'text/event-stream':
          'data: {"id":"chatcmpl-5d1c7e9f0a13","object":"chat.completion.chunk","created":1795947300,"model":"tiny","choices":[{"index":0,"delta":{"role":"assistant","content":"Avoid"},"finish_reason":null,"logprobs":null}]}\n\n' +
          'data: {"id":"chatcmpl-5d1c7e9f0a13","object":"chat.completion.chunk","created":1795947300,"model":"tiny","choices":[{"index":0,"delta":{},"finish_reason":"stop","logprobs":null}]}\n\n' +
          'data: [DONE]\n\n',
      },
    },
  },
};
