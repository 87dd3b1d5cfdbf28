import { ApiKeyEntity } from './api-key.entity';
import { AuditEventEntity } from './audit-event.entity';
import { CubeEntity } from './cube.entity';
import { JobEntity } from './job.entity';
import { SystemSettingEntity } from './system-setting.entity';
import { TenantEntity } from './tenant.entity';
import { MemoryEntity } from './memory.entity';
import { MemoryVersionEntity } from './memory-version.entity';
import { MemoryAccessEntity } from './memory-access.entity';
import { IdempotencyRecordEntity } from './idempotency-record.entity';
import { ModelEntity } from './model.entity';
import { KvCacheEntity } from './kv-cache.entity';
import { BankEntity } from './bank.entity';
import { BankBlockEntity } from './bank-block.entity';
import { BankDeletedMemoryEntity } from './bank-deleted-memory.entity';
import { LifecycleEventEntity } from './lifecycle-event.entity';
import { LifecycleRunEntity } from './lifecycle-run.entity';
import { LifecyclePolicyEntity } from './lifecycle-policy.entity';
import { CubeLifecycleStateEntity } from './cube-lifecycle-state.entity';
import { RateLimitWindowEntity } from './rate-limit-window.entity';
import { WorkingMemoryEntity } from './working-memory.entity';
import { WorkingMemoryRefusalEntity } from './working-memory-refusal.entity';

export { ApiKeyEntity, AuditEventEntity, CubeEntity, JobEntity, SystemSettingEntity, TenantEntity, MemoryEntity, MemoryVersionEntity, MemoryAccessEntity, IdempotencyRecordEntity, ModelEntity, KvCacheEntity, BankEntity, BankBlockEntity, BankDeletedMemoryEntity, LifecycleEventEntity, LifecycleRunEntity, LifecyclePolicyEntity, CubeLifecycleStateEntity, RateLimitWindowEntity, WorkingMemoryEntity, WorkingMemoryRefusalEntity };
export type { MemoryState } from './memory.entity';
export type { JobState } from './job.entity';
export type { LifecycleRunStatus } from './lifecycle-run.entity';
export type { BankReplaySettings, BankState } from './bank.entity';

/** Every entity engram persists; the data source and the drift check use this list. */
export const ENTITIES = [TenantEntity, ApiKeyEntity, CubeEntity, AuditEventEntity, JobEntity, SystemSettingEntity, MemoryEntity, MemoryVersionEntity, MemoryAccessEntity, IdempotencyRecordEntity, ModelEntity, KvCacheEntity, BankEntity, BankBlockEntity, BankDeletedMemoryEntity, LifecycleEventEntity, LifecycleRunEntity, LifecyclePolicyEntity, CubeLifecycleStateEntity, RateLimitWindowEntity, WorkingMemoryEntity, WorkingMemoryRefusalEntity];
