import { Inject, Injectable } from '@nestjs/common';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { randomUUID } from 'node:crypto';
import { MemoryBlock } from '@engram/inference';
import { memoryRoute, ParametricError, ParametricErrorCode, type LeftOutReason } from '@engram/parametric';
import { BankBlockRepository, BankRecord, BankRepository, ConsolidationRepository, MemoryRepository, ModelRecord, ModelRepository } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import {
  BankBlockMapDto,
  BankBlockResponseDto,
  BankJobResponseDto,
  BankResponseDto,
  CreateBankDto,
  mapBank,
  mapBankBlock,
  mapBankBlockCell,
  MAX_BANK_NODES,
  resolveReplay,
  WriteBankDto,
} from '../dtos/bank.dto';
import { EngramError } from '../errors/engram.error';
import { ErrorCode } from '../errors/error-code';
import { JobQueueService } from '../jobs/job-queue.service';
import { EmbedderRegistry } from '../memories/embedder.registry';
import { AuditService } from '../services/audit.service';
import { RequestContext } from '../services/request-context';
import { ModelService } from '../inference/model.service';
import { BankProvenance } from './bank-provenance.service';
import { BankStore } from './bank.store';
import { bankFileBytes, QuotaService } from '../quotas/quota.service';

const DEFAULT_LEVELS = 4;
const DEFAULT_BRANCHING = 16;
const DEFAULT_RANK = 16;

/** How chat chose the bank: named by the request (`engram.bankId`) or the cube's consolidation policy. */
export type ChatBankSource = 'request' | 'policy';

/** Why a bank did not speak in a chat (nothing attached). */
export type ChatBankUnused = 'not-consolidated' | 'stale' | 'no-match' | 'not-ready' | 'other-model' | 'gone';

/** What chat completions use of a bank: the routed path and its blocks, one per level (attached as they are). */
export interface RoutedBankMemory {
  bankId: string;
  source: ChatBankSource;
  generation: number;
  /** Whether any block is attached; when not, `reason` says why and `memory` is empty. */
  used: boolean;
  reason: ChatBankUnused | null;
  /** 'memory': the path of the best retrieved memory (`memoryId`); 'text': the conversation's embedding (nothing was retrieved). */
  routedBy: 'memory' | 'text' | null;
  memoryId: string | null;
  /** Routed by text: the cosine of the conversation to its leaf's centroid; null otherwise. */
  similarity: number | null;
  path: number[];
  memory: readonly MemoryBlock[];
  /** Levels whose block is stale (a memory it holds changed): left out of the request (ADR 0403). */
  staleLevels: number[];
  /** Every level left out, and why (ADR 0403). */
  leftOut: Array<{ level: number; why: LeftOutReason }>;
}

/** What chat retrieved, for routing by memory: the search's best memory and every memory whose text is in the prompt. */
export interface ChatBankMemories {
  best: string | null;
  inPrompt: readonly string[];
}

const NO_BLOCK: MemoryBlock = Object.freeze({ rank: 0, gate: new Float32Array(0), up: new Float32Array(0), down: new Float32Array(0) });

/**
 * Parametric memory banks of a cube (ADR 0302). Building and writing train on the CPU
 * and run as jobs; the routes answer 202 with the job and the bank reports progress.
 */
@Injectable()
export class BankService {
  constructor(
    private readonly access: AccessService,
    private readonly banks: BankRepository,
    private readonly memories: MemoryRepository,
    private readonly models: ModelService,
    private readonly modelRows: ModelRepository,
    private readonly embedders: EmbedderRegistry,
    private readonly jobs: JobQueueService,
    private readonly store: BankStore,
    private readonly provenance: BankProvenance,
    private readonly blocks: BankBlockRepository,
    private readonly quotas: QuotaService,
    @Inject(ENGRAM_CONFIG) private readonly config: EngramConfig,
    private readonly audit: AuditService,
    private readonly consolidation: ConsolidationRepository,
  ) {}

  async create(ctx: RequestContext, cubeId: string, dto: CreateBankDto): Promise<BankJobResponseDto> {
    const cube = await this.access.requireCube(ctx.auth, Permission.BankWrite, cubeId);
    await this.quotas.requireJobSlot(cube.tenantId);
    const model = await this.models.resolve(dto.model);
    if (model.format !== 'safetensors') {
      throw new EngramError(ErrorCode.ModelInvalid, `model "${model.name}" is an ONNX export without memory inputs; banks need a model engram builds the graph of (safetensors)`);
    }
    const levels = dto.levels ?? dto.blockSizes?.length ?? DEFAULT_LEVELS;
    const branching = dto.branching ?? DEFAULT_BRANCHING;
    if (dto.blockSizes && dto.blockSizes.length !== levels) {
      throw EngramError.validation([{ field: 'blockSizes', problems: [`blockSizes must hold one rank per level (${levels})`] }]);
    }
    if (dto.blockSizes?.every((rank) => rank === 0)) {
      throw EngramError.validation([{ field: 'blockSizes', problems: ['at least one level needs a rank above 0'] }]);
    }
    let nodes = 0;
    for (let l = 1; l <= levels; l++) nodes += branching ** l;
    if (nodes > MAX_BANK_NODES) {
      throw EngramError.validation([{ field: 'levels', problems: [`${levels} levels of branching ${branching} make ${nodes} blocks; at most ${MAX_BANK_NODES}`] }]);
    }
    // What the bank costs on disk is slots × rank × the model's size, not slots alone.
    const ranks = dto.blockSizes ?? new Array<number>(levels).fill(DEFAULT_RANK);
    const shape = model.config as { layers?: number; hiddenSize?: number };
    const bytes = bankFileBytes({ levels, branching, ranks }, model.config);
    if (bytes > this.config.bankMaxBytes) {
      throw EngramError.validation([
        { field: 'blockSizes', problems: [`this geometry makes a ${formatBytes(bytes)} bank for "${model.name}" (${shape.layers} layers × hidden ${shape.hiddenSize}); at most ${formatBytes(this.config.bankMaxBytes)} (ENGRAM_BANK_MAX_BYTES): use fewer levels, a smaller branching or smaller ranks`] },
      ]);
    }
    // The request is checked whole before the tenant's quota: a bad embedder is a 400 whatever the usage.
    const settings = dto.embedder === undefined ? this.embedders.stored(cube.settings.embedder) : await this.embedders.validate(dto.embedder, 'embedder');
    await this.quotas.requireBankBytes(cube.tenantId, bytes);
    const embedder = this.embedders.forSettings({ embedder: settings });
    const some = await this.memories.list(cubeId, {}, 1, null);
    if (!some?.items.length) throw EngramError.conflict('the cube has no active memories to build a bank from');
    const replay = resolveReplay(dto.replay);
    const id = randomUUID();
    await this.banks.create({
      id,
      cubeId,
      modelId: model.id,
      modelFingerprint: model.fingerprint,
      embedder: { ...settings },
      embedderFingerprint: embedder.fingerprint,
      levels,
      branching,
      ranks,
      replay,
      directory: this.store.directoryOf(cubeId, id),
    });
    const job = await this.jobs.enqueueBankBuild(cube.tenantId, { bankId: id, cubeId });
    await this.banks.setJob(id, job.id);
    await this.audit.record(ctx.auth, ctx.requestId, {
      action: 'bank.create',
      targetType: 'bank',
      targetId: id,
      tenantId: cube.tenantId,
      details: { cubeId, model: model.name, levels, branching, replay, jobId: job.id },
    });
    return { bankId: id, jobId: job.id, state: 'building' };
  }

  async list(ctx: RequestContext, cubeId: string): Promise<{ items: BankResponseDto[] }> {
    await this.access.requireCube(ctx.auth, Permission.BankRead, cubeId);
    const rows = await this.banks.listByCube(cubeId);
    const names = await this.modelNames();
    return { items: rows.map((row) => mapBank(row, names.get(row.modelId) ?? row.modelId)) };
  }

  async get(ctx: RequestContext, cubeId: string, bankId: string): Promise<BankResponseDto> {
    await this.access.requireCube(ctx.auth, Permission.BankRead, cubeId);
    const bank = await this.provenance.current(await this.requireBank(cubeId, bankId));
    const names = await this.modelNames();
    if (bank.state !== 'ready') return mapBank(bank, names.get(bank.modelId) ?? bank.modelId);
    // Tree, texts and sizes from the files; written, stale and forgotten from PostgreSQL (ADR 0305).
    const { levels, texts, fileBytes, parameters } = this.store.inspect(bank);
    const counts = await this.blocks.counts(bank.id);
    return mapBank(bank, names.get(bank.modelId) ?? bank.modelId, {
      levels: levels.map((l) => ({ ...l, writtenBlocks: counts.levels.get(l.level)?.written ?? 0, staleBlocks: counts.levels.get(l.level)?.stale ?? 0 })),
      texts,
      deleted: counts.deleted,
      fileBytes,
      parameters,
    });
  }

  /** A block's provenance, from PostgreSQL; a level or node outside the bank's geometry is a 404. */
  async block(ctx: RequestContext, cubeId: string, bankId: string, level: number, node: number): Promise<BankBlockResponseDto> {
    await this.access.requireCube(ctx.auth, Permission.BankRead, cubeId);
    const bank = await this.provenance.current(this.requireReady(await this.requireBank(cubeId, bankId)));
    if (!Number.isInteger(level) || level < 1 || level > bank.levels) {
      throw new ParametricError(ParametricErrorCode.PathOutsideTree, `level ${level} outside the bank's levels 1..${bank.levels}`);
    }
    const nodes = bank.branching ** level;
    if (!Number.isInteger(node) || node < 0 || node >= nodes) throw new ParametricError(ParametricErrorCode.PathOutsideTree, `node ${node} outside level ${level} (0..${nodes - 1})`);
    return mapBankBlock(bankId, level, node, bank.ranks[level - 1], await this.blocks.get(bank.id, level, node));
  }

  /** Every written block with its write count and staleness, and the geometry per level: the dashboard's heat map. */
  async blockMap(ctx: RequestContext, cubeId: string, bankId: string): Promise<BankBlockMapDto> {
    await this.access.requireCube(ctx.auth, Permission.BankRead, cubeId);
    const bank = await this.provenance.current(this.requireReady(await this.requireBank(cubeId, bankId)));
    const records = await this.blocks.list(bank.id);
    const counts = new Map<number, { written: number; stale: number }>();
    for (const r of records) {
      const level = counts.get(r.level) ?? { written: 0, stale: 0 };
      counts.set(r.level, { written: level.written + 1, stale: level.stale + (r.stale ? 1 : 0) });
    }
    const { levels } = this.store.inspect(bank);
    return {
      bankId,
      generation: bank.generation,
      levels: levels.map((l) => ({ ...l, writtenBlocks: counts.get(l.level)?.written ?? 0, staleBlocks: counts.get(l.level)?.stale ?? 0 })),
      blocks: records.map(mapBankBlockCell),
    };
  }

  async write(ctx: RequestContext, cubeId: string, bankId: string, dto: WriteBankDto): Promise<BankJobResponseDto> {
    const cube = await this.access.requireCube(ctx.auth, Permission.BankWrite, cubeId);
    const bank = this.requireReady(await this.requireBank(cubeId, bankId));
    await this.quotas.requireJobSlot(cube.tenantId);
    if (!dto.memoryIds && !dto.rewriteStale) {
      throw EngramError.validation([{ field: 'memoryIds', problems: ['give memoryIds, rewriteStale: true, or both'] }]);
    }
    const memoryIds = dto.memoryIds ?? [];
    await this.requireActive(cubeId, memoryIds);
    const replay = resolveReplay(dto.replay, bank.replay);
    const job = await this.jobs.enqueueBankWrite(cube.tenantId, { bankId, cubeId, memoryIds, rewriteStale: dto.rewriteStale ?? false, epochs: dto.epochs ?? null, replay });
    await this.banks.setJob(bankId, job.id);
    await this.audit.record(ctx.auth, ctx.requestId, {
      action: 'bank.write',
      targetType: 'bank',
      targetId: bankId,
      tenantId: cube.tenantId,
      details: { cubeId, memoryIds, rewriteStale: dto.rewriteStale ?? false, replay, jobId: job.id },
    });
    return { bankId, jobId: job.id, state: bank.state };
  }

  async delete(ctx: RequestContext, cubeId: string, bankId: string): Promise<void> {
    const cube = await this.access.requireCube(ctx.auth, Permission.BankWrite, cubeId);
    const deleted = await this.banks.delete(cubeId, bankId);
    if (!deleted) throw EngramError.notFound('bank');
    this.store.remove(deleted);
    await this.audit.record(ctx.auth, ctx.requestId, { action: 'bank.delete', targetType: 'bank', targetId: bankId, tenantId: cube.tenantId, details: { cubeId } });
  }

  /**
   * The blocks a chat attaches from a bank of the cube (chat checked access to the cube).
   * With retrieved memories the best one routes (ADR 0403): the blocks of its tree path that
   * hold it, fresh, and older than every retrieved memory they hold; none when it is not
   * consolidated or all of them are stale — the text in the prompt answers. With nothing
   * retrieved the conversation is routed (one embedding) and stale levels are left out.
   * A bank the request names must be usable (else 409); the policy's bank is skipped with a reason.
   */
  async routeForChat(cubeId: string, bankId: string, model: ModelRecord, context: string, memories: ChatBankMemories | null = null, source: ChatBankSource = 'request', minTextSimilarity: number | null = null): Promise<RoutedBankMemory> {
    const row = await this.banks.get(cubeId, bankId);
    const unused = (reason: ChatBankUnused, generation = row?.generation ?? 0): RoutedBankMemory => ({ bankId, source, generation, used: false, reason, routedBy: null, memoryId: null, similarity: null, path: [], memory: [], staleLevels: [], leftOut: [] });
    if (source === 'policy' && (!row || row.state !== 'ready')) return unused(row ? 'not-ready' : 'gone');
    const bank = await this.provenance.current(this.requireReady(row ?? (await this.requireBank(cubeId, bankId))));
    if (bank.modelFingerprint !== model.fingerprint) {
      if (source === 'policy') return unused('other-model', bank.generation);
      throw EngramError.conflict(`bank ${bankId} was built for another model; use the model it was built for or build a bank for "${model.name}"`);
    }
    const base = { bankId, source, generation: bank.generation };
    if (memories?.best) {
      const memoryId = memories.best;
      const path = this.store.pathOf(bank, memoryId);
      if (!path) return { ...unused('not-consolidated', bank.generation), routedBy: 'memory', memoryId };
      const decision = memoryRoute(bank.levels, await this.consolidation.routeStates(bank.id, path, memoryId, memories.inPrompt));
      const staleLevels = decision.leftOut.filter((l) => l.why === 'stale' || l.why === 'memory-newer').map((l) => l.level);
      if (decision.reason) return { ...unused(decision.reason, bank.generation), routedBy: 'memory', memoryId, path, staleLevels, leftOut: decision.leftOut };
      const memory = this.store.fetch(bank, path).map((m, i) => (decision.attach[i] ? m : NO_BLOCK));
      return { ...base, used: true, reason: null, routedBy: 'memory', memoryId, similarity: null, path, memory, staleLevels, leftOut: decision.leftOut };
    }
    const embedder = this.embedders.forSettings({ embedder: bank.embedder });
    const routed = await this.store.routeAndFetchOrAbstain(bank, { fingerprint: embedder.fingerprint, embed: (texts) => this.embedders.embed(embedder, texts) }, context, minTextSimilarity ?? -Infinity);
    const similarity = Math.round(routed.similarity * 1e4) / 1e4;
    // Text the bank holds nothing about ("hi"): the policy's bank abstains rather than attach blocks of unrelated facts.
    if (routed.path === null) return { ...unused('no-match', bank.generation), routedBy: 'text', similarity };
    const { path, memory } = routed;
    // A stale block holds a value that changed since it was written: the request runs without it until a rewrite.
    const staleLevels = await this.consolidation.staleLevels(bank.id, path);
    const attached = staleLevels.length ? memory.map((m, i) => (staleLevels.includes(i + 1) ? NO_BLOCK : m)) : memory;
    const used = attached.some((m) => m.rank > 0);
    return { ...base, used, reason: used ? null : 'stale', routedBy: 'text', memoryId: null, similarity, path, memory: attached, staleLevels, leftOut: staleLevels.map((level) => ({ level, why: 'stale' as const })) };
  }

  private async requireBank(cubeId: string, bankId: string): Promise<BankRecord> {
    const bank = await this.banks.get(cubeId, bankId);
    if (!bank) throw EngramError.notFound('bank');
    return bank;
  }

  private requireReady(bank: BankRecord): BankRecord {
    if (bank.state === 'building') throw EngramError.conflict(`bank ${bank.id} is still building; poll GET …/banks/${bank.id}`);
    if (bank.state === 'failed') throw EngramError.conflict(`bank ${bank.id} failed to build: ${bank.error ?? 'unknown error'}`);
    return bank;
  }

  /** Each id must be an active memory of this cube: others 404, non-active 409. */
  private async requireActive(cubeId: string, ids: string[]): Promise<void> {
    if (new Set(ids).size !== ids.length) throw EngramError.validation([{ field: 'memoryIds', problems: ['memoryIds must not repeat an id'] }]);
    for (const id of ids) {
      const memory = await this.memories.get(cubeId, id);
      if (!memory || memory.state === 'deleted') throw EngramError.notFound(`memory ${id}`);
      if (memory.state !== 'active') throw EngramError.conflict(`memory ${id} is ${memory.state}; only active memories can be written`);
    }
  }

  private async modelNames(): Promise<Map<string, string>> {
    return new Map((await this.modelRows.list()).map((m) => [m.id, m.name]));
  }
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
