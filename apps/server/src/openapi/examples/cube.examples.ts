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
