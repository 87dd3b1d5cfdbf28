// The work behind the bank jobs (build, write, forget), called by the scheduler's
// handlers. Every method is idempotent: a rerun after a crash ends in the same state.
import { Injectable, Logger } from '@nestjs/common';
import { BankText, ParametricError, ParametricErrorCode, type TextEmbedder } from '@engram/parametric';
import { BankBlockRepository, BankRecord, BankRepository, ConsolidationRepository, JobRecord, MemoryRepository, ModelRepository } from '@engram/persistence';
import { BankBuildPayload, BankForgetPayload, BankWritePayload } from '../jobs/job-names';
import { JobQueueService } from '../jobs/job-queue.service';
import { EmbedderRegistry } from '../memories/embedder.registry';
import { BankProvenance } from './bank-provenance.service';
import { BankStore } from './bank.store';

const PAGE = 500;
/** Progress rows are written at most this often. */
const PROGRESS_INTERVAL_MS = 250;

export interface BankJobControl {
  heartbeat(progress?: Record<string, unknown>): Promise<void>;
  /**
   * Aborted when the operator cancelled the job (`cancelled`) or another worker took it: the
   * job stops at its next training step or phase, before the bank file's commit, and the
   * bank keeps its generation. Absent when a job runs outside the runner (tests, replays).
   */
  readonly signal?: AbortSignal;
  readonly cancelled?: boolean;
}

@Injectable()
export class BankJobs {
  private readonly logger = new Logger('BankJobs');

  constructor(
    private readonly banks: BankRepository,
    private readonly blockRows: BankBlockRepository,
    private readonly memories: MemoryRepository,
    private readonly modelRows: ModelRepository,
    private readonly embedders: EmbedderRegistry,
    private readonly store: BankStore,
    private readonly provenance: BankProvenance,
    private readonly queue: JobQueueService,
    private readonly consolidation: ConsolidationRepository,
  ) {}

  /** Clusters the cube's active memories and writes the empty bank; the row becomes ready (or failed). */
  async build(job: JobRecord, control: BankJobControl): Promise<void> {
    const { bankId } = job.payload as unknown as BankBuildPayload;
    const bank = await this.banks.getAny(bankId);
    if (!bank || bank.state !== 'building') return; // deleted, or built by an earlier attempt
    const progress = this.progressWriter(bank.id, control);
    try {
      const model = (await this.modelRows.list()).find((m) => m.id === bank.modelId);
      if (!model) throw new ParametricError(ParametricErrorCode.InvalidConfig, 'the model of the bank is no longer registered');
      const texts = await this.activeTexts(bank.cubeId);
      if (!texts.length) throw new ParametricError(ParametricErrorCode.InvalidConfig, 'the cube has no active memories to build a bank from');
      const embedder = this.embedderOf(bank);
      control.signal?.throwIfAborted();
      const generation = await this.store.build(
        bank,
        { hidden: Number(model.config.hiddenSize), layers: Number(model.config.layers) },
        embedder,
        texts,
        (phase, done, total) => {
          control.signal?.throwIfAborted(); // per chunk of embeddings: a stopped build leaves its files unfinished
          progress({ phase, done, total });
        },
      );
      await progress.flush();
      // A rerun starts from an empty directory, so no block provenance survives it either.
      if (!(await this.blockRows.reset(bank.id, generation, { phase: 'ready', texts: texts.length }))) {
        this.store.remove(bank); // deleted while it was being built
      }
    } catch (error) {
      if (control.signal?.aborted) {
        // Stopped before the row became ready: the bank stays building, so a retry of the job builds it from scratch.
        // (A lost job is another worker's now: its files are left to it.)
        await progress.flush(); // progress already on its way lands before the row says cancelled
        if (control.cancelled) {
          this.store.remove(bank);
          await this.stopped(bank.id, job, 'build');
        }
        throw error;
      }
      const message = error instanceof Error ? error.message : String(error);
      // A bad configuration does not get better on retry; anything else is retried until attempts run out.
      const final = (error instanceof ParametricError && error.code === ParametricErrorCode.InvalidConfig) || job.attempts >= job.maxAttempts;
      if (final) {
        await this.banks.markFailed(bank.id, message);
        this.logger.warn(`bank ${bank.id} failed to build: ${message}`);
        return;
      }
      throw error;
    }
  }

  /**
   * Trains the blocks on the paths of the memories (anchor frozen); the corpus is these
   * memories plus every still-active memory the bank already holds, so shared blocks are
   * rehearsed, not overwritten. As a consolidation run does (ADR 0403), a memory of the
   * corpus whose words changed since the tree placed it is re-placed by its current words
   * and written at its new place. Runs under the bank's lock. Stopped (cancel, lost lease)
   * at a phase or a training step before the commit, it commits nothing.
   */
  async write(job: JobRecord, control: BankJobControl): Promise<void> {
    const payload = job.payload as unknown as BankWritePayload;
    const initial = await this.banks.getAny(payload.bankId);
    if (!initial || initial.state !== 'ready') return;
    const model = (await this.modelRows.list()).find((m) => m.id === initial.modelId);
    if (!model) return;
    const signal = control.signal;
    const progress = this.progressWriter(initial.id, control);
    // Once the file committed a generation, the job finishes: its provenance must be recorded.
    let committed = false;
    const checkpoint = () => {
      if (!committed) signal?.throwIfAborted();
    };
    try {
      const anchor = this.store.anchor(model);
      await this.banks.withLock(initial.id, async () => {
        checkpoint(); // cancelled while it waited for the lock
        const row = await this.banks.getAny(initial.id);
        if (!row || row.state !== 'ready') return;
        const bank = await this.provenance.recoverLocked(row);
        const record = await this.provenance.load(bank);
        const { result: report, changes } = await this.store.mutate(bank, record, async (b) => {
          const held = new Set<string>(payload.memoryIds);
          for (const block of record.blocks) for (const id of block.memoryIds) held.add(id);
          const cubeTexts = await this.activeTexts(bank.cubeId);
          const corpus = cubeTexts.filter((t) => held.has(t.id));
          const active = new Set(corpus.map((t) => t.id));
          const requested = payload.memoryIds.filter((id) => active.has(id)); // deleted since the request: skipped
          const embedder = this.embedderOf(bank);
          // An edited memory kept the leaf its old words routed to, among texts like the old one: re-placed and written
          // at its new place (requested or not: the bank holds it); for a tree that predates placement fingerprints, the versions say.
          const unplaced = corpus.filter((t) => b.tree.leaves.has(t.id) && !b.tree.placedBy.has(t.id)).map((t) => t.id); // placed by an older tree
          const edited = new Set(unplaced.length ? await this.consolidation.textChangedSinceWritten(bank.id, unplaced) : []);
          const replaced = (await b.reassign(embedder, corpus, edited)).map((m) => m.id);
          const moved = replaced.filter((id) => !requested.includes(id));
          await b.assign(embedder, corpus);
          checkpoint();
          // Replay keeps the blocks from changing unrelated text (ADR 0304): anchor samples
          // (cached in the bank directory) or the cube's other memories.
          const settings = payload.replay ?? bank.replay;
          if (settings.source === 'anchor') progress({ phase: 'replay', done: 0, total: settings.samples });
          const replay = await b.replayFor(anchor, settings, { embedder, texts: cubeTexts });
          const replayed = { ...settings, sequences: replay.sequences, cached: replay.cached };
          checkpoint();
          // Gradients from the ONNX gradient graph on ONNX Runtime (ADR 0301), as the CLI does by default.
          const options = {
            epochs: payload.epochs ?? undefined,
            gradient: 'onnx' as const,
            ...replay.options,
            // Each training step is a checkpoint: a throw here ends the training before the commit.
            onProgress: (step: number, steps: number, loss: number) => {
              checkpoint();
              progress({ phase: 'write', done: step, total: steps, loss });
            },
          };
          const before = b.file.generation;
          const rewritten = payload.rewriteStale ? await b.rewriteStaleAsync(anchor, corpus, options) : null;
          committed = b.file.generation !== before;
          const toWrite = [...requested, ...moved];
          const written = toWrite.length ? await b.writeAsync(anchor, toWrite, corpus, options) : null;
          return {
            written: requested.length,
            replaced: replaced.length,
            blocks: (written?.blocks.length ?? 0) + (rewritten?.blocks.length ?? 0),
            finalLoss: written?.finalLoss ?? rewritten?.finalLoss ?? null,
            gradient: written?.gradient ?? rewritten?.gradient ?? null,
            replay: replayed,
          };
        });
        committed = true;
        await progress.flush();
        // The file committed first; its blocks' provenance and the generation follow in one transaction (ADR 0305).
        await this.provenance.record(bank.id, changes, { phase: 'written', jobId: job.id, memories: report.written, replaced: report.replaced, blocks: report.blocks, finalLoss: report.finalLoss, gradient: report.gradient, replay: report.replay });
      });
    } catch (error) {
      // The bank file keeps its previous generation (journaled commit); say why on the row.
      await progress.flush(); // progress already on its way lands before the row says why the write ended
      if (signal?.aborted && control.cancelled && !committed) await this.stopped(initial.id, job, 'write');
      else await this.banks.recordError(initial.id, `write ${job.id} failed: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
  }

  /** A build or write the operator cancelled, said on the bank row (its generation did not change). */
  private async stopped(bankId: string, job: JobRecord, what: 'build' | 'write'): Promise<void> {
    await this.banks.setProgress(bankId, { phase: 'cancelled', jobId: job.id });
    await this.banks.recordError(bankId, `${what} ${job.id} was cancelled by the operator; retrying the job runs it again from the start`);
  }

  /** Marks the blocks holding a deleted (or edited) memory stale in every ready bank of the cube (rows only: the weights do not change). */
  async forget(job: JobRecord): Promise<void> {
    const { cubeId, memoryId, deleted, rewrite, tenantId } = job.payload as unknown as BankForgetPayload;
    const failures: string[] = [];
    for (const initial of await this.banks.listByCube(cubeId, ['ready'])) {
      try {
        await this.banks.withLock(initial.id, async () => {
          const bank = await this.banks.getAny(initial.id);
          if (!bank || bank.state !== 'ready') return;
          // Recovery first: a block whose commit the rows missed must be found holding the memory too.
          await this.provenance.recoverLocked(bank);
          await this.blockRows.markStale(bank.id, memoryId, deleted);
        });
        // Erase: the stale blocks are retrained from fresh weights on what they still hold (after the marking, never before).
        if (rewrite && tenantId) await this.queue.enqueueBankWrite(tenantId, { bankId: initial.id, cubeId, memoryIds: [], rewriteStale: true, epochs: null });
      } catch (error) {
        failures.push(`bank ${initial.id}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    // One broken bank does not keep the others from forgetting; the retry redoes all (idempotent).
    if (failures.length) throw new Error(`could not mark memory ${memoryId} stale in ${failures.join('; ')}`);
  }

  /** The bank's embedder, refused when it no longer has the fingerprint the bank was built with. */
  embedderOf(bank: BankRecord): TextEmbedder {
    const embedder = this.embedders.forSettings({ embedder: bank.embedder });
    if (embedder.fingerprint !== bank.embedderFingerprint) {
      throw new ParametricError(ParametricErrorCode.EmbedderMismatch, `the embedder of bank ${bank.id} changed (now ${embedder.fingerprint}, built with ${bank.embedderFingerprint})`);
    }
    return { fingerprint: embedder.fingerprint, embed: (texts) => this.embedders.embed(embedder, texts) };
  }

  private async activeTexts(cubeId: string): Promise<BankText[]> {
    const texts: BankText[] = [];
    let cursor: string | null = null;
    for (;;) {
      const page = await this.memories.list(cubeId, {}, PAGE, cursor);
      if (!page) break;
      for (const m of page.items) texts.push({ id: m.id, text: m.text });
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    return texts;
  }

  /** Progress from synchronous callbacks: written to the bank row and the job, throttled, in order. */
  private progressWriter(bankId: string, control: BankJobControl): ((p: Record<string, unknown>) => void) & { flush(): Promise<void> } {
    let chain: Promise<void> = Promise.resolve();
    let last = 0;
    let pending: Record<string, unknown> | null = null;
    const send = (p: Record<string, unknown>) => {
      chain = chain
        .then(async () => {
          if (control.signal?.aborted) return; // stopped: the job's end says the rest
          await this.banks.setProgress(bankId, p);
          await control.heartbeat(p);
        })
        .catch((error: unknown) => {
          if (!control.signal?.aborted) this.logger.warn(`progress of bank ${bankId}: ${String(error)}`);
        });
    };
    const write = (p: Record<string, unknown>) => {
      const now = Date.now();
      if (now - last < PROGRESS_INTERVAL_MS) {
        pending = p;
        return;
      }
      last = now;
      pending = null;
      send(p);
    };
    return Object.assign(write, {
      flush: async () => {
        if (pending) send(pending);
        pending = null;
        await chain;
      },
    });
  }
}
