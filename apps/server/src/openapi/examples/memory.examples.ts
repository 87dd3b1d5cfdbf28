// Examples of the OpenAPI document (ADR 0507). Memories: add, list, search, get, update, delete, restore, history, messages.
// Each is checked against its schema by test/openapi.e2e-spec.ts.
import type { OperationExamples } from './operation-examples';

/** The memory the examples show (a get answers it as is; other operations override fields). */
const MEMORY = {
  id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
  cubeId: "c0a8f3e2-5b7d-4e1a-9f3c-2d6b8e4a1f07",
  text: "Alice is allergic to peanuts.",
  kind: "fact",
  role: "user",
  tags: ["health","food"],
  metadata: {},
  source: {},
  observedAt: "2026-11-29T10:15:00.000Z",
  validFrom: "2026-11-29T10:15:00.000Z",
  validTo: null,
  importance: 0.5,
  state: "active",
  version: 1,
  createdAt: "2026-11-29T10:15:00.000Z",
  updatedAt: "2026-11-29T10:15:00.000Z",
  expiredAt: null,
  accessCount: 3,
  lastAccessedAt: "2026-11-29T10:15:00.000Z",
  pinned: false,
  expiresAt: null,
  mergedInto: null,
  supersededBy: null,
  fact: {"subject":"Alice","predicate":"is allergic to","object":"peanuts"},
  erasedAt: null,
  heat: 0.82,
};

export const MEMORY_EXAMPLES: Record<string, OperationExamples> = {
  // POST /v1/cubes/{cubeId}/memories
  MemoryController_add: {
    request: {
      items: [
        { text: "Alice is allergic to peanuts.", kind: "fact", tags: ["health", "food"] },
        { text: "Alice prefers aisle seats on long flights.", kind: "preference", tags: ["travel"], importance: 0.7 },
      ],
    },
    responses: {
      "201": {
        items: [
          {
            ...MEMORY,
            metadata: { channel: "chat" },
            source: { type: "conversation", sessionId: "session-2026-11-29", refs: ["msg-1042"] },
          },
        ],
      },
    },
  },
  // GET /v1/cubes/{cubeId}/memories
  MemoryController_list: {
    responses: {
      "200": {
        items: [
          {
            ...MEMORY,
            metadata: { channel: "chat" },
            source: { type: "conversation", sessionId: "session-2026-11-29", refs: ["msg-1042"] },
          },
        ],
        nextCursor: "eyJjIjoiMjAyNi0xMS0yOVQxMDoxNTowMC4wMDBaIn0",
      },
    },
  },
  // POST /v1/cubes/{cubeId}/messages
  MemoryController_addMessages: {
    request: {
      messages: [
        { role: "user", content: "I moved to Lyon last month." },
        { role: "assistant", content: "Noted: you live in Lyon now." },
      ],
    },
    responses: {
      "201": {
        ids: ["3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13"],
        items: [
          {
            ...MEMORY,
            metadata: { channel: "chat" },
            source: { type: "conversation", sessionId: "session-2026-11-29", refs: ["msg-1042"] },
          },
        ],
      },
    },
  },
  // POST /v1/cubes/{cubeId}/search
  MemoryController_search: {
    request: { query: "what is Alice allergic to?", topK: 5, filters: { kind: "fact", tags: { any: ["health"] } }, explain: true },
    responses: {
      "200": {
        results: [
          {
            id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            text: "Alice is allergic to peanuts.",
            kind: "fact",
            role: "user",
            score: 0.82,
            tags: ["health","food"],
            metadata: { channel: "chat" },
            source: { type: "conversation", sessionId: "session-2026-11-29", refs: ["msg-1042"] },
            observedAt: "2026-11-29T10:15:00.000Z",
            validFrom: "2026-11-29T10:15:00.000Z",
            validTo: null,
            explain: { dense: { similarity: 0.71 }, lexical: { bm25: 2.4 }, fusion: { combined: 0.79 }, priors: { importance: 0.5, recency: 0.93, timeIntent: 1 } },
          },
        ],
      },
    },
  },
  // GET /v1/cubes/{cubeId}/memories/{memoryId}
  MemoryController_get: {
    responses: {
      "200": {
        id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
        cubeId: "c0a8f3e2-5b7d-4e1a-9f3c-2d6b8e4a1f07",
        text: "Alice is allergic to peanuts.",
        kind: "fact",
        role: "user",
        tags: ["health","food"],
        metadata: {},
        source: {},
        observedAt: "2026-11-29T10:15:00.000Z",
        validFrom: "2026-11-29T10:15:00.000Z",
        validTo: null,
        importance: 0.5,
        state: "active",
        version: 1,
        createdAt: "2026-11-29T10:15:00.000Z",
        updatedAt: "2026-11-29T10:15:00.000Z",
        expiredAt: null,
        accessCount: 3,
        lastAccessedAt: "2026-11-29T10:15:00.000Z",
        pinned: false,
        expiresAt: null,
        mergedInto: null,
        supersededBy: null,
        fact: {"subject":"Alice","predicate":"is allergic to","object":"peanuts"},
        erasedAt: null,
        heat: 0.82,
      },
    },
  },
  // PATCH /v1/cubes/{cubeId}/memories/{memoryId}
  MemoryController_update: {
    request: { text: "Alice is allergic to peanuts and tree nuts.", reason: "she said so" },
    responses: {
      "200": {
        ...MEMORY,
        text: "Alice is allergic to peanuts and tree nuts.",
        version: 2,
        updatedAt: "2026-11-29T11:02:00.000Z",
      },
    },
  },
  // DELETE /v1/cubes/{cubeId}/memories/{memoryId}
  MemoryController_delete: {},
  // POST /v1/cubes/{cubeId}/memories/{memoryId}/restore
  MemoryController_restore: {
    responses: {
      "200": {
        ...MEMORY,
      },
    },
  },
  // GET /v1/cubes/{cubeId}/memories/{memoryId}/history
  MemoryController_history: {
    responses: {
      "200": {
        items: [
          {
            version: 1,
            action: "memory.create",
            actorType: "api_key",
            actorId: "1b9e4d7a-2c5f-4a83-9e6d-0f3b8a2c5d71",
            requestId: "req-8f3a2c",
            oldValues: {},
            newValues: {},
            reason: "she said so",
            at: "2026-11-29T10:15:00.000Z",
          },
        ],
      },
    },
  },
};
