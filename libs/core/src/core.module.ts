import { DynamicModule, Module } from '@nestjs/common';
import { EngramConfig } from '@engram/config';
import { PersistenceModule } from '@engram/persistence';
import { AccessService } from './auth/access.service';
import { JobQueueService } from './jobs/job-queue.service';
import { ApiKeyService } from './services/api-key.service';
import { AuditQueryService } from './services/audit-query.service';
import { AuditService } from './services/audit.service';
import { AuthenticationService } from './services/authentication.service';
import { ApiKeyCache } from './auth/api-key.cache';
import { CubeService } from './services/cube.service';
import { CubeExportService } from './portable/cube-export.service';
import { CubeImportService } from './portable/cube-import.service';
import { TenantService } from './services/tenant.service';
import { CubeIndexManager } from './memories/cube-index.manager';
import { QuotaService } from './quotas/quota.service';
import { EmbedderRegistry } from './memories/embedder.registry';
import { MemoryService } from './memories/memory.service';
import { DeferredEmbeddingService } from './memories/deferred-embedding.service';
import { SearchService } from './memories/search.service';
import { AccessRecorder } from './memories/access-recorder';
import { ActivationStore } from './inference/activation.store';
import { ChatCompletionService } from './inference/chat-completion.service';
import { ChatRetrieval } from './inference/chat-retrieval';
import { WorkingMemoryService } from './inference/working-memory.service';
import { KvCacheService } from './inference/kv-cache.service';
import { KvHitCounter } from './inference/kv-hit.counter';
import { MemoryChangeListener } from './inference/memory-change.listener';
import { ModelRuntime } from './inference/model.runtime';
import { ModelService } from './inference/model.service';
import { BankChangeListener } from './parametric/bank-change.listener';
import { BankJobs } from './parametric/bank-jobs.service';
import { BankConsolidation } from './parametric/bank-consolidation.service';
import { ConsolidationGate } from './lifecycle/consolidation.gate';
import { BankService } from './parametric/bank.service';
import { BankStore } from './parametric/bank.store';
import { BankProvenance } from './parametric/bank-provenance.service';
import { LifecyclePolicies } from './lifecycle/lifecycle-policy.service';
import { LifecycleEngine } from './lifecycle/lifecycle.engine';
import { LifecycleMetrics } from './lifecycle/lifecycle.metrics';
import { LifecycleTrigger } from './lifecycle/lifecycle.trigger';
import { LifecycleService } from './lifecycle/lifecycle.service';
import { LifecycleAdminService } from './lifecycle/lifecycle-admin.service';
import { SchedulerControl } from './lifecycle/scheduler-control';
import { LlmGate } from './lifecycle/llm.gate';
import { ActivationPolicyGate } from './lifecycle/activation-policy.gate';
import { CubeOverviewService } from './services/cube-overview.service';
import { LlmClient } from './lifecycle/llm.client';
import { LifecycleExtraction } from './lifecycle/lifecycle.extraction';

const LIFECYCLE = [LifecyclePolicies, LifecycleEngine, LifecycleMetrics, LifecycleTrigger, LifecycleService, LifecycleAdminService, SchedulerControl, LlmGate, LlmClient, LifecycleExtraction, ConsolidationGate, BankConsolidation, ActivationPolicyGate];

const SERVICES = [AccessService, ApiKeyCache, AuditService, AuditQueryService, AuthenticationService, TenantService, ApiKeyService, CubeService, JobQueueService, EmbedderRegistry, CubeIndexManager, DeferredEmbeddingService, MemoryService, SearchService, AccessRecorder, ModelRuntime, ActivationStore, KvHitCounter, ModelService, KvCacheService, ChatCompletionService, ChatRetrieval, WorkingMemoryService, MemoryChangeListener, BankStore, BankProvenance, BankService, BankJobs, BankChangeListener, CubeExportService, CubeImportService, QuotaService, CubeOverviewService, ...LIFECYCLE];

/** The domain services on top of persistence; shared by the server, the worker and the CLI. */
@Module({})
export class CoreModule {
  static forRoot(config: EngramConfig): DynamicModule {
    return {
      module: CoreModule,
      global: true,
      imports: [PersistenceModule.forRoot(config)],
      providers: SERVICES,
      exports: [...SERVICES, PersistenceModule],
    };
  }
}
