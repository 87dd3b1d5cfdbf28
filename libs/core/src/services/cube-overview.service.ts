import { Injectable } from '@nestjs/common';
import { BankRepository, CubeOverviewRepository, HEAT_BUCKET_EDGES, KvCacheRepository, ModelRepository, WorkingMemoryRecord, WorkingMemoryRefusal, WorkingMemoryRepository } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import { CubeOverviewDto, OverviewBankDto, WorkingMemoryStatusDto } from '../dtos/cube-overview.dto';
import { ActivationStore } from '../inference/activation.store';
import { LifecyclePolicies } from '../lifecycle/lifecycle-policy.service';
import { ActivationPolicy } from '../lifecycle/activation-policy';
import { RequestContext } from './request-context';

const HEAT_FORMULA = '(1 + ln(1 + accessCount)) × ½^(days since last access / 7) × (0.5 + importance)';
const LAST_RUNS = 5;
const OPEN_JOBS = 10;

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;
const ratio = (a: number, b: number) => (b === 0 ? 0 : Math.round((a / b) * 1e4) / 1e4);

/** One cube across the three kinds of memory and the scheduler working on it (GET /v1/cubes/{id}/overview). */
@Injectable()
export class CubeOverviewService {
  constructor(
    private readonly access: AccessService,
    private readonly overview: CubeOverviewRepository,
    private readonly workingMemories: WorkingMemoryRepository,
    private readonly kvCaches: KvCacheRepository,
    private readonly banks: BankRepository,
    private readonly models: ModelRepository,
    private readonly activation: ActivationStore,
    private readonly policies: LifecyclePolicies,
  ) {}

  async get(ctx: RequestContext, cubeId: string): Promise<CubeOverviewDto> {
    const cube = await this.access.requireCube(ctx.auth, Permission.CubeRead, cubeId);
    const now = new Date();
    const [counts, heat, caches, working, refusal, policy, banks, blocks, runs, cursor, jobs] = await Promise.all([
      this.overview.memoryCounts(cubeId),
      this.overview.heatHistogram(cubeId, now),
      this.kvCaches.listByCube(cubeId),
      this.workingMemories.get(cubeId),
      this.workingMemories.refusal(cubeId),
      this.policies.effective(cube.tenantId, cubeId),
      this.banks.listByCube(cubeId),
      this.overview.bankBlocks(cubeId),
      this.overview.lastRuns(cubeId, LAST_RUNS),
      this.overview.tickCursor(cubeId),
      this.overview.openJobs(cubeId, OPEN_JOBS),
    ]);

    const byState: Record<string, number> = {};
    const activeByKind: Record<string, number> = {};
    let total = 0;
    let pinned = 0;
    let textBytes = 0;
    for (const r of counts.rows) {
      byState[r.state] = (byState[r.state] ?? 0) + r.count;
      if (r.state === 'active') {
        activeByKind[r.kind] = (activeByKind[r.kind] ?? 0) + r.count;
        pinned += r.pinned;
      }
      total += r.count;
      textBytes += r.textBytes;
    }

    const bytesByTier: Record<string, number> = { ram: 0, disk: 0, object: 0, missing: 0 };
    for (const c of caches) bytesByTier[await this.activation.tierOf(c.entryId)] += c.bytes;
    const workingTier = working ? await this.activation.tierOf(working.entryId) : null;
    if (working && workingTier) bytesByTier[workingTier] += working.bytes;

    return {
      cubeId,
      memories: { total, byState, activeByKind, pinned, textBytes },
      heat: {
        formula: HEAT_FORMULA,
        buckets: heat.map((count, i) => ({ min: i === 0 ? 0 : HEAT_BUCKET_EDGES[i - 1], max: i < HEAT_BUCKET_EDGES.length ? HEAT_BUCKET_EDGES[i] : null, count })),
      },
      activation: { bytesByTier, kvCaches: caches.length, workingMemory: await this.workingMemoryStatus(working, refusal, workingTier, policy.activation) },
      banks: banks.map((bank): OverviewBankDto => {
        const levels = bank.ranks.map((rank, i) => ({ rank, level: i + 1 })).filter((l) => l.rank > 0);
        const mine = blocks.filter((b) => b.bankId === bank.id);
        const rows = levels.map(({ level }) => {
          const found = mine.find((b) => b.level === level);
          return { level, blocks: bank.branching ** level, written: found?.written ?? 0, stale: found?.stale ?? 0 };
        });
        const written = rows.reduce((a, r) => a + r.written, 0);
        return {
          id: bank.id,
          state: bank.state,
          generation: bank.generation,
          levels: rows,
          occupancy: ratio(written, rows.reduce((a, r) => a + r.blocks, 0)),
          staleness: ratio(rows.reduce((a, r) => a + r.stale, 0), written),
        };
      }),
      scheduler: {
        pendingChanges: Math.max(0, cursor.changeSeq - cursor.processedSeq),
        lastLifecycleEventAt: iso(cursor.lastEventAt),
        lastSweepAt: iso(cursor.sweptAt),
        lastRuns: runs.map((r) => ({ id: r.id, status: r.status, actions: r.actions, createdAt: r.createdAt.toISOString(), finishedAt: iso(r.finishedAt), error: r.error })),
        openJobs: jobs.map((j) => ({ id: j.id, name: j.name, state: j.state, attempts: j.attempts, lastError: j.lastError, runAfter: j.runAfter.toISOString() })),
      },
    };
  }

  private async workingMemoryStatus(row: WorkingMemoryRecord | null, refusal: WorkingMemoryRefusal | null, tier: string | null, policy: ActivationPolicy): Promise<WorkingMemoryStatusDto> {
    const model = row ? ((await this.models.list()).find((m) => m.id === row.modelId)?.name ?? row.modelId) : policy.model;
    const overQuota = !row && policy.model && refusal ? refusal : null;
    const state = row ? (row.staleSince ? 'stale' : 'ready') : !policy.model ? 'off' : overQuota ? 'over_quota' : 'building';
    return {
      state,
      model,
      cacheId: row?.entryId ?? null,
      tier,
      generation: row?.generation ?? 0,
      memories: row?.sourceMemoryIds.length ?? 0,
      tokens: row?.tokenCount ?? 0,
      maxTokens: policy.maxTokens,
      bytes: row?.bytes ?? 0,
      builtAt: iso(row?.builtAt),
      lastUsedAt: iso(row?.lastUsedAt),
      staleSince: iso(row?.staleSince),
      lastBuild: row ? { reusedTokens: row.reusedTokens, prefilledTokens: row.prefilledTokens, ms: row.buildMs } : null,
      overQuota: overQuota ? { neededBytes: overQuota.neededBytes, usedBytes: overQuota.usedBytes, limitBytes: overQuota.limitBytes, since: overQuota.refusedAt.toISOString() } : null,
    };
  }
}
