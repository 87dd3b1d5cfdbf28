/** Names and payloads of every job engram queues. */
import type { BankReplaySettings } from '@engram/persistence';

export enum JobName {
  CubePurge = 'cube.purge',
  BankBuild = 'bank.build',
  BankWrite = 'bank.write',
  BankForget = 'bank.forget',
  /** A cube's consolidation run: stable, hot memories into its policy's bank, stale blocks rewritten (ADR 0403). */
  BankConsolidate = 'bank.consolidate',
  /** Debounced per-cube pass over the change feed: fusion and fact invalidation. */
  LifecycleTick = 'lifecycle.tick',
  /** A requested full lifecycle run of one cube (lifecycle_runs row). */
  LifecycleRun = 'lifecycle.run',
  /** The periodic sweep of every cube for TTL and idleness; re-enqueues itself. */
  LifecycleSweep = 'lifecycle.sweep',
  /** Housekeeping every few minutes (expired idempotency records, old rate-limit windows); re-enqueues itself. */
  Maintenance = 'maintenance',
  /** Facts extracted by the operator's LLM from stored message turns. */
  LifecycleExtract = 'lifecycle.extract',
  /** A cube's working-memory KV cache rebuilt (debounced per cube) from its pinned and hottest memories. */
  WorkingMemoryRefresh = 'activation.refresh',
  /** Cold working-memory caches moved down the tiers and dropped; re-enqueues itself. */
  ActivationSweep = 'activation.sweep',
}

/** Jobs that move memories between kinds (plaintext → activation, plaintext → parametric): the operator's "migration" view. */
export const MIGRATION_JOBS: string[] = [JobName.WorkingMemoryRefresh, JobName.ActivationSweep, JobName.BankConsolidate];

export interface WorkingMemoryRefreshPayload {
  cubeId: string;
}

export interface BankConsolidatePayload {
  cubeId: string;
}

export interface LifecycleExtractPayload {
  cubeId: string;
  memoryIds: string[];
}

export interface LifecycleTickPayload {
  cubeId: string;
}

export interface LifecycleRunPayload {
  cubeId: string;
  runId: string;
}

export interface CubePurgePayload {
  cubeId: string;
  tenantId: string;
}

export interface BankBuildPayload {
  bankId: string;
  cubeId: string;
}

export interface BankWritePayload {
  bankId: string;
  cubeId: string;
  memoryIds: string[];
  rewriteStale: boolean;
  epochs: number | null;
  /** Replay of this write, resolved at request time (absent in jobs queued before ADR 0304: the bank's settings). */
  replay?: BankReplaySettings;
}

/** A memory of the cube was deleted (or its text edited): mark the blocks holding it stale in every bank of the cube. */
export interface BankForgetPayload {
  cubeId: string;
  memoryId: string;
  deleted: boolean;
  /** Erase: once marked, retrain the stale blocks from fresh weights so the memory leaves the bank's weights too. */
  rewrite?: boolean;
  /** Tenant of the cube, for the rewrite job it queues. */
  tenantId?: string;
}
