/** Names and payloads of every job engram queues. */
import type { BankReplaySettings } from '@engram/persistence';

export enum JobName {
  CubePurge = 'cube.purge',
  BankBuild = 'bank.build',
  BankWrite = 'bank.write',
  BankForget = 'bank.forget',
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
}
