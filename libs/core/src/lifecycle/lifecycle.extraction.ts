import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { CubeRecord, LifecycleRepository, MemoryRepository, NewMemory } from '@engram/persistence';
import { EngramError } from '../errors/engram.error';
import { JobQueueService } from '../jobs/job-queue.service';
import { EmbedderRegistry } from '../memories/embedder.registry';
import { DeferredEmbeddingService } from '../memories/deferred-embedding.service';
import { LifecyclePolicies } from './lifecycle-policy.service';
import { LifecycleTrigger } from './lifecycle.trigger';
import { LlmClient } from './llm.client';

/**
 * Extraction: the raw turns are stored first (as `message` memories, whatever happens
 * next); a job then asks the operator's LLM for the facts in them and adds those as `fact`
 * memories with triples, linked back by `source.refs`. A failing LLM fails the job, which
 * the queue retries with backoff; the turns are never touched.
 */
@Injectable()
export class LifecycleExtraction {
  constructor(
    private readonly policies: LifecyclePolicies,
    private readonly llm: LlmClient,
    private readonly jobs: JobQueueService,
    private readonly lifecycle: LifecycleRepository,
    private readonly memories: MemoryRepository,
    private readonly embedders: EmbedderRegistry,
    private readonly deferred: DeferredEmbeddingService,
    private readonly trigger: LifecycleTrigger,
  ) {}

  /** Whether these messages are to be extracted: `mode`, else the cube's policy. 400 when asked without an LLM. */
  async wanted(cube: CubeRecord, mode: 'raw' | 'extract' | undefined): Promise<boolean> {
    if (mode === 'raw') return false;
    if (mode === 'extract') {
      if (!this.llm.configured) throw EngramError.validation([{ field: 'mode', problems: ['"extract" needs an LLM endpoint, which the operator has not configured (ENGRAM_LLM_BASE_URL); use "raw"'] }]);
      return true;
    }
    return this.llm.configured && (await this.policies.effective(cube.tenantId, cube.id)).extraction.enabled;
  }

  /** `tx`: the write storing the turns, so the job is queued exactly when they are stored (ADR 0530). */
  async enqueue(cube: CubeRecord, memoryIds: string[], tx?: EntityManager): Promise<void> {
    await this.jobs.enqueueLifecycleExtract(cube.tenantId, { cubeId: cube.id, memoryIds }, tx);
  }

  /** The job: extract, embed, insert (once: a rerun after a crash finds the facts already there). */
  async run(cube: CubeRecord, memoryIds: string[]): Promise<number> {
    if (await this.lifecycle.hasExtraction(cube.id, memoryIds)) return 0;
    const turns = (await this.lifecycle.byIds(cube.id, memoryIds)).filter((m) => m.state !== 'deleted').sort((a, b) => a.label - b.label);
    if (!turns.length) return 0;
    const facts = await this.llm.extractFacts(cube.tenantId, turns.map((t) => ({ role: t.role ?? 'user', content: t.text })));
    if (!facts.length) return 0;
    const embedder = this.embedders.forSettings(cube.settings);
    const vectors = embedder.deferWrites ? facts.map(() => null) : await this.embedders.embed(embedder, facts.map((f) => f.text));
    const last = turns[turns.length - 1];
    const sessionId = typeof last.source.sessionId === 'string' ? last.source.sessionId : null;
    const rows: NewMemory[] = facts.map((f, i) => ({
      text: f.text,
      kind: 'fact',
      role: null,
      tags: [],
      metadata: {},
      source: { type: 'extraction', refs: memoryIds, ...(sessionId ? { sessionId } : {}) },
      sessionId,
      observedAt: last.observedAt ?? last.createdAt,
      validFrom: last.observedAt ?? last.createdAt,
      validTo: null,
      importance: null,
      embedding: vectors[i],
      embedderFingerprint: vectors[i] ? embedder.fingerprint : null,
      pinned: false,
      expiresAt: null,
      fact: { subject: f.subject, predicate: f.predicate, object: f.object },
    }));
    await this.memories.unitOfWork((tx) => this.memories.insertMany(tx, cube.id, rows, { actorType: 'system', actorId: null, requestId: null }));
    if (embedder.deferWrites) this.deferred.schedule(cube.id);
    await this.trigger.cubeWritten(cube.tenantId, cube.id);
    return rows.length;
  }
}
