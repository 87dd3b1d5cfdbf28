import { Injectable, Logger } from '@nestjs/common';
import { CubeRecord, CubeRepository, LifecycleActor, LifecycleMemory, LifecycleRepository } from '@engram/persistence';
import { DerivedCleanup, MemoryChangeListener } from '../inference/memory-change.listener';
import { CubeIndexManager } from '../memories/cube-index.manager';
import { DeferredEmbeddingService } from '../memories/deferred-embedding.service';
import { EmbedderRegistry } from '../memories/embedder.registry';
import { LifecycleMetrics } from './lifecycle.metrics';
import { LifecyclePolicy } from './lifecycle-policy';
import { LifecyclePolicies } from './lifecycle-policy.service';
import { LlmClient, PairVerdict } from './llm.client';
import { pairKey, PlannedAction, planChanges, planSweep } from './lifecycle.planner';
import { analyseText, compareTexts } from './duplicate.rules';

/** Memories read per planning batch: a 100k cube is never loaded at once. */
const TICK_BATCH = 500;
const SWEEP_BATCH = 2000;
/** Index neighbours looked at per changed memory (rules mode). */
const NEIGHBOURS = 6;
/**
 * Words of a memory used as its neighbour query: duplicates share all of their content
 * words, so a few of the longest (rarest, and cheapest to look up) find them.
 */
const QUERY_WORDS = 10;
/** Memories a sweep expires or archives per transaction. */
const SWEEP_ACTION_SIZE = 100;
/** Neighbours per changed memory that LLM mode asks about. */
const LLM_PAIRS = 2;

export interface ExecutedAction {
  type: PlannedAction['type'];
  memoryIds: string[];
  targetId?: string;
  reason: Record<string, unknown>;
  status: 'applied' | 'skipped';
  why?: string;
}

export interface Heartbeat {
  (progress?: Record<string, unknown>): Promise<void>;
}

/**
 * The scheduler's side of "plan, then apply": builds the planner's snapshots from the
 * database and the cube's own index, batch by batch, and applies each planned action in
 * its own short transaction (LifecycleRepository.apply re-checks every version there).
 */
@Injectable()
export class LifecycleEngine {
  private readonly logger = new Logger('Lifecycle');

  constructor(
    private readonly lifecycle: LifecycleRepository,
    private readonly cubes: CubeRepository,
    private readonly policies: LifecyclePolicies,
    private readonly indexes: CubeIndexManager,
    private readonly embedders: EmbedderRegistry,
    private readonly metrics: LifecycleMetrics,
    private readonly llm: LlmClient,
    private readonly changes: MemoryChangeListener,
    private readonly deferred: DeferredEmbeddingService,
  ) {}

  /** A live cube or null (deleted cubes are not worked on). */
  async liveCube(cubeId: string): Promise<CubeRecord | null> {
    const cube = await this.cubes.getAny(cubeId);
    return cube && cube.deletedAt === null ? cube : null;
  }

  /** Fusion and invalidation over the cube's change feed since the last tick. */
  async tick(cubeId: string, heartbeat?: Heartbeat): Promise<{ processed: number; actions: ExecutedAction[] }> {
    const cube = await this.liveCube(cubeId);
    if (!cube) return { processed: 0, actions: [] };
    const policy = await this.policies.effective(cube.tenantId, cubeId);
    let seq = await this.lifecycle.processedSeq(cubeId);
    let processed = 0;
    const executed: ExecutedAction[] = [];
    for (;;) {
      const batch = await this.lifecycle.changedSince(cubeId, seq, TICK_BATCH);
      if (!batch.length) break;
      const planned = await this.planBatch(cube, policy, batch);
      executed.push(...(await this.execute(cube, planned, null, true)));
      const now = Date.now();
      for (const m of batch) if (m.version === 1) this.metrics.recordLag(now - m.createdAt.getTime());
      seq = batch[batch.length - 1].changeSeq;
      await this.lifecycle.advanceProcessedSeq(cubeId, seq);
      processed += batch.length;
      await heartbeat?.({ processed, seq });
      if (batch.length < TICK_BATCH) break;
    }
    return { processed, actions: executed };
  }

  /** TTL and idleness over every active memory of the cube, in label-ordered batches. */
  async sweep(cubeId: string, heartbeat?: Heartbeat): Promise<ExecutedAction[]> {
    const cube = await this.liveCube(cubeId);
    if (!cube) return [];
    const policy = await this.policies.effective(cube.tenantId, cubeId);
    const executed: ExecutedAction[] = [];
    for await (const planned of this.sweepPlans(cubeId, policy, new Date())) {
      for (const batch of batchTimeActions(planned)) {
        const [outcome] = await this.execute(cube, [batch], null, false);
        // A memory changed since planning spoils its batch: the others go one by one.
        if (outcome.status === 'skipped' && batch.memoryIds.length > 1) {
          executed.push(...(await this.execute(cube, planned.filter((a) => batch.memoryIds.includes(a.memoryIds[0])), null, false)));
        } else executed.push(...explode(outcome));
      }
      await heartbeat?.({ swept: executed.length });
    }
    await this.lifecycle.markSwept(cubeId);
    return executed;
  }

  /**
   * The whole plan for a cube now: fusion and invalidation over every active memory, then
   * TTL and idleness. Nothing changes; a dry run answers this.
   */
  async plan(cube: CubeRecord): Promise<PlannedAction[]> {
    const policy = await this.policies.effective(cube.tenantId, cube.id);
    const actions: PlannedAction[] = [];
    const touched = new Set<string>();
    const keep = (a: PlannedAction) => {
      if (a.memoryIds.some((id) => touched.has(id)) || (a.targetId && touched.has(a.targetId))) return;
      for (const id of a.memoryIds) touched.add(id);
      actions.push(a);
    };
    let after = 0;
    for (;;) {
      const batch = await this.lifecycle.activeAfter(cube.id, after, TICK_BATCH);
      if (!batch.length) break;
      for (const a of await this.planBatch(cube, policy, batch)) keep(a);
      after = batch[batch.length - 1].label;
    }
    for await (const planned of this.sweepPlans(cube.id, policy, new Date())) for (const a of planned) keep(a);
    return actions;
  }

  /** Plans and applies everything for a cube (a requested run). */
  async run(cube: CubeRecord, runId: string, heartbeat?: Heartbeat): Promise<ExecutedAction[]> {
    const planned = await this.plan(cube);
    await heartbeat?.({ planned: planned.length });
    return this.execute(cube, planned, runId, false);
  }

  private async *sweepPlans(cubeId: string, policy: LifecyclePolicy, now: Date): AsyncGenerator<PlannedAction[]> {
    const rules = {
      now,
      kinds: Object.keys(policy.ttl.byKind),
      tags: Object.keys(policy.ttl.byTag),
      idleBefore: policy.archiveAfterIdleDays === null ? null : new Date(now.getTime() - policy.archiveAfterIdleDays * 86_400_000),
    };
    let after = 0;
    for (;;) {
      const onlyExplicit = !rules.kinds.length && !rules.tags.length && rules.idleBefore === null;
      const { rows, lastLabel } = onlyExplicit
        ? await this.lifecycle.explicitlyExpired(cubeId, after, SWEEP_BATCH, now)
        : await this.lifecycle.sweepCandidates(cubeId, after, SWEEP_BATCH, rules);
      if (lastLabel === null) return;
      const planned = planSweep(rows, policy, now.getTime());
      if (planned.length) yield planned;
      after = lastLabel;
    }
  }

  /** The snapshot for one batch: index neighbours and fact peers, then the pure planner. */
  private async planBatch(cube: CubeRecord, policy: LifecyclePolicy, batch: LifecycleMemory[]): Promise<PlannedAction[]> {
    const active = batch.filter((m) => m.state === 'active' && !m.pinned);
    if (!active.length) return [];
    this.remember(batch);
    const neighbours = new Map<string, LifecycleMemory[]>();
    if (policy.fusion.enabled) {
      const embedder = this.embedders.forSettings(cube.settings);
      const { index } = await this.indexes.current(cube.id, embedder);
      const labelsOf = new Map<string, number[]>();
      const wanted = new Set<number>();
      for (const [i, m] of active.entries()) {
        // Neighbour searches are CPU work: let requests in between (a worker inside the server).
        if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
        const words = [...new Set(m.text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])];
        const query = words.sort((x, y) => y.length - x.length).slice(0, QUERY_WORDS).join(' ');
        if (!query) continue;
        const labels = index
          .search(query, null, { topK: NEIGHBOURS, filter: { states: ['active'] } })
          .map((h) => h.label)
          .filter((l) => l !== m.label);
        labelsOf.set(m.id, labels);
        for (const l of labels) wanted.add(l);
      }
      const rows = await this.lifecycle.byLabels(cube.id, [...wanted]);
      this.remember(rows);
      const byLabel = new Map(rows.map((r) => [r.label, r]));
      for (const [id, labels] of labelsOf) neighbours.set(id, labels.map((l) => byLabel.get(l)).filter((r): r is LifecycleMemory => r !== undefined));
    }
    const factPeers = new Map<string, LifecycleMemory[]>();
    const keys = [...new Set(active.filter((m) => m.factKey !== null).map((m) => m.factKey!))];
    if (policy.invalidation.enabled && keys.length) {
      for (const m of await this.lifecycle.activeByFactKeys(cube.id, keys)) {
        const list = factPeers.get(m.factKey!) ?? [];
        list.push(m);
        factPeers.set(m.factKey!, list);
      }
    }
    const verdicts = policy.fusion.enabled && policy.fusion.mode === 'llm' ? await this.llmVerdicts(cube, active, neighbours) : undefined;
    return planChanges({ policy, changed: active, neighbours, factPeers, verdicts });
  }

  /**
   * LLM mode: the endpoint classifies each changed memory against its nearest neighbours
   * (pairs that rules already call the same content need no call). A failing endpoint
   * fails the tick, which the queue retries with backoff; nothing is changed meanwhile.
   */
  private async llmVerdicts(cube: CubeRecord, active: LifecycleMemory[], neighbours: Map<string, LifecycleMemory[]>): Promise<Map<string, PairVerdict>> {
    const verdicts = new Map<string, PairVerdict>();
    for (const m of active) {
      for (const c of (neighbours.get(m.id) ?? []).filter((n) => n.kind === m.kind && n.state === 'active').slice(0, LLM_PAIRS)) {
        const rules = compareTexts(analyseText(m.text), analyseText(c.text), 1);
        if (rules.duplicate && rules.rule === 'same-content') continue;
        const [first, second] = m.createdAt.getTime() <= c.createdAt.getTime() ? [m, c] : [c, m];
        verdicts.set(pairKey(m.id, c.id), await this.llm.classifyPair(cube.tenantId, first.text, second.text));
      }
    }
    return verdicts;
  }

  /**
   * Applies actions one by one, each in its own transaction. Versions this executor itself
   * moved (a survivor absorbing several duplicates) are carried forward; any other change
   * since the plan makes the action a skip, with why.
   */
  async execute(cube: CubeRecord, actions: PlannedAction[], runId: string | null, measureLag: boolean): Promise<ExecutedAction[]> {
    const ours = new Map<string, { planned: number; now: number }>();
    const out: ExecutedAction[] = [];
    for (const action of actions) {
      const versions = { ...action.versions };
      for (const [id, v] of Object.entries(versions)) {
        const moved = ours.get(id);
        if (moved && moved.planned === v) versions[id] = moved.now;
      }
      const reason: Record<string, unknown> = { ...action.reason, ...(action.text !== undefined ? { textRewritten: true } : {}) };
      if (measureLag) reason.lagMs = Date.now() - (await this.newestCreation(cube.id, action));
      const actor: LifecycleActor = { actorType: 'policy', actorId: action.reason.policy, requestId: null };
      // What follows from the action as rows (stale marks, jobs, KV cache rows) commits with it (ADR 0530).
      const cleanups: DerivedCleanup[] = [];
      let rewritten: string | null = null;
      const outcome = await this.lifecycle.apply(
        cube.id,
        cube.tenantId,
        { type: action.type, memoryIds: action.memoryIds, targetId: action.targetId, text: action.text, reason, versions },
        actor,
        runId,
        async (tx, textChanged) => {
          cleanups.length = 0; // a retried transaction starts again
          rewritten = textChanged;
          if (textChanged) cleanups.push(await this.changes.memoryChanged(tx, cube.tenantId, cube.id, textChanged, false));
          cleanups.push(await this.changes.memoriesRetired(tx, cube.tenantId, cube.id, action.memoryIds)); // their bank blocks go stale at once (ADR 0403), their KV caches go
        },
      );
      const base = { type: action.type, memoryIds: action.memoryIds, ...(action.targetId ? { targetId: action.targetId } : {}), reason };
      if (outcome.applied) {
        for (const cleanup of cleanups) await this.changes.afterCommit(cleanup, `lifecycle ${action.type}`);
        if (rewritten) this.deferred.schedule(cube.id); // the survivor's new text is embedded after the commit
        for (const [id, v] of Object.entries(outcome.versions)) ours.set(id, { planned: ours.get(id)?.planned ?? action.versions[id] ?? v, now: v });
        this.metrics.recordAction(action.reason.policy, action.type);
        out.push({ ...base, status: 'applied' });
      } else {
        out.push({ ...base, status: 'skipped', why: outcome.why });
      }
    }
    if (out.length) this.logger.debug(`cube ${cube.id}: ${out.filter((a) => a.status === 'applied').length} of ${out.length} lifecycle actions applied`);
    return out;
  }

  private readonly creation = new Map<string, number>();

  private remember(memories: LifecycleMemory[]): void {
    if (this.creation.size > 50_000) this.creation.clear();
    for (const m of memories) this.creation.set(m.id, m.createdAt.getTime());
  }

  /** When the newest memory an action involves was written (its decision lag starts there). */
  private async newestCreation(cubeId: string, action: PlannedAction): Promise<number> {
    const ids = [...action.memoryIds, ...(action.targetId ? [action.targetId] : [])];
    const missing = ids.filter((id) => !this.creation.has(id));
    if (missing.length) {
      this.remember(await this.lifecycle.byIds(cubeId, missing));
    }
    return Math.max(...ids.map((id) => this.creation.get(id) ?? 0));
  }
}

/** Expire and archive actions with the same rule, grouped into batches of one transaction each. */
function batchTimeActions(planned: PlannedAction[]): PlannedAction[] {
  const groups = new Map<string, PlannedAction[]>();
  for (const a of planned) {
    const key = `${a.type}\u0001${String(a.reason.rule)}`;
    const list = groups.get(key) ?? [];
    list.push(a);
    groups.set(key, list);
  }
  const out: PlannedAction[] = [];
  for (const list of groups.values()) {
    for (let i = 0; i < list.length; i += SWEEP_ACTION_SIZE) {
      const chunk = list.slice(i, i + SWEEP_ACTION_SIZE);
      out.push({
        type: chunk[0].type,
        memoryIds: chunk.flatMap((a) => a.memoryIds),
        reason: { policy: chunk[0].reason.policy, rule: chunk[0].reason.rule, ...(chunk.length === 1 ? chunk[0].reason : {}) },
        versions: Object.assign({}, ...chunk.map((a) => a.versions)) as Record<string, number>,
      });
    }
  }
  return out;
}

/** An applied batch reported per memory, as the planner planned it. */
function explode(outcome: ExecutedAction): ExecutedAction[] {
  return outcome.memoryIds.length === 1 ? [outcome] : outcome.memoryIds.map((id) => ({ ...outcome, memoryIds: [id] }));
}
