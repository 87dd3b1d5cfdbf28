import { Injectable } from '@nestjs/common';
import { CubeRecord, LifecycleRepository } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { AuthContext } from '../auth/auth-context';
import { Permission } from '../auth/permission';
import {
  LifecycleActionDto,
  LifecycleEventPageDto,
  LifecycleEventsQueryDto,
  LifecyclePolicyDto,
  LifecyclePolicyResponseDto,
  LifecycleRunResponseDto,
  mapLifecycleEvent,
  mapLifecycleRun,
  mapPlannedAction,
  RunLifecycleDto,
} from '../dtos/lifecycle.dto';
import { EngramError } from '../errors/engram.error';
import { JobQueueService } from '../jobs/job-queue.service';
import { AuditService } from '../services/audit.service';
import { RequestContext } from '../services/request-context';
import { LifecycleEngine } from './lifecycle.engine';
import { effectivePolicy, parseLifecyclePolicy } from './lifecycle-policy';
import { cubeScope, LifecyclePolicies } from './lifecycle-policy.service';
import { LlmGate } from './llm.gate';
import { ConsolidationGate } from './consolidation.gate';
import { ActivationPolicyGate } from './activation-policy.gate';
import { WorkingMemoryService } from '../inference/working-memory.service';

export type RunAnswer = { dryRun: true; body: { actions: LifecycleActionDto[] } } | { dryRun: false; body: { runId: string } };

/** A cube's lifecycle for its tenant: policy, events, runs. */
@Injectable()
export class LifecycleService {
  constructor(
    private readonly access: AccessService,
    private readonly lifecycle: LifecycleRepository,
    private readonly policies: LifecyclePolicies,
    private readonly engine: LifecycleEngine,
    private readonly jobs: JobQueueService,
    private readonly audit: AuditService,
    private readonly llm: LlmGate,
    private readonly consolidation: ConsolidationGate,
    private readonly activationGate: ActivationPolicyGate,
    private readonly workingMemory: WorkingMemoryService,
  ) {}

  async getPolicy(ctx: RequestContext, cubeId: string): Promise<LifecyclePolicyResponseDto> {
    const cube = await this.access.requireCube(ctx.auth, Permission.CubeRead, cubeId);
    const { instance, tenant, cube: own } = await this.policies.levels(cube.tenantId, cubeId);
    return { effective: effectivePolicy([instance, tenant, own]), overrides: own };
  }

  /** Replaces the cube's own level (fields left out are inherited). */
  async putPolicy(ctx: RequestContext, cubeId: string, dto: LifecyclePolicyDto): Promise<LifecyclePolicyResponseDto> {
    const cube = await this.access.requireCube(ctx.auth, Permission.CubeUpdate, cubeId);
    const own = parseLifecyclePolicy(stripUndefined(dto));
    const { instance, tenant } = await this.policies.levels(cube.tenantId, cubeId);
    const effective = effectivePolicy([instance, tenant, own]);
    this.llm.requireFor(effective);
    await this.consolidation.requireUsable(cubeId, effective);
    await this.activationGate.requireFor(effective);
    await this.lifecycle.unitOfWork(async (tx) => {
      await this.policies.put(cubeScope(cubeId), own, tx);
      await this.audit.record(ctx.auth, ctx.requestId, { action: 'cube.lifecycle_policy', targetType: 'cube', targetId: cubeId, tenantId: cube.tenantId, details: { policy: own } }, tx);
    });
    await this.workingMemory.scheduleRefresh(cube.tenantId, cubeId); // built, resized or dropped as the policy now says
    return { effective, overrides: own };
  }

  async events(ctx: RequestContext, cubeId: string, query: LifecycleEventsQueryDto): Promise<LifecycleEventPageDto> {
    await this.access.requireCube(ctx.auth, Permission.MemoryRead, cubeId);
    const page = await this.lifecycle.events(cubeId, { memoryId: query.memoryId?.toLowerCase(), action: query.action }, query.limit ?? 50, query.cursor ?? null);
    if (!page) throw EngramError.validation([{ field: 'cursor', problems: ['cursor is not one this API returned'] }]);
    return { items: page.items.map(mapLifecycleEvent), nextCursor: page.nextCursor };
  }

  /** Dry run: the plan, nothing changed. Otherwise a queued run (202 { runId }). */
  async run(ctx: RequestContext, cubeId: string, dto: RunLifecycleDto): Promise<RunAnswer> {
    const cube = await this.access.requireCube(ctx.auth, dto.dryRun ? Permission.MemoryRead : Permission.MemoryWrite, cubeId);
    return runCube(this, ctx.auth, ctx.requestId, cube, dto);
  }

  async getRun(ctx: RequestContext, cubeId: string, runId: string): Promise<LifecycleRunResponseDto> {
    await this.access.requireCube(ctx.auth, Permission.MemoryRead, cubeId);
    const run = await this.lifecycle.getRun(cubeId, runId);
    if (!run) throw EngramError.notFound('lifecycle run');
    return mapLifecycleRun(run);
  }

  /** Shared by the tenant and the operator routes. */
  async plan(cube: CubeRecord): Promise<LifecycleActionDto[]> {
    return (await this.engine.plan(cube)).map(mapPlannedAction);
  }

  async enqueueRun(auth: AuthContext, requestId: string | null, cube: CubeRecord): Promise<string> {
    const requestedBy = auth.kind === 'key' ? auth.keyId : null;
    const run = await this.lifecycle.createRun({ cubeId: cube.id, tenantId: cube.tenantId, requestedByType: auth.kind === 'key' ? 'key' : 'admin', requestedBy });
    const job = await this.jobs.enqueueLifecycleRun(cube.tenantId, { cubeId: cube.id, runId: run.id });
    await this.lifecycle.attachJob(run.id, job.id);
    await this.audit.record(auth, requestId, { action: 'cube.lifecycle_run', targetType: 'cube', targetId: cube.id, tenantId: cube.tenantId, details: { runId: run.id, jobId: job.id } });
    return run.id;
  }
}

/** The run logic of both routes (tenant and operator): a dry run plans, a run is queued. */
export async function runCube(service: LifecycleService, auth: AuthContext, requestId: string | null, cube: CubeRecord, dto: RunLifecycleDto): Promise<RunAnswer> {
  if (dto.dryRun) return { dryRun: true, body: { actions: await service.plan(cube) } };
  return { dryRun: false, body: { runId: await service.enqueueRun(auth, requestId, cube) } };
}

function stripUndefined(dto: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(dto).filter(([, v]) => v !== undefined));
}
