import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { CubeRepository, JobRecord, JobRepository, LifecycleRepository, TenantRepository, WorkingMemoryRepository } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import { AdminCubeDto, AdminCubesQueryDto, LifecyclePolicyDto, LifecyclePolicyResponseDto, LifecycleRunResponseDto, mapAdminCube, mapLifecycleRun, RunLifecycleDto, SchedulerPauseDto } from '../dtos/lifecycle.dto';
import { EngramError } from '../errors/engram.error';
import { JobName, MIGRATION_JOBS } from '../jobs/job-names';
import { WorkingMemoryService } from '../inference/working-memory.service';
import { AuditService } from '../services/audit.service';
import { RequestContext } from '../services/request-context';
import { effectivePolicy, parseLifecyclePolicy } from './lifecycle-policy';
import { INSTANCE_SCOPE, LifecyclePolicies, tenantScope } from './lifecycle-policy.service';
import { LifecycleMetrics } from './lifecycle.metrics';
import { LifecycleService, RunAnswer, runCube } from './lifecycle.service';
import { LlmGate } from './llm.gate';
import { ConsolidationGate } from './consolidation.gate';
import { ActivationPolicyGate } from './activation-policy.gate';
import { PauseState, SchedulerControl } from './scheduler-control';

/** How long a cancel waits for a running job's worker to stop it, and how often it looks. */
const CANCEL_WAIT_MS = 10_000;
const CANCEL_POLL_MS = 100;

const LIFECYCLE_JOBS: string[] = [JobName.LifecycleTick, JobName.LifecycleRun, JobName.LifecycleSweep, JobName.LifecycleExtract, JobName.BankConsolidate];

export interface JobSummary {
  id: string;
  name: string;
  state: string;
  tenantId: string | null;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  runAfter: string;
  finishedAt: string | null;
}

function mapJob(j: JobRecord): JobSummary {
  return {
    id: j.id,
    name: j.name,
    state: j.state,
    tenantId: j.tenantId,
    attempts: j.attempts,
    maxAttempts: j.maxAttempts,
    lastError: j.lastError,
    runAfter: j.runAfter.toISOString(),
    finishedAt: j.finishedAt?.toISOString() ?? null,
  };
}

/** The operator's lifecycle surface: defaults, cubes across tenants, runs, the scheduler and its jobs. */
@Injectable()
export class LifecycleAdminService {
  constructor(
    private readonly access: AccessService,
    private readonly lifecycle: LifecycleRepository,
    private readonly policies: LifecyclePolicies,
    private readonly cubes: CubeRepository,
    private readonly tenants: TenantRepository,
    private readonly jobs: JobRepository,
    private readonly audit: AuditService,
    private readonly control: SchedulerControl,
    private readonly metrics: LifecycleMetrics,
    private readonly service: LifecycleService,
    private readonly llm: LlmGate,
    private readonly consolidation: ConsolidationGate,
    private readonly activationGate: ActivationPolicyGate,
    private readonly workingMemories: WorkingMemoryRepository,
    private readonly workingMemory: WorkingMemoryService,
  ) {}

  async getDefaults(ctx: RequestContext, tenantId: string | null): Promise<LifecyclePolicyResponseDto> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    if (tenantId !== null) await this.requireTenant(tenantId);
    const instance = await this.policies.level(INSTANCE_SCOPE);
    if (tenantId === null) return { effective: effectivePolicy([instance]), overrides: instance };
    const tenant = await this.policies.level(tenantScope(tenantId));
    return { effective: effectivePolicy([instance, tenant]), overrides: tenant, inherited: { instance } };
  }

  async putDefaults(ctx: RequestContext, tenantId: string | null, dto: LifecyclePolicyDto): Promise<LifecyclePolicyResponseDto> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    if (tenantId !== null) await this.requireTenant(tenantId);
    const own = parseLifecyclePolicy(Object.fromEntries(Object.entries(dto).filter(([, v]) => v !== undefined)));
    const instance = tenantId === null ? own : await this.policies.level(INSTANCE_SCOPE);
    const effective = effectivePolicy(tenantId === null ? [own] : [instance, own]);
    this.llm.requireFor(effective);
    this.consolidation.requireNoBank(own);
    await this.activationGate.requireFor(effective);
    await this.lifecycle.unitOfWork(async (tx) => {
      await this.policies.put(tenantId === null ? INSTANCE_SCOPE : tenantScope(tenantId), own, tx);
      await this.audit.record(ctx.auth, ctx.requestId, { action: 'lifecycle.defaults', targetType: tenantId === null ? 'instance' : 'tenant', targetId: tenantId, tenantId, details: { policy: own } }, tx);
    });
    return tenantId === null ? { effective, overrides: own } : { effective, overrides: own, inherited: { instance } };
  }

  async listCubes(ctx: RequestContext, query: AdminCubesQueryDto): Promise<{ items: AdminCubeDto[]; nextCursor: string | null }> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    const page = await this.lifecycle.cubesWithCounts(query.tenantId?.toLowerCase() ?? null, query.limit ?? 50, query.cursor ?? null);
    if (!page) throw EngramError.validation([{ field: 'cursor', problems: ['cursor is not one this API returned'] }]);
    return { items: page.items.map(mapAdminCube), nextCursor: page.nextCursor };
  }

  async runCube(ctx: RequestContext, cubeId: string, dto: RunLifecycleDto): Promise<RunAnswer> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    const cube = await this.cubes.getAny(cubeId);
    if (!cube || cube.deletedAt !== null) throw EngramError.notFound('cube');
    const answer = await runCube(this.service, ctx.auth, ctx.requestId, cube, dto);
    if (answer.dryRun) await this.audit.record(ctx.auth, ctx.requestId, { action: 'cube.lifecycle_plan', targetType: 'cube', targetId: cubeId, tenantId: cube.tenantId, details: { actions: answer.body.actions.length } });
    return answer;
  }

  /** A lifecycle run of any live cube (the operator follows a run it started with runCube). */
  async getCubeRun(ctx: RequestContext, cubeId: string, runId: string): Promise<LifecycleRunResponseDto> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    const cube = await this.cubes.getAny(cubeId);
    if (!cube || cube.deletedAt !== null) throw EngramError.notFound('cube');
    const run = await this.lifecycle.getRun(cubeId, runId);
    if (!run) throw EngramError.notFound('lifecycle run');
    return mapLifecycleRun(run);
  }

  /** Queue depth and running jobs by type, failures, decision lag, actions per policy in the last hour, pauses. */
  async scheduler(ctx: RequestContext): Promise<Record<string, unknown>> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    const counts = await this.jobs.countsByState();
    const byType: Record<string, Record<string, number>> = {};
    for (const row of counts) (byType[row.name] ??= { queued: 0, running: 0, completed: 0, failed: 0 })[row.state] = row.count;
    const activity = await this.lifecycle.recentActivity(3_600_000);
    return {
      paused: await this.control.state(),
      jobs: byType,
      queueLag: await this.jobs.queueLag(),
      failures: (await this.jobs.recentFailures(20)).map(mapJob),
      lifecycleFailures: (await this.jobs.recentFailures(20, LIFECYCLE_JOBS)).map(mapJob),
      lag: { p50Ms: activity.lagP50Ms, p99Ms: activity.lagP99Ms, thisProcess: { p50Ms: this.metrics.lagPercentile(0.5), p99Ms: this.metrics.lagPercentile(0.99) } },
      actionsLastHour: activity.byPolicy,
      llm: { configured: this.llm.configured },
      // Memory moving between kinds: plaintext → working-memory KV caches (ADR 0402).
      migration: {
        jobs: Object.fromEntries(MIGRATION_JOBS.map((name) => [name, byType[name] ?? { queued: 0, running: 0, completed: 0, failed: 0 }])),
        failures: (await this.jobs.recentFailures(20, MIGRATION_JOBS)).map(mapJob),
        workingMemory: { ...(await this.workingMemories.stats()), thisProcess: { ...this.workingMemory.counters } },
      },
    };
  }

  async retryJob(ctx: RequestContext, jobId: string): Promise<JobSummary> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    const job = await this.jobs.get(jobId);
    if (!job) throw EngramError.notFound('job');
    const retried = await this.jobs.retry(jobId);
    if (!retried) throw EngramError.conflict(`job is ${job.state}; only failed or cancelled jobs can be retried`);
    await this.audit.record(ctx.auth, ctx.requestId, { action: 'job.retry', targetType: 'job', targetId: jobId, tenantId: job.tenantId, details: { name: job.name } });
    return mapJob(retried);
  }

  /**
   * Cancels a job. A queued job ends at once. A running one is asked to stop through
   * its row, which its worker (in this process or another) reads with its heartbeat; this waits
   * a while for the outcome: stopped before committing (`cancelled`, "cancelled by the operator"),
   * or completed first (409: its result stays). A job still stopping after the wait is answered
   * as it is (running, the cancel as its error; the controller says 202).
   */
  async cancelJob(ctx: RequestContext, jobId: string): Promise<JobSummary> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    const job = await this.jobs.get(jobId);
    if (!job) throw EngramError.notFound('job');
    const requested = await this.jobs.cancel(jobId);
    if (!requested) throw EngramError.conflict(`job is ${job.state}; only queued or running jobs can be cancelled`);
    await this.audit.record(ctx.auth, ctx.requestId, { action: 'job.cancel', targetType: 'job', targetId: jobId, tenantId: job.tenantId, details: { name: job.name, state: requested.state } });
    const ended = requested.state === 'running' ? await this.untilStopped(jobId) : requested;
    if (ended.state === 'completed') throw EngramError.conflict('job completed before its worker saw the cancel; its result stays');
    return mapJob(ended);
  }

  /** The job once it left `running`, or as it is after CANCEL_WAIT_MS. */
  private async untilStopped(jobId: string): Promise<JobRecord> {
    const deadline = Date.now() + CANCEL_WAIT_MS;
    for (;;) {
      const job = await this.jobs.get(jobId);
      if (!job) throw EngramError.notFound('job');
      if (job.state !== 'running' || Date.now() >= deadline) return job;
      await sleep(CANCEL_POLL_MS);
    }
  }

  async pause(ctx: RequestContext, dto: SchedulerPauseDto, paused: boolean): Promise<PauseState> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    const tenantId = dto.tenantId?.toLowerCase() ?? null;
    if (tenantId !== null) await this.requireTenant(tenantId);
    const state = await this.control.set(paused, tenantId);
    await this.audit.record(ctx.auth, ctx.requestId, { action: paused ? 'scheduler.pause' : 'scheduler.resume', targetType: tenantId ? 'tenant' : 'instance', targetId: tenantId, tenantId, details: {} });
    return state;
  }

  private async requireTenant(tenantId: string): Promise<void> {
    if (!(await this.tenants.get(tenantId))) throw EngramError.notFound('tenant');
  }
}
