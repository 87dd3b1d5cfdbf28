// Consolidation into parametric memory (ADR 0403): a cube's stable, hot memories are
// written into the bank its policy names, stale blocks (a held memory was edited, deleted,
// merged or superseded) are re-initialised and rewritten with the current values, and the
// new generation is verified before it is committed — recall of the written texts with
// their blocks, held-out perplexity against the anchor. A generation that misses the
// policy's thresholds is never committed: the bank keeps serving the previous one.
import { Injectable, Logger } from '@nestjs/common';
import { sampleAnchorSequences, type AnchorModel, type BankText, type CommitFaults, type WriteReport, type WriteVerification } from '@engram/parametric';
import { BankBlockRepository, BankRecord, BankRepository, ConsolidationRepository, CubeRepository, LifecycleActor, LifecycleMemory, LifecycleRepository, ModelRepository } from '@engram/persistence';
import { JobQueueService } from '../jobs/job-queue.service';
import type { ConsolidationPolicy } from '../lifecycle/consolidation-policy';
import { heatOf } from '../lifecycle/heat';
import { LifecycleMetrics } from '../lifecycle/lifecycle.metrics';
import { LifecyclePolicies } from '../lifecycle/lifecycle-policy.service';
import { BankJobs } from './bank-jobs.service';
import { BankProvenance } from './bank-provenance.service';
import { BankStore } from './bank.store';

/** Held-out anchor samples perplexity is measured on (a seed the write's replay does not use). */
const HELD_OUT = { count: 16, maxTokens: 32, seed: 7919 };
/** Successions followed from a retired memory to the one that holds its current value. */
const MAX_SUCCESSION_HOPS = 8;
const ACTOR: LifecycleActor = { actorType: 'policy', actorId: 'consolidation', requestId: null };

export interface ConsolidationOutcome {
  status: 'committed' | 'rolled-back' | 'nothing' | 'skipped';
  why?: string;
  bankId?: string;
  /** The bank's generation after the run (unchanged unless committed). */
  generation?: number;
  /** Memories newly written, and memories of stale blocks rewritten. */
  written?: string[];
  rewritten?: string[];
  verification?: WriteVerification;
}

export interface ConsolidationRunOptions {
  heartbeat?: (progress: Record<string, unknown>) => Promise<void>;
  /** Aborted when the job is cancelled (or lost): the run stops at its next phase or training step, before the commit. */
  signal?: AbortSignal;
  /** Passes over the texts (default: the library's write default). */
  epochs?: number;
  /** Crash simulation in tests: the bank file's commit fails at this point. */
  faults?: CommitFaults;
}

@Injectable()
export class BankConsolidation {
  private readonly logger = new Logger('Consolidation');
  private heldOut: { fingerprint: string; sequences: number[][] } | null = null;

  constructor(
    private readonly cubes: CubeRepository,
    private readonly policies: LifecyclePolicies,
    private readonly banks: BankRepository,
    private readonly blockRows: BankBlockRepository,
    private readonly modelRows: ModelRepository,
    private readonly rows: ConsolidationRepository,
    private readonly lifecycle: LifecycleRepository,
    private readonly store: BankStore,
    private readonly provenance: BankProvenance,
    private readonly bankJobs: BankJobs,
    private readonly queue: JobQueueService,
    private readonly metrics: LifecycleMetrics,
  ) {}

  /** Queues a consolidation run of the cube when its policy names a bank (one pending per cube). */
  async enqueueIfConfigured(tenantId: string, cubeId: string): Promise<boolean> {
    const policy = await this.policies.effective(tenantId, cubeId);
    if (!policy.consolidation.bankId) return false;
    await this.queue.enqueueBankConsolidate(tenantId, { cubeId });
    return true;
  }

  /** One consolidation run of a cube. Idempotent: a rerun finds what is still stale or unwritten. */
  async run(cubeId: string, options: ConsolidationRunOptions = {}): Promise<ConsolidationOutcome> {
    const cube = await this.cubes.getAny(cubeId);
    if (!cube || cube.deletedAt !== null) return { status: 'skipped', why: 'the cube was deleted' };
    const policy = (await this.policies.effective(cube.tenantId, cubeId)).consolidation;
    if (!policy.bankId) return { status: 'skipped', why: 'the cube has no consolidation policy' };
    const initial = await this.banks.get(cubeId, policy.bankId);
    if (!initial) return { status: 'skipped', why: `bank ${policy.bankId} is not a bank of this cube (deleted?)` };
    if (initial.state !== 'ready') return { status: 'skipped', why: `bank ${initial.id} is ${initial.state}` };
    const model = (await this.modelRows.list()).find((m) => m.id === initial.modelId);
    if (!model || model.fingerprint !== initial.modelFingerprint) return { status: 'skipped', why: `the model bank ${initial.id} was built for is gone or changed` };
    const anchor = this.store.anchor(model);
    return this.banks.withLock(initial.id, async () => {
      const row = await this.banks.getAny(initial.id);
      if (!row || row.state !== 'ready') return { status: 'skipped', why: 'the bank was deleted' };
      return this.consolidateLocked(cube.tenantId, await this.provenance.recoverLocked(row), anchor, policy, options);
    });
  }

  private async consolidateLocked(tenantId: string, bank: BankRecord, anchor: AnchorModel, policy: ConsolidationPolicy, options: ConsolidationRunOptions): Promise<ConsolidationOutcome> {
    const record = await this.provenance.load(bank);
    const staleBlocks = record.blocks.filter((b) => b.stale);
    const now = Date.now();
    const candidates = (await this.rows.candidates(bank.cubeId, bank.id, { minAccesses: policy.minAccesses, changedBefore: new Date(now - policy.minAgeHours * 3_600_000), limit: policy.maxPerRun * 4 }))
      .map((c) => ({ ...c, heat: heatOf(c, now) }))
      .sort((a, b) => b.heat - a.heat || a.id.localeCompare(b.id))
      .slice(0, policy.maxPerRun);
    if (!candidates.length && !staleBlocks.length) return { status: 'nothing', bankId: bank.id, generation: bank.generation };

    // The corpus: what the bank holds (rehearsed, or rewritten where stale) and the candidates, at their current text.
    const held = new Set(record.blocks.flatMap((b) => b.memoryIds));
    const wanted = [...new Set([...held, ...candidates.map((c) => c.id)])];
    const read = await this.lifecycle.byIds(bank.cubeId, wanted);
    // A memory of a stale block that was superseded or merged: the memory that took its place holds its current value and
    // is written in its place (ADR 0405), as an edited one is rewritten with its new text, whatever its own heat and age.
    const successors = await this.successorsOf(bank.cubeId, read.filter((m) => m.state !== 'active' && m.state !== 'deleted' && staleBlocks.some((b) => b.memoryIds.includes(m.id))), new Set(wanted));
    const current = [...read, ...successors].filter((m) => m.state === 'active');
    const corpus: BankText[] = current.map((m) => ({ id: m.id, text: m.text }));
    const trainedVersions = new Map(current.map((m) => [m.id, m.version]));
    const active = new Set(corpus.map((t) => t.id));
    const written = [...new Set([...candidates.map((c) => c.id), ...successors.map((m) => m.id)])].filter((id) => active.has(id));
    const rewritten = [...new Set(staleBlocks.flatMap((b) => b.memoryIds))].filter((id) => active.has(id) && !written.includes(id));
    const thresholds = policy.thresholds;
    const embedder = this.bankJobs.embedderOf(bank);
    let lastBeat = 0;
    // A memory whose words changed since the tree placed it (an edit, a merge into it) is re-placed by its current
    // words and written at its new place (ADR 0403); for a tree that predates placement fingerprints, the versions say.
    const edited = new Set(await this.rows.textChangedSinceWritten(bank.id, rewritten));
    const moved: string[] = [];
    const { result: report, changes } = await this.store.mutate(bank, record, async (b): Promise<WriteReport> => {
      moved.push(...(await b.reassign(embedder, corpus, edited)).map((m) => m.id).filter((id) => !written.includes(id)));
      await b.assign(embedder, corpus);
      options.signal?.throwIfAborted();
      const replay = await b.replayFor(anchor, bank.replay, { embedder, texts: corpus });
      options.signal?.throwIfAborted();
      return b.consolidateAsync(anchor, [...written, ...moved], corpus, {
        gradient: 'onnx',
        epochs: options.epochs,
        faults: options.faults,
        ...replay.options,
        onProgress: (step, steps, loss) => {
          options.signal?.throwIfAborted(); // a throw here ends the training: nothing is committed
          if (!options.heartbeat || Date.now() - lastBeat < 1000) return;
          lastBeat = Date.now();
          void options.heartbeat({ phase: 'consolidate', bankId: bank.id, done: step, total: steps, loss }).catch(() => undefined);
        },
        verify: {
          heldOut: this.heldOutFor(anchor),
          memoryIds: [...written, ...rewritten],
          accept: (v) =>
            v.recall < thresholds.minRecall
              ? `recall ${round(v.recall)} is below the policy's minRecall ${thresholds.minRecall}`
              : v.perplexityIncrease > thresholds.maxPerplexityIncrease
                ? `held-out perplexity +${round(v.perplexityIncrease * 100)}% exceeds the policy's maxPerplexityIncrease ${round(thresholds.maxPerplexityIncrease * 100)}%`
                : null,
        },
      });
    });
    const figures = { written: written.length, rewritten: rewritten.length, replaced: moved.length, successors: successors.length, staleBlocks: staleBlocks.length, verification: report.verification ?? null, thresholds };
    const event = (outcome: string, after: Record<string, unknown>, why?: string) =>
      this.lifecycle.recordEvent({
        cubeId: bank.cubeId,
        tenantId,
        memoryIds: [...written, ...rewritten],
        action: 'consolidate',
        reason: { policy: 'consolidation', outcome, bankId: bank.id, ...(why ? { why } : {}), ...figures },
        actor: ACTOR,
        before: { bank: { id: bank.id, generation: bank.generation, staleBlocks: staleBlocks.map((s) => ({ level: s.level, node: s.node })) } },
        after: { bank: { id: bank.id, ...after } },
      });

    if (report.rejected) {
      // Nothing was committed: the previous generation keeps serving and stale blocks stay out of chat.
      await this.banks.setProgress(bank.id, { phase: 'consolidation-rolled-back', why: report.rejected, ...figures });
      await event('rolled-back', { generation: bank.generation }, report.rejected);
      this.metrics.recordAction('consolidation', 'rollback');
      this.logger.warn(`bank ${bank.id}: consolidation rolled back: ${report.rejected}`);
      return { status: 'rolled-back', why: report.rejected, bankId: bank.id, generation: bank.generation, written, rewritten, verification: report.verification };
    }
    await this.provenance.record(bank.id, changes, { phase: 'consolidated', generation: changes.generation, blocks: changes.blocks.length, finalLoss: report.finalLoss, ...figures });
    // A memory changed while the blocks were trained holds its old value there: stale at once (the forget job marks it again too).
    for (const m of await this.rows.versions(bank.cubeId, corpus.map((t) => t.id))) {
      if (m.state !== 'active' || m.version !== trainedVersions.get(m.id)) await this.blockRows.markStale(bank.id, m.id, m.state === 'deleted');
    }
    await event('committed', { generation: changes.generation, blocks: changes.blocks.map((c) => ({ level: c.level, node: c.node, memoryIds: c.memoryIds })) });
    this.metrics.recordAction('consolidation', 'consolidate');
    return { status: 'committed', bankId: bank.id, generation: changes.generation, written, rewritten, verification: report.verification };
  }

  /**
   * The active memories that took the place of these (superseded by, merged into; followed
   * through a chain of such steps, ending at a deleted one), but those `known` (held by the bank
   * or candidates already).
   */
  private async successorsOf(cubeId: string, retired: readonly LifecycleMemory[], known: ReadonlySet<string>): Promise<LifecycleMemory[]> {
    const found = new Map<string, LifecycleMemory>();
    const seen = new Set(retired.map((m) => m.id));
    let step = retired;
    for (let hop = 0; hop < MAX_SUCCESSION_HOPS && step.length; hop++) {
      const next = [...new Set(step.map((m) => m.supersededBy ?? m.mergedInto).filter((id): id is string => id !== null && !seen.has(id)))];
      next.forEach((id) => seen.add(id));
      const rows = await this.lifecycle.byIds(cubeId, next);
      for (const m of rows) if (m.state === 'active' && !known.has(m.id)) found.set(m.id, m);
      step = rows.filter((m) => m.state !== 'active' && m.state !== 'deleted'); // a deleted memory is forgotten, not replaced
    }
    return [...found.values()];
  }

  private heldOutFor(anchor: AnchorModel): number[][] {
    if (this.heldOut?.fingerprint !== anchor.fingerprint) this.heldOut = { fingerprint: anchor.fingerprint, sequences: sampleAnchorSequences(anchor, HELD_OUT) };
    return this.heldOut.sequences;
  }
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
