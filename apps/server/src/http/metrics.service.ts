import { Injectable } from '@nestjs/common';
import { ActivationStore, LifecycleMetrics, MIGRATION_JOBS, SchedulerControl, WorkingMemoryService } from '@engram/core';
import { HealthRepository, JobRepository, LifecycleRepository, WorkingMemoryRepository } from '@engram/persistence';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one process: HTTP latency by route, DB pool, jobs by state, KV cache tiers. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;

  constructor(
    health: HealthRepository,
    jobs: JobRepository,
    activation: ActivationStore,
    lifecycle: LifecycleMetrics,
    lifecycleEvents: LifecycleRepository,
    control: SchedulerControl,
    workingMemories: WorkingMemoryRepository,
    workingMemory: WorkingMemoryService,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'engram_process_' });
    this.httpDuration = new Histogram({
      name: 'engram_http_request_duration_seconds',
      help: 'HTTP request latency by route template',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [this.registry],
    });
    new Gauge({
      name: 'engram_db_pool_connections',
      help: 'PostgreSQL pool connections by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const stats = health.poolStats();
        this.set({ state: 'total' }, stats.total);
        this.set({ state: 'idle' }, stats.idle);
        this.set({ state: 'waiting' }, stats.waiting);
      },
    });
    new Gauge({
      name: 'engram_jobs',
      help: 'Jobs in the queue by name and state',
      labelNames: ['name', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await jobs.countsByState()) this.set({ name: row.name, state: row.state }, row.count);
      },
    });
    new Gauge({
      name: 'engram_lifecycle_actions_last_hour',
      help: 'Lifecycle actions applied in the last hour (all processes), by policy and action',
      labelNames: ['policy', 'action'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of (await lifecycleEvents.recentActivity(3_600_000)).byPolicy) this.set({ policy: row.policy, action: row.action }, row.count);
      },
    });
    new Gauge({
      name: 'engram_lifecycle_decision_lag_ms',
      help: 'Write-to-decision lag of lifecycle ticks in this process (last 10k memories), by quantile',
      labelNames: ['quantile'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const q of [0.5, 0.99]) {
          const value = lifecycle.lagPercentile(q);
          if (value !== null) this.set({ quantile: String(q) }, value);
        }
      },
    });
    new Gauge({
      name: 'engram_lifecycle_failures',
      help: 'Lifecycle jobs that failed (queue rows in state failed), by job name',
      labelNames: ['name'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await jobs.countsByState()) if (row.state === 'failed' && row.name.startsWith('lifecycle.')) this.set({ name: row.name }, row.count);
      },
    });
    new Gauge({
      name: 'engram_migration_jobs',
      help: 'Jobs that move memories between kinds (working-memory rebuilds, activation sweeps), by name and state',
      labelNames: ['name', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await jobs.countsByState()) if (MIGRATION_JOBS.includes(row.name)) this.set({ name: row.name, state: row.state }, row.count);
      },
    });
    new Gauge({
      name: 'engram_working_memory',
      help: 'Working-memory KV caches of all cubes (caches, stale, tokens, bytes; builds and reused/prefilled tokens in the last hour)',
      labelNames: ['stat'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const [stat, value] of Object.entries(await workingMemories.stats())) this.set({ stat }, value);
      },
    });
    new Gauge({
      name: 'engram_working_memory_process',
      help: 'Working-memory rebuilds in this process since start: builds, unchanged checks, reused and prefilled tokens, caches demoted and dropped',
      labelNames: ['stat'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [stat, value] of Object.entries(workingMemory.counters)) this.set({ stat }, value);
      },
    });
    new Gauge({
      name: 'engram_scheduler_paused',
      help: '1 while the operator has paused the scheduler (scope: instance, or the number of paused tenants)',
      labelNames: ['scope'],
      registers: [this.registry],
      async collect() {
        const state = await control.state();
        this.set({ scope: 'instance' }, state.global ? 1 : 0);
        this.set({ scope: 'tenants' }, state.tenants.length);
      },
    });
    new Gauge({
      name: 'engram_kv_cache_tier',
      help: 'KV cache store counters by tier (hits, misses, puts, evictions, bytes, items)',
      labelNames: ['tier', 'stat'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [tier, metrics] of Object.entries(activation.metrics() ?? {})) {
          for (const [stat, value] of Object.entries(metrics ?? {})) this.set({ tier, stat }, value);
        }
      },
    });
  }

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status: String(status) }, seconds);
  }
}
