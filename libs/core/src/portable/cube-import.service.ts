import { Inject, Injectable } from '@nestjs/common';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { CubeArchiveRepository, CubeRepository, ImportedMemory, JobRepository, KvCacheRepository, MemoryRepository, ModelRecord, ModelRepository } from '@engram/persistence';
import { Embedder } from '@engram/plaintext';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import { CubeImportQueryDto, CubeImportResultDto, ImportSkipDto } from '../dtos/cube-archive.dto';
import { mapCube } from '../dtos/cube.dto';
import { EngramError } from '../errors/engram.error';
import { ErrorCode } from '../errors/error-code';
import { EmbedderRegistry } from '../memories/embedder.registry';
import { ActivationStore } from '../inference/activation.store';
import { ModelRuntime } from '../inference/model.runtime';
import { ActivationPolicyGate } from '../lifecycle/activation-policy.gate';
import { ConsolidationGate } from '../lifecycle/consolidation.gate';
import { PartialLifecyclePolicy } from '../lifecycle/lifecycle-policy';
import { LifecyclePolicies } from '../lifecycle/lifecycle-policy.service';
import { LlmGate } from '../lifecycle/llm.gate';
import { AuditService } from '../services/audit.service';
import { RequestContext } from '../services/request-context';
import { JobName } from '../jobs/job-names';
import { ArchiveManifest, archiveError, BANK_FILE_PART, ManifestPart, PART } from './cube-archive.format';
import { readCubeArchive } from './cube-archive.reader';
import { IdMap, isUuid } from './id-map';
import { float32Rows, jsonLines } from './jsonl';
import { checkBankLine, checkBankSize, checkEventLine, checkManifestCube, checkMemoryLine, checkStorable, isObject, MemoryLineRules } from './archive-rows.validator';
import { parseArchivePolicy, PolicyGates, usableArchivePolicy } from './archive-policy.check';
import { ImportedBank, verifyImportedBank, writeBankFile } from './imported-bank';
import { bankFileBytes, QuotaService } from '../quotas/quota.service';

const BATCH = 500;
/** When the safety-net purge of a staging cube runs (long after any import finishes). */
const STAGING_SWEEP_AFTER_MS = 24 * 3600 * 1000;
const MAX_LINE_BYTES = 16 * 1024 * 1024;
export const ARCHIVE_MEDIA_TYPES = ['application/gzip', 'application/x-gzip', 'application/octet-stream'];

/** The state of one import while the archive streams in. */
interface ImportRun {
  tenantId: string;
  name: string;
  cubeId: string | null;
  manifest: ArchiveManifest | null;
  /** The manifest's lifecycle policy, its shape checked; the gates run once the banks are in. */
  policy: PartialLifecyclePolicy | null;
  embedder: Embedder | null;
  reuseVectors: boolean;
  ids: IdMap;
  /** Reference columns (mergedInto …) set once every memory is in: column → [ids, values]. */
  references: Map<string, { array: boolean; ids: string[]; values: (string | string[])[] }>;
  counts: CubeImportResultDto['counts'];
  skipped: ImportSkipDto[];
  /** Archive bank number → the bank restored (absent: the bank was skipped). */
  banks: Map<number, ImportedBank>;
  /** Banks are restored only for a key that may write banks (banks:write). */
  mayWriteBanks: boolean;
  /** The tenant's stored memories when the first batch was checked against its quota (ADR 0004). */
  storedMemories?: number;
  /** Bytes of the KV caches rebuilt into the staging cube (the tenant's kvBytes quota, ADR 0536). */
  kvBytes: number;
}

/**
 * Imports a cube archive into a new cube. The cube is born invisible (soft-deleted) and
 * is revealed in one statement after the last part was read and verified; any failure
 * removes it with every row it got, so a failed import leaves nothing behind.
 */
@Injectable()
export class CubeImportService {
  /** What PUT /v1/cubes/{id}/lifecycle/policy checks a policy with. */
  private readonly policyGates: PolicyGates;

  constructor(
    private readonly access: AccessService,
    private readonly archives: CubeArchiveRepository,
    private readonly cubes: CubeRepository,
    private readonly embedders: EmbedderRegistry,
    private readonly audit: AuditService,
    private readonly memories: MemoryRepository,
    private readonly models: ModelRepository,
    private readonly runtime: ModelRuntime,
    private readonly activation: ActivationStore,
    private readonly kvCaches: KvCacheRepository,
    private readonly jobs: JobRepository,
    private readonly quotas: QuotaService,
    @Inject(ENGRAM_CONFIG) private readonly config: EngramConfig,
    policies: LifecyclePolicies,
    llm: LlmGate,
    consolidation: ConsolidationGate,
    activationGate: ActivationPolicyGate,
  ) {
    this.policyGates = { policies, llm, consolidation, activation: activationGate };
  }

  async import(ctx: RequestContext, query: CubeImportQueryDto, body: Readable, contentType: string | undefined, contentLength: number | null): Promise<CubeImportResultDto> {
    this.access.requirePermission(ctx.auth, Permission.CubeCreate);
    this.access.requirePermission(ctx.auth, Permission.MemoryWrite);
    const tenantId = this.access.tenantOf(ctx.auth);
    if (ctx.auth.kind === 'key' && ctx.auth.cubeIds !== null) throw EngramError.forbidden('this API key is limited to a list of cubes and cannot create new ones');
    const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
    if (!ARCHIVE_MEDIA_TYPES.includes(type)) {
      throw new EngramError(ErrorCode.UnsupportedMediaType, `a cube archive is sent as application/gzip (got ${type || 'no content type'})`);
    }
    if (contentLength !== null && contentLength > this.config.importLimitBytes) {
      throw new EngramError(ErrorCode.PayloadTooLarge, `the archive (${contentLength} bytes) is larger than the import limit of ${this.config.importLimitBytes} bytes (ENGRAM_IMPORT_LIMIT)`);
    }
    if (query.name !== undefined) await this.requireFreeName(tenantId, query.name.trim());
    const run: ImportRun = {
      tenantId,
      name: query.name?.trim() ?? '',
      cubeId: null,
      manifest: null,
      policy: null,
      embedder: null,
      reuseVectors: false,
      ids: new IdMap(),
      references: new Map(),
      counts: { memories: 0, versions: 0, lifecycleEvents: 0, vectorsReused: 0, reembedded: 0, kvCaches: 0, banks: 0 },
      skipped: [],
      banks: new Map(),
      mayWriteBanks: this.mayWriteBanks(ctx),
      kvBytes: 0,
    };
    try {
      await readCubeArchive(body, this.config.importLimitBytes, {
        manifest: (manifest) => this.begin(run, manifest),
        part: (part, stream) => this.readPart(run, part, stream),
      });
      for (const [n, bank] of run.banks) verifyImportedBank(bank, n);
      await this.finishEmbeddings(run);
      for (const [column, refs] of run.references) await this.archives.setReferences(run.cubeId!, column, refs.array, refs.ids, refs.values);
      if (run.policy && (await this.archives.hasTable('lifecycle_policies'))) {
        const restored = new Map([...run.banks.values()].map((b) => [b.archiveId.toLowerCase(), b.id]));
        await this.archives.setCubePolicy(run.cubeId!, (await usableArchivePolicy(this.policyGates, tenantId, run.cubeId!, run.policy, restored, (reason) => run.skipped.push({ part: 'manifest.json', reason }))) as Record<string, unknown>);
      }
      // Counted again: the tenant may have written meanwhile (its count gets this cube's memories once revealed).
      await this.quotas.requireImportedMemories(tenantId, run.counts.memories);
      // The staging cube's caches and banks are not in the tenant's usage until the reveal either.
      if (run.kvBytes > 0) await this.quotas.requireKvBytes(tenantId, run.kvBytes);
      const bankBytes = [...run.banks.values()].reduce((sum, b) => sum + bankFileBytes(b.row as { levels: number; branching: number; ranks: number[] }, b.model.config), 0);
      if (bankBytes > 0) await this.quotas.requireBankBytes(tenantId, bankBytes);
      if (!(await this.archives.reveal(tenantId, run.cubeId!))) throw EngramError.conflict(`a cube named "${run.name}" already exists`);
      this.quotas.forget(tenantId);
    } catch (error) {
      if (run.cubeId) {
        await this.activation.deleteByOwner(run.cubeId);
        await this.archives.discard(run.cubeId);
        await rm(join(this.config.dataDir, 'cubes', run.cubeId), { recursive: true, force: true });
      }
      throw error;
    }
    const cube = await this.cubes.getLive(tenantId, run.cubeId!);
    if (!cube) throw EngramError.notFound('cube');
    await this.audit.record(ctx.auth, ctx.requestId, {
      action: 'cube.import',
      targetType: 'cube',
      targetId: cube.id,
      tenantId,
      details: { ...run.counts, from: run.manifest?.cube.id ?? null, source: run.manifest?.source ?? null, skipped: run.skipped },
    });
    return { cube: mapCube(cube), counts: run.counts, skipped: run.skipped };
  }

  private mayWriteBanks(ctx: RequestContext): boolean {
    try {
      this.access.requirePermission(ctx.auth, Permission.BankWrite);
      return true;
    } catch (error) {
      if (error instanceof EngramError && error.code === ErrorCode.Forbidden) return false;
      throw error;
    }
  }

  private async requireFreeName(tenantId: string, name: string): Promise<void> {
    if (await this.cubes.getLiveByName(tenantId, name)) throw EngramError.conflict(`a cube named "${name}" already exists`);
  }

  /** Checks the manifest against this server and creates the invisible staging cube. */
  private async begin(run: ImportRun, manifest: ArchiveManifest): Promise<void> {
    run.manifest = manifest;
    const known = new Set<string>([PART.memories, PART.vectors, PART.events, PART.kvCaches, PART.banks]);
    const unknownRequired = manifest.parts.find((p) => p.required && !known.has(p.name) && !BANK_FILE_PART.test(p.name));
    if (unknownRequired) throw archiveError(`required part ${unknownRequired.name} (${unknownRequired.kind}) is not understood by this engram`);
    if (!manifest.parts.some((p) => p.name === PART.memories)) throw archiveError(`the archive has no ${PART.memories} part`);
    checkManifestCube(manifest.cube, !run.name);
    run.policy = parseArchivePolicy(manifest.lifecyclePolicy);
    if (!run.name) {
      run.name = manifest.cube.name.trim();
      if (!run.name || run.name.length > 200) throw archiveError('manifest.json cube.name must be 1 to 200 characters; pass ?name= to choose one');
      await this.requireFreeName(run.tenantId, run.name);
    }
    // An export always names its embedder; an archive converted from another system may not,
    // and then the cube gets what any new cube of this engram gets.
    const settings = this.embedders.settingsForNewCube(manifest.cube.settings);
    await this.embedders.validate(settings.embedder);
    run.embedder = this.embedders.forSettings(settings);
    const vectorsPart = manifest.parts.find((p) => p.name === PART.vectors);
    if (vectorsPart) {
      run.reuseVectors = manifest.embedder !== null && manifest.embedder.fingerprint === run.embedder.fingerprint && manifest.embedder.dimension === run.embedder.dimension;
      if (!run.reuseVectors) {
        run.skipped.push({ part: PART.vectors, reason: `embedder fingerprint ${manifest.embedder?.fingerprint ?? 'unknown'} differs from this cube's ${run.embedder.fingerprint}: memories were embedded again` });
      }
    }
    // The staging cube is not live, so the tenant's quotas would not see it (ADR 0004).
    await this.quotas.requireCubeSlot(run.tenantId);
    run.cubeId = await this.archives.createStaging(run.tenantId, run.name, manifest.cube.description, settings);
    // Should this process die mid-import, the purge job removes the staging cube a day later
    // (a revealed cube is live, and the purge skips live cubes).
    await this.jobs.enqueue({
      name: JobName.CubePurge,
      payload: { cubeId: run.cubeId, tenantId: run.tenantId },
      tenantId: run.tenantId,
      singletonKey: `${JobName.CubePurge}:staging:${run.cubeId}`,
      maxAttempts: this.config.jobMaxAttempts,
      runAfter: new Date(Date.now() + STAGING_SWEEP_AFTER_MS),
    });
  }

  private async readPart(run: ImportRun, part: ManifestPart, stream: Readable): Promise<void> {
    switch (part.name) {
      case PART.memories:
        return this.readMemories(run, part, stream);
      case PART.vectors:
        return run.reuseVectors ? this.readVectors(run, stream) : drain(stream);
      case PART.kvCaches:
        return this.readKvCaches(run, part, stream);
      case PART.banks:
        return this.readBanks(run, part, stream);
      case PART.events:
        if (!(await this.archives.hasTable('lifecycle_events'))) {
          run.skipped.push({ part: part.name, reason: 'this engram keeps no lifecycle events' });
          return drain(stream);
        }
        return this.readEvents(run, part, stream);
      default:
        if (BANK_FILE_PART.test(part.name)) return this.readBankFile(run, part, stream);
        run.skipped.push({ part: part.name, reason: `optional part of kind ${part.kind} is not understood by this engram` });
        return drain(stream);
    }
  }

  private async readMemories(run: ImportRun, part: ManifestPart, stream: Readable): Promise<void> {
    const refColumns = await this.archives.memoryReferenceColumns();
    const refNames = new Set(['id', ...refColumns.map((c) => c.name)]);
    const rules: MemoryLineRules = {
      memory: (await this.archives.archiveColumns('memories')).filter((c) => !refNames.has(c.name)),
      version: await this.archives.archiveColumns('memory_versions'),
      maxMetadataBytes: this.config.bodyLimitBytes,
    };
    let batch: (ImportedMemory & { vector: boolean })[] = [];
    /** Where each memory of the batch came from: its line and its id in the archive. */
    let origins: { line: number; id: string }[] = [];
    const flush = async () => {
      if (!batch.length) return;
      // Before embedding: an archive larger than the tenant's memory quota stops at the first batch past it.
      run.storedMemories = await this.quotas.requireImportedMemories(run.tenantId, run.counts.memories, run.storedMemories);
      const toEmbed = batch.filter((m) => !m.vector);
      if (toEmbed.length) {
        const vectors = await this.embedders.embed(run.embedder!, toEmbed.map((m) => m.memory.text as string));
        toEmbed.forEach((m, i) => {
          m.embedding = vectors[i];
          m.embedderFingerprint = run.embedder!.fingerprint;
        });
        run.counts.reembedded += toEmbed.length;
      }
      const repeated = await this.archives.importBatch(run.cubeId!, batch);
      if (repeated) {
        // Two memories of the archive share an id (a hand-made or merged file): name the later one.
        const origin = origins[batch.map((m) => m.memory.id).lastIndexOf(repeated.repeatedId)];
        throw archiveError(`${part.name} line ${origin?.line ?? '?'}: memory.id ${JSON.stringify(origin?.id ?? repeated.repeatedId)} is the id of an earlier memory of the archive; each memory needs its own id`);
      }
      batch = [];
      origins = [];
    };
    for await (const { line, value } of jsonLines(stream, part.name, MAX_LINE_BYTES)) {
      const at = `${part.name} line ${line}`;
      if (!isObject(value) || !isObject(value.memory)) throw archiveError(`${at} must be { "memory": {…}, "versions": […] }`);
      if (value.memory.state === 'deleted') continue;
      const memory = { ...value.memory };
      const versions = checkMemoryLine(memory, value.versions, at, rules);
      const id = run.ids.map(memory.id as string);
      origins.push({ line, id: memory.id as string });
      memory.id = id;
      for (const ref of refColumns) {
        const target = memory[ref.name];
        delete memory[ref.name];
        if (target === null || target === undefined) continue;
        const mapped = ref.array ? (Array.isArray(target) ? target.filter(isUuid).map((t) => run.ids.map(t)) : null) : isUuid(target) ? run.ids.map(target) : null;
        if (mapped === null) continue;
        const refs = run.references.get(ref.name) ?? { array: ref.array, ids: [], values: [] };
        refs.ids.push(id);
        refs.values.push(mapped);
        run.references.set(ref.name, refs);
      }
      const vector = run.reuseVectors && value.vector === true;
      if (vector) run.counts.vectorsReused++;
      // Who changed a memory is a key of the exporting tenant: kept as a kind, not as an id.
      batch.push({ memory, versions: versions.map((v) => ({ ...v, actor_id: null })), embedding: null, embedderFingerprint: null, vector });
      run.counts.memories++;
      run.counts.versions += versions.length;
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    if (part.records && run.counts.memories > part.records) throw archiveError(`${part.name} holds more memories than its manifest says (${part.records})`);
  }

  private async readVectors(run: ImportRun, stream: Readable): Promise<void> {
    const embedder = run.embedder!;
    let after = 0;
    for await (const rows of float32Rows(stream, embedder.dimension, BATCH)) {
      const filled = await this.archives.assignEmbeddings(run.cubeId!, after, rows, embedder.fingerprint);
      if (filled.filled !== rows.length) throw archiveError(`${PART.vectors} has more rows than memories.jsonl marks with "vector": true`);
      after = filled.lastSeq;
    }
  }

  /** Memories marked for a vector the archive did not deliver are embedded here. */
  private async finishEmbeddings(run: ImportRun): Promise<void> {
    for (;;) {
      const missing = await this.archives.withoutEmbedding(run.cubeId!, BATCH);
      if (!missing.length) return;
      const vectors = await this.embedders.embed(run.embedder!, missing.map((m) => m.text));
      await this.archives.setEmbeddings(missing.map((m) => m.id), vectors, run.embedder!.fingerprint);
      run.counts.vectorsReused -= missing.length;
      run.counts.reembedded += missing.length;
    }
  }

  /**
   * KV caches are recomputed from their text by a registered model with the archived
   * fingerprint (same weights and tokenizer: the same cache); without one they are skipped.
   * They come after the memories they were built from, so their sources are in.
   */
  private async readKvCaches(run: ImportRun, part: ManifestPart, stream: Readable): Promise<void> {
    const byFingerprint = new Map<string, ModelRecord>();
    for (const model of await this.models.list()) if (!byFingerprint.has(model.fingerprint)) byFingerprint.set(model.fingerprint, model);
    const missing = new Map<string, number>();
    for await (const { line, value } of jsonLines(stream, part.name, MAX_LINE_BYTES)) {
      if (!isObject(value) || typeof value.fingerprint !== 'string' || typeof value.text !== 'string' || !value.text) throw archiveError(`${part.name} line ${line} must be { fingerprint, text, source_memory_ids }`);
      checkStorable(value, `${part.name} line ${line}`, 'line');
      const model = byFingerprint.get(value.fingerprint);
      if (!model) {
        missing.set(value.fingerprint, (missing.get(value.fingerprint) ?? 0) + 1);
        continue;
      }
      const ids = (Array.isArray(value.source_memory_ids) ? value.source_memory_ids : []).filter(isUuid).map((id) => run.ids.map(id));
      const sources = [];
      for (const id of ids) {
        const memory = await this.memories.get(run.cubeId!, id);
        if (memory && memory.state === 'active') sources.push({ memoryId: memory.id, text: memory.text });
      }
      if (sources.length !== ids.length) {
        run.skipped.push({ part: part.name, reason: `KV cache on line ${line}: a source memory is not an active memory of the archive; not rebuilt` });
        continue;
      }
      const lm = await this.runtime.load(model);
      const built = await this.activation.build(lm, { text: value.text, sources, owner: run.cubeId!, partition: run.tenantId });
      await this.kvCaches.upsert({
        cubeId: run.cubeId!,
        modelId: model.id,
        fingerprint: model.fingerprint,
        entryId: built.entry.id,
        text: value.text,
        tokenCount: built.entry.tokens.length,
        bytes: built.entry.bytes,
        sourceMemoryIds: sources.map((s) => s.memoryId),
      });
      run.counts.kvCaches++;
      run.kvBytes += built.entry.bytes;
    }
    for (const [fingerprint, n] of missing) run.skipped.push({ part: part.name, reason: `${n} KV cache(s) of model fingerprint ${fingerprint}: no model with that fingerprint is registered here` });
  }

  /**
   * Banks come back for a registered model with the archived fingerprint (the blocks are
   * FFN weights of that model); rows and block provenance first, files after.
   */
  private async readBanks(run: ImportRun, part: ManifestPart, stream: Readable): Promise<void> {
    const byFingerprint = new Map<string, ModelRecord>();
    for (const model of await this.models.list()) if (!byFingerprint.has(model.fingerprint)) byFingerprint.set(model.fingerprint, model);
    const columns = { bank: await this.archives.archiveColumns('banks'), block: await this.archives.archiveColumns('bank_blocks') };
    let n = -1;
    for await (const { line, value } of jsonLines(stream, part.name, MAX_LINE_BYTES)) {
      n++;
      if (!run.mayWriteBanks) {
        run.skipped.push({ part: part.name, reason: `bank ${n}: this API key lacks the scope banks:write` });
        continue;
      }
      if (!isObject(value) || !isObject(value.bank) || typeof value.bank.id !== 'string' || typeof value.bank.model_fingerprint !== 'string') {
        throw archiveError(`${part.name} line ${line} must be { bank: { id, model_fingerprint, … }, blocks, files }`);
      }
      const archived = checkBankLine(value, columns, `${part.name} line ${line}`);
      const model = byFingerprint.get(value.bank.model_fingerprint);
      if (!model) {
        run.skipped.push({ part: part.name, reason: `bank ${n}: no model with fingerprint ${value.bank.model_fingerprint} is registered here` });
        continue;
      }
      checkBankSize(value.bank, model.config, this.config.bankMaxBytes, `${part.name} line ${line}`);
      const bankId = run.ids.map(value.bank.id);
      const directory = join(this.config.dataDir, 'cubes', run.cubeId!, 'banks', bankId);
      const blocks = archived.map((b) => ({
        ...b,
        memory_ids: (Array.isArray(b.memory_ids) ? b.memory_ids : []).filter(isUuid).map((id) => run.ids.map(id)),
      }));
      await mkdir(directory, { recursive: true });
      await this.archives.importBank(run.cubeId!, model.id, directory, { ...value.bank, id: bankId }, blocks);
      run.banks.set(n, { archiveId: value.bank.id, line, id: bankId, directory, row: value.bank, model });
      run.counts.banks++;
    }
  }

  private async readBankFile(run: ImportRun, part: ManifestPart, stream: Readable): Promise<void> {
    const [, n, file] = BANK_FILE_PART.exec(part.name)!;
    const bank = run.banks.get(Number(n));
    return bank ? writeBankFile(bank, file, stream, run.ids, part.name) : drain(stream);
  }

  private async readEvents(run: ImportRun, part: ManifestPart, stream: Readable): Promise<void> {
    const columns = await this.archives.archiveColumns('lifecycle_events');
    let batch: Record<string, unknown>[] = [];
    for await (const { line, value } of jsonLines(stream, part.name, MAX_LINE_BYTES)) {
      if (!isObject(value)) throw archiveError(`${part.name} line ${line} must be an object`);
      checkEventLine(value, columns, `${part.name} line ${line}`);
      const event = { ...value };
      if (Array.isArray(event.memory_ids)) event.memory_ids = event.memory_ids.filter(isUuid).map((id) => run.ids.map(id));
      for (const key of ['before', 'after']) {
        if (isObject(event[key])) event[key] = Object.fromEntries(Object.entries(event[key] as object).map(([k, v]) => [isUuid(k) ? run.ids.map(k) : k, v]));
      }
      batch.push(event);
      if (batch.length >= BATCH) {
        await this.archives.importEvents(run.cubeId!, run.tenantId, batch);
        run.counts.lifecycleEvents += batch.length;
        batch = [];
      }
    }
    await this.archives.importEvents(run.cubeId!, run.tenantId, batch);
    run.counts.lifecycleEvents += batch.length;
  }
}

async function drain(stream: Readable): Promise<void> {
  for await (const _ of stream) void _;
}
