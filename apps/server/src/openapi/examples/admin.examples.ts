// Examples of the OpenAPI document (ADR 0507). System and operator routes: health, tenants, keys, quotas, audit, models, scheduler and jobs.
// Each is checked against its schema by test/openapi.e2e-spec.ts.
import type { OperationExamples } from './operation-examples';

export const ADMIN_EXAMPLES: Record<string, OperationExamples> = {
  // GET /health
  SystemController_getHealth: {
    responses: {
      "200": {
        status: "ok",
        database: {"ok":false,"latencyMs":12},
        pool: {"total":12,"idle":12,"waiting":12,"max":12},
      },
    },
  },
  // POST /v1/admin/tenants
  AdminController_createTenant: {
    request: { name: "acme" },
    responses: {
      "201": {
        id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
        name: "user-42",
        createdAt: "2026-11-29T10:15:00.000Z",
        deletedAt: null,
      },
    },
  },
  // GET /v1/admin/tenants
  AdminController_listTenants: {
    responses: {
      "200": {
        items: [
          {
            id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            name: "user-42",
            createdAt: "2026-11-29T10:15:00.000Z",
            deletedAt: null,
          },
        ],
      },
    },
  },
  // DELETE /v1/admin/tenants/{tenantId}
  AdminController_offboardTenant: {
    responses: {
      "200": {
        tenantId: "7d2c9e41-3a6b-4f08-b5e1-9c4a2d7f6e38",
        keysRevoked: 12,
        cubeIds: ["c0a8f3e2-5b7d-4e1a-9f3c-2d6b8e4a1f07"],
        purgeJobIds: ["e5b3a7c9-1d2f-4e6a-b8c0-3f9d1a5e7b24"],
      },
    },
  },
  // GET /v1/admin/tenants/{tenantId}/quotas
  AdminController_getQuotas: {
    responses: {
      "200": {
        limits: {
          cubes: 12,
          memories: 12,
          kvBytes: 12,
          bankBytes: 12,
          concurrentJobs: 12,
          inferenceTokensPerMinute: 12,
        },
        overrides: {
          cubes: 12,
          memories: 12,
          kvBytes: 12,
          bankBytes: 12,
          concurrentJobs: 12,
          inferenceTokensPerMinute: 12,
        },
        usage: {
          cubes: 12,
          memories: 12,
          kvBytes: 12,
          bankBytes: 12,
          concurrentJobs: 12,
          inferenceTokensPerMinute: 12,
        },
      },
    },
  },
  // PUT /v1/admin/tenants/{tenantId}/quotas
  AdminController_setQuotas: {
    request: { memories: 500000, inferenceTokensPerMinute: 50000 },
    responses: {
      "200": {
        limits: {
          cubes: 12,
          memories: 12,
          kvBytes: 12,
          bankBytes: 12,
          concurrentJobs: 12,
          inferenceTokensPerMinute: 12,
        },
        overrides: {
          cubes: 12,
          memories: 12,
          kvBytes: 12,
          bankBytes: 12,
          concurrentJobs: 12,
          inferenceTokensPerMinute: 12,
        },
        usage: {
          cubes: 12,
          memories: 12,
          kvBytes: 12,
          bankBytes: 12,
          concurrentJobs: 12,
          inferenceTokensPerMinute: 12,
        },
      },
    },
  },
  // POST /v1/admin/tenants/{tenantId}/keys
  AdminController_createKey: {
    request: { name: "support-agent", scopes: ["memories:read", "memories:write", "inference:run"], cubeIds: ["c0a8f3e2-5b7d-4e1a-9f3c-2d6b8e4a1f07"] },
    responses: {
      "201": {
        id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
        name: "user-42",
        prefix: "egk_live_6Yq2",
        scopes: ["memories:read","memories:write"],
        cubeIds: ["c0a8f3e2-5b7d-4e1a-9f3c-2d6b8e4a1f07"],
        expiresAt: null,
        revokedAt: null,
        lastUsedAt: "2026-11-29T10:15:00.000Z",
        rateLimitPerMinute: 0.82,
        createdAt: "2026-11-29T10:15:00.000Z",
        key: "egk_live_6Yq2…(shown once)",
      },
    },
  },
  // GET /v1/admin/tenants/{tenantId}/keys
  AdminController_listKeys: {
    responses: {
      "200": {
        items: [
          {
            id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            name: "user-42",
            prefix: "egk_live_6Yq2",
            scopes: ["memories:read","memories:write"],
            cubeIds: ["c0a8f3e2-5b7d-4e1a-9f3c-2d6b8e4a1f07"],
            expiresAt: null,
            revokedAt: null,
            lastUsedAt: "2026-11-29T10:15:00.000Z",
            rateLimitPerMinute: 0.82,
            createdAt: "2026-11-29T10:15:00.000Z",
          },
        ],
      },
    },
  },
  // DELETE /v1/admin/tenants/{tenantId}/keys/{keyId}
  AdminController_revokeKey: {},
  // GET /v1/admin/audit
  AdminController_listAudit: {
    responses: {
      "200": {
        items: [
          {
            id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            at: "2026-11-29T10:15:00.000Z",
            requestId: "req-8f3a2c",
            actorType: "api_key",
            actorId: "1b9e4d7a-2c5f-4a83-9e6d-0f3b8a2c5d71",
            tenantId: "7d2c9e41-3a6b-4f08-b5e1-9c4a2d7f6e38",
            action: "memory.create",
            targetType: "memory",
            targetId: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            details: {},
          },
        ],
        nextCursor: "eyJjIjoiMjAyNi0xMS0yOVQxMDoxNTowMC4wMDBaIn0",
      },
    },
  },
  // GET /v1/admin/lifecycle-defaults
  AdminLifecycleController_getDefaults: {"responses":{"200":{"effective":{},"overrides":{},"inherited":{}}}},
  // PUT /v1/admin/lifecycle-defaults
  AdminLifecycleController_putDefaults: {"request":{},"responses":{"200":{"effective":{},"overrides":{},"inherited":{}}}},
  // GET /v1/admin/tenants/{tenantId}/lifecycle-defaults
  AdminLifecycleController_getTenantDefaults: {"responses":{"200":{"effective":{},"overrides":{},"inherited":{}}}},
  // PUT /v1/admin/tenants/{tenantId}/lifecycle-defaults
  AdminLifecycleController_putTenantDefaults: {"request":{},"responses":{"200":{"effective":{},"overrides":{},"inherited":{}}}},
  // GET /v1/admin/cubes
  AdminLifecycleController_listCubes: {
    responses: {
      "200": {
        items: [
          {
            id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            tenantId: "7d2c9e41-3a6b-4f08-b5e1-9c4a2d7f6e38",
            name: "user-42",
            createdAt: "2026-11-29T10:15:00.000Z",
            counts: {},
          },
        ],
        nextCursor: "eyJjIjoiMjAyNi0xMS0yOVQxMDoxNTowMC4wMDBaIn0",
      },
    },
  },
  // GET /v1/admin/cubes/{cubeId}/lifecycle/runs/{runId}
  AdminLifecycleController_getCubeRun: {
    responses: {
      "200": {
        runId: "9c7e1f3a-5b2d-4a6c-8e0f-1d3b5a7c9e62",
        status: "done",
        actions: [
          {
            type: "archive",
            memoryIds: ["3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13"],
            reason: { rule: "idle", idleDays: 400, limit: 365 },
            status: "applied",
            why: "not read for 400 days (the limit is 365)",
          },
        ],
        createdAt: "2026-11-29T10:15:00.000Z",
        finishedAt: "2026-11-29T10:15:04.000Z",
      },
    },
  },
  // POST /v1/admin/cubes/{cubeId}/lifecycle/run
  AdminLifecycleController_runCube: {
    request: { dryRun: true },
    responses: {
      "200": {
        actions: [
          {
            type: "merge",
            memoryIds: ["3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13"],
            targetId: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            reason: {},
            status: "applied",
            why: "a newer version of the memory exists",
          },
        ],
      },
      "202": {"runId":"9c7e1f3a-5b2d-4a6c-8e0f-1d3b5a7c9e62"},
    },
  },
  // GET /v1/admin/scheduler
  AdminLifecycleController_scheduler: {
    responses: {
      "200": {
        paused: {"global":false,"tenants":["3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13"]},
        jobs: {},
        queueLag: [{"name":"user-42","oldestWaitingMs":12}],
        failures: [
          {
            id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            name: "user-42",
            state: "queued",
            tenantId: "7d2c9e41-3a6b-4f08-b5e1-9c4a2d7f6e38",
            attempts: 12,
            maxAttempts: 12,
            lastError: null,
            runAfter: "2026-11-29T10:15:00.000Z",
            finishedAt: null,
          },
        ],
        lifecycleFailures: [
          {
            id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            name: "user-42",
            state: "queued",
            tenantId: "7d2c9e41-3a6b-4f08-b5e1-9c4a2d7f6e38",
            attempts: 12,
            maxAttempts: 12,
            lastError: null,
            runAfter: "2026-11-29T10:15:00.000Z",
            finishedAt: null,
          },
        ],
        lag: {"p50Ms":12,"p99Ms":12,"thisProcess":{"p50Ms":12,"p99Ms":12}},
        actionsLastHour: [{"policy":"fuse","action":"memory.create","count":12}],
        llm: {"configured":false},
        migration: {
          jobs: { "activation.refresh": { queued: 1, running: 0, completed: 42, failed: 0 }, "activation.sweep": { queued: 1, running: 0, completed: 7, failed: 0 }, "bank.consolidate": { queued: 0, running: 0, completed: 2, failed: 0 } },
          failures: [],
          workingMemory: { caches: 12, stale: 1, overQuota: 0, tokens: 11800, bytes: 12083200, builtLastHour: 9, reusedTokensLastHour: 7200, prefilledTokensLastHour: 2100, thisProcess: { builds: 42, unchanged: 30, reusedTokens: 30100, prefilledTokens: 9100, dropped: 2, demoted: 5, busy: 1, overQuota: 0 } },
        },
      },
    },
  },
  // POST /v1/admin/scheduler/pause
  AdminLifecycleController_pause: {"request":{},"responses":{"200":{"global":false,"tenants":["3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13"]}}},
  // POST /v1/admin/scheduler/resume
  AdminLifecycleController_resume: {"request":{},"responses":{"200":{"global":false,"tenants":["3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13"]}}},
  // POST /v1/admin/jobs/{jobId}/retry
  AdminLifecycleController_retryJob: {
    responses: {
      "200": {
        id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
        name: "user-42",
        state: "queued",
        tenantId: "7d2c9e41-3a6b-4f08-b5e1-9c4a2d7f6e38",
        attempts: 12,
        maxAttempts: 12,
        lastError: null,
        runAfter: "2026-11-29T10:15:00.000Z",
        finishedAt: null,
      },
    },
  },
  // POST /v1/admin/jobs/{jobId}/cancel
  AdminLifecycleController_cancelJob: {
    responses: {
      "200": {
        id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
        name: "bank.write",
        state: "cancelled",
        tenantId: "7d2c9e41-3a6b-4f08-b5e1-9c4a2d7f6e38",
        attempts: 1,
        maxAttempts: 3,
        lastError: "cancelled by the operator",
        runAfter: "2026-11-29T10:15:00.000Z",
        finishedAt: "2026-11-29T10:16:12.000Z",
      },
      "202": {
        id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
        name: "bank.write",
        state: "running",
        tenantId: "7d2c9e41-3a6b-4f08-b5e1-9c4a2d7f6e38",
        attempts: 1,
        maxAttempts: 3,
        lastError: "cancelled by the operator",
        runAfter: "2026-11-29T10:15:00.000Z",
        finishedAt: null,
      },
    },
  },
  // POST /v1/admin/models
  ModelAdminController_import: {
    request: { name: "smollm-135m", path: "smollm-135m" },
    responses: {
      "201": {
        id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
        name: "user-42",
        fingerprint: "sha256:9b1f…",
        directory: "/var/lib/engram/models/tiny",
        format: "safetensors",
        config: {},
        createdAt: "2026-11-29T10:15:00.000Z",
      },
    },
  },
  // GET /v1/admin/models
  ModelAdminController_list: {
    responses: {
      "200": {
        items: [
          {
            id: "3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13",
            name: "user-42",
            fingerprint: "sha256:9b1f…",
            directory: "/var/lib/engram/models/tiny",
            format: "safetensors",
            config: {},
            createdAt: "2026-11-29T10:15:00.000Z",
          },
        ],
      },
    },
  },
};
