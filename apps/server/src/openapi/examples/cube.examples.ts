// Examples of the OpenAPI document (ADR 0507). Cubes, their archives and their lifecycle policy, events and runs.
// Each is checked against its schema by test/openapi.e2e-spec.ts.
import type { OperationExamples } from './operation-examples';

export const CUBE_EXAMPLES: Record<string, OperationExamples> = {
  // POST /v1/cubes
  CubeController_create: {
    request: { name: "user-42", description: "Memories of end user 42", ifExists: "return" },
    responses: {
      "200": {
        id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
        name: "user-42",
        description: "Memories of end user 42",
        settings: { embedder: "use-lite" },
        createdAt: "2026-11-29T10:15:00.000Z",
        updatedAt: "2026-11-29T10:15:00.000Z",
      },
      "201": {
        id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
        name: "user-42",
        description: "Memories of end user 42",
        settings: { embedder: "use-lite" },
        createdAt: "2026-11-29T10:15:00.000Z",
        updatedAt: "2026-11-29T10:15:00.000Z",
      },
    },
  },
  // GET /v1/cubes
  CubeController_list: {
    responses: {
      "200": {
        items: [
          {
            id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            name: "user-42",
            description: "Memories of end user 42",
            settings: { embedder: "use-lite" },
            createdAt: "2026-11-29T10:15:00.000Z",
            updatedAt: "2026-11-29T10:15:00.000Z",
          },
        ],
        nextCursor: "eyJjIjoiMjAyNi0xMS0yOVQxMDoxNTowMC4wMDBaIn0",
      },
    },
  },
  // GET /v1/cubes/{cubeId}
  CubeController_get: {
    responses: {
      "200": {
        id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
        name: "user-42",
        description: "Memories of end user 42",
        settings: { embedder: "use-lite" },
        createdAt: "2026-11-29T10:15:00.000Z",
        updatedAt: "2026-11-29T10:15:00.000Z",
      },
    },
  },
  // PATCH /v1/cubes/{cubeId}
  CubeController_update: {
    request: { description: "Memories of end user 42 (support desk)" },
    responses: {
      "200": {
        id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
        name: "user-42",
        description: "Memories of end user 42",
        settings: { embedder: "use-lite" },
        createdAt: "2026-11-29T10:15:00.000Z",
        updatedAt: "2026-11-29T10:15:00.000Z",
      },
    },
  },
  // DELETE /v1/cubes/{cubeId}
  CubeController_delete: {"responses":{"202":{"purgeJobId":"e5b3a7c9-1d2f-4e6a-b8c0-3f9d1a5e7b24"}}},
  // GET /v1/cubes/{cubeId}/stats
  CubeController_stats: {
    responses: {
      "200": {
        cube: {
          id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
          name: "user-42",
          description: "Memories of end user 42",
          settings: { embedder: "use-lite" },
          createdAt: "2026-11-29T10:15:00.000Z",
          updatedAt: "2026-11-29T10:15:00.000Z",
        },
        memories: {"total":12,"byKind":{"fact":12,"message":40},"byState":{"active":50,"archived":2}},
      },
    },
  },
  // GET /v1/cubes/{cubeId}/export
  CubeArchiveController_export: {},
  // POST /v1/cubes/import
  CubeArchiveController_import: {
    responses: {
      "201": {
        cube: {
          id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
          name: "user-42",
          description: "Memories of end user 42",
          settings: { embedder: "use-lite" },
          createdAt: "2026-11-29T10:15:00.000Z",
          updatedAt: "2026-11-29T10:15:00.000Z",
        },
        counts: {
          memories: 12,
          versions: 12,
          lifecycleEvents: 12,
          vectorsReused: 12,
          reembedded: 12,
          kvCaches: 12,
          banks: 12,
        },
        skipped: [{"part":"dense","reason":"she said so"}],
      },
    },
  },
  // GET /v1/cubes/{cubeId}/overview
  CubeController_overview: {
    responses: {
      "200": {
        cubeId: "c0a8f3e2-5b7d-4e1a-9f3c-2d6b8e4a1f07",
        memories: { total: 1204, byState: { active: 1100, merged: 60, superseded: 30, deleted: 14 }, activeByKind: { fact: 800, message: 300 }, pinned: 3, textBytes: 96000 },
        heat: {
          formula: "(1 + ln(1 + accessCount)) × ½^(days since last access / 7) × (0.5 + importance)",
          buckets: [
            { min: 0, max: 0.25, count: 310 },
            { min: 0.25, max: 0.5, count: 220 },
            { min: 0.5, max: 1, count: 400 },
            { min: 1, max: 2, count: 120 },
            { min: 2, max: 4, count: 40 },
            { min: 4, max: null, count: 10 },
          ],
        },
        activation: {
          bytesByTier: { ram: 1035264, disk: 0, object: 0, missing: 0 },
          kvCaches: 0,
          workingMemory: {
            state: "ready",
            model: "tiny",
            cacheId: "0b5e1f7a9c3d4e2f8a6b0c1d2e3f4a5b",
            tier: "ram",
            generation: 3,
            memories: 18,
            tokens: 1011,
            maxTokens: 1024,
            bytes: 1035264,
            builtAt: "2026-11-29T10:15:00.000Z",
            lastUsedAt: "2026-11-29T10:20:00.000Z",
            staleSince: null,
            lastBuild: { reusedTokens: 768, prefilledTokens: 243, ms: 180 },
            overQuota: null,
          },
        },
        banks: [
          {
            id: "6f1c2a9e-4b1d-4c55-9a77-2d8f0e3b9c41",
            state: "ready",
            generation: 2,
            levels: [
              { level: 1, blocks: 4, written: 4, stale: 0 },
              { level: 2, blocks: 16, written: 9, stale: 1 },
            ],
            occupancy: 0.65,
            staleness: 0.0769,
          },
        ],
        scheduler: {
          pendingChanges: 0,
          lastLifecycleEventAt: "2026-11-29T10:14:00.000Z",
          lastSweepAt: "2026-11-29T10:10:00.000Z",
          lastRuns: [{ id: "9c7e1f3a-5b2d-4a6c-8e0f-1d3b5a7c9e62", status: "done", actions: 4, createdAt: "2026-11-29T10:00:00.000Z", finishedAt: "2026-11-29T10:00:02.000Z", error: null }],
          openJobs: [{ id: "e5b3a7c9-1d2f-4e6a-b8c0-3f9d1a5e7b24", name: "activation.refresh", state: "queued", attempts: 0, lastError: null, runAfter: "2026-11-29T10:15:02.000Z" }],
        },
      },
    },
  },
  // GET /v1/cubes/{cubeId}/lifecycle
  LifecycleController_getPolicy: {"responses":{"200":{"effective":{},"overrides":{},"inherited":{}}}},
  // PUT /v1/cubes/{cubeId}/lifecycle
  LifecycleController_putPolicy: {"request":{},"responses":{"200":{"effective":{},"overrides":{},"inherited":{}}}},
  // GET /v1/cubes/{cubeId}/lifecycle/events
  LifecycleController_events: {
    responses: {
      "200": {
        items: [
          {
            id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            action: "memory.create",
            memoryIds: ["3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13"],
            reason: { similarity: 0.97, rule: "near-duplicate" },
            actorType: "api_key",
            actorId: "fuse",
            runId: "9c7e1f3a-5b2d-4a6c-8e0f-1d3b5a7c9e62",
            before: { state: "active" },
            after: { state: "merged", mergedInto: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13" },
            at: "2026-11-29T10:15:00.000Z",
          },
        ],
        nextCursor: "eyJjIjoiMjAyNi0xMS0yOVQxMDoxNTowMC4wMDBaIn0",
      },
    },
  },
  // POST /v1/cubes/{cubeId}/lifecycle/run
  LifecycleController_run: {
    request: { dryRun: true },
    responses: {
      "200": {
        actions: [
          {
            type: "merge",
            memoryIds: ["3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13"],
            targetId: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            reason: { similarity: 0.97, rule: "near-duplicate" },
            status: "applied",
            why: "a newer version of the memory exists",
          },
        ],
      },
      "202": {"runId":"9c7e1f3a-5b2d-4a6c-8e0f-1d3b5a7c9e62"},
    },
  },
  // GET /v1/cubes/{cubeId}/lifecycle/runs/{runId}
  LifecycleController_getRun: {
    responses: {
      "200": {
        runId: "9c7e1f3a-5b2d-4a6c-8e0f-1d3b5a7c9e62",
        status: "queued",
        actions: [
          {
            type: "merge",
            memoryIds: ["3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13"],
            targetId: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            reason: { similarity: 0.97, rule: "near-duplicate" },
            status: "applied",
            why: "a newer version of the memory exists",
          },
        ],
        createdAt: "2026-11-29T10:15:00.000Z",
        finishedAt: "2026-11-29T10:15:04.000Z",
      },
    },
  },
};
