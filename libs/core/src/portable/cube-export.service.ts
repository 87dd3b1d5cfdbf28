import { Inject, Injectable } from '@nestjs/common';
import { createReadStream } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { BankRepository, CubeArchiveRepository, KvCacheRepository, ModelRepository } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import { CubeExportQueryDto, EXPORT_INCLUDES, ExportInclude } from '../dtos/cube-archive.dto';
import { EngramError } from '../errors/engram.error';
import { ErrorCode } from '../errors/error-code';
import { EmbedderRegistry } from '../memories/embedder.registry';
import { AuditService } from '../services/audit.service';
import { RequestContext } from '../services/request-context';
import { ArchiveManifest, ENGRAM_VERSION, isSafePartName, PART } from './cube-archive.format';
import { CubeArchiveWriter } from './cube-archive.writer';

/** Rows read per round trip: the export holds one batch in memory, whatever the cube's size. */
const BATCH = 1000;

export interface CubeExport {
  filename: string;
  manifest: ArchiveManifest;
  stream: Readable;
}

export function parseIncludes(value: string | undefined): Set<ExportInclude> {
  const items = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = items.filter((i) => !(EXPORT_INCLUDES as readonly string[]).includes(i));
  if (unknown.length) throw EngramError.validation([{ field: 'include', problems: [`unknown part(s) ${unknown.join(', ')}; allowed: ${EXPORT_INCLUDES.join(', ')}`] }]);
  return new Set(items as ExportInclude[]);
}

/** Stops a spooling export whose client went away: its connection and spool go back at once. */
function stopIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new EngramError(ErrorCode.Cancelled, 'the client went away before the export was ready');
}

/**
 * Streams a cube as an archive (docs/cube-archive.md). Memories are read in label order
 * by keyset batches and spooled to disk while hashed, so memory use does not grow with
 * the cube; the archive is sent once every part's checksum is known. `signal` (the client
 * went away) stops the spooling between batches.
 */
@Injectable()
export class CubeExportService {
  constructor(
    private readonly access: AccessService,
    private readonly archives: CubeArchiveRepository,
    private readonly embedders: EmbedderRegistry,
    private readonly audit: AuditService,
    private readonly kvCaches: KvCacheRepository,
    private readonly models: ModelRepository,
    private readonly banks: BankRepository,
    @Inject(ENGRAM_CONFIG) private readonly config: EngramConfig,
  ) {}

  async export(ctx: RequestContext, cubeId: string, query: CubeExportQueryDto, signal?: AbortSignal): Promise<CubeExport> {
    const cube = await this.access.requireCube(ctx.auth, Permission.CubeExport, cubeId);
    const include = parseIncludes(query.include);
    const embedder = this.embedders.forSettings(cube.settings);
    const spool = join(this.config.dataDir, 'tmp');
    await mkdir(spool, { recursive: true });
    const writer = await CubeArchiveWriter.create(spool);
    const counts = { memories: 0, versions: 0, vectors: 0, lifecycleEvents: 0, kvCaches: 0, banks: 0 };
    const models = new Map<string, string | null>();
    try {
      const memories = writer.part(PART.memories, 'memories', true);
      const vectors = include.has('vectors') ? writer.part(PART.vectors, 'vectors', false) : null;
      // Leaving this loop early (a throw) ends the generator, which closes its cursor and releases its connection.
      for await (const batch of this.archives.exportMemories(cubeId, BATCH)) {
        stopIfAborted(signal);
        for (const m of batch) {
          // Only vectors of the cube's current embedder travel; others are re-embedded on import.
          const vector = vectors !== null && m.embedding !== null && m.embedderFingerprint === embedder.fingerprint && m.embedding.length === embedder.dimension;
          await memories.line({ memory: m.memory, versions: m.versions, vector });
          if (vector) {
            await vectors!.write(Buffer.from(m.embedding!.buffer, m.embedding!.byteOffset, m.embedding!.byteLength), 1);
            counts.vectors++;
          }
          counts.memories++;
          counts.versions += m.versions.length;
        }
      }
      if (await this.archives.hasTable('lifecycle_events')) {
        const events = writer.part(PART.events, 'lifecycle-events', false);
        for (let after = 0; ; ) {
          stopIfAborted(signal);
          const batch = await this.archives.exportEvents(cubeId, after, BATCH);
          if (!batch.length) break;
          for (const e of batch) await events.line(e.event);
          counts.lifecycleEvents += batch.length;
          after = batch[batch.length - 1].id;
        }
      }
      if (include.has('kv')) {
        // A KV cache travels as what defines it (model fingerprint, text, source memories):
        // the blob is derived data that the same model recomputes bit for bit on import.
        const kv = writer.part(PART.kvCaches, 'kv-caches', false);
        const names = new Map((await this.models.list()).map((m) => [m.id, m.name]));
        for (const row of await this.kvCaches.listByCube(cube.id)) {
          await kv.line({ id: row.id, fingerprint: row.fingerprint, model: names.get(row.modelId) ?? null, text: row.text, token_count: row.tokenCount, source_memory_ids: row.sourceMemoryIds, created_at: row.createdAt.toISOString() });
          models.set(row.fingerprint, names.get(row.modelId) ?? null);
          counts.kvCaches++;
        }
      }
      if (include.has('banks')) await this.exportBanks(cube.id, writer, counts, models, signal);
      stopIfAborted(signal);
      const { manifest, stream } = await writer.finish({
        engramVersion: ENGRAM_VERSION,
        createdAt: new Date().toISOString(),
        // The effective embedder is written out, so an engram whose default differs re-creates the same one.
        cube: { id: cube.id, name: cube.name, description: cube.description, settings: { ...cube.settings, embedder: cube.settings.embedder ?? this.embedders.stored(cube.settings.embedder) } },
        lifecyclePolicy: await this.archives.cubePolicy(cube.id),
        embedder: vectors ? { fingerprint: embedder.fingerprint, dimension: embedder.dimension } : null,
        models: [...models].map(([fingerprint, name]) => ({ fingerprint, name })),
        counts,
        source: null,
      });
      await this.audit.record(ctx.auth, ctx.requestId, { action: 'cube.export', targetType: 'cube', targetId: cube.id, tenantId: cube.tenantId, details: { ...counts, include: [...include] } });
      return { filename: `${cube.name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100) || 'cube'}.engram.tar.gz`, manifest, stream };
    } catch (error) {
      await writer.dispose();
      throw error;
    }
  }

  /**
   * Ready banks: banks.jsonl (rows and block provenance), then each bank's files as
   * `banks/<n>/<file>`. Rows and files of one bank are read under the bank's lock, so a
   * write cannot land between them.
   */
  private async exportBanks(cubeId: string, writer: CubeArchiveWriter, counts: { banks: number }, models: Map<string, string | null>, signal?: AbortSignal): Promise<void> {
    const index = writer.part(PART.banks, 'banks', false);
    const names = new Map((await this.models.list()).map((m) => [m.id, m.name]));
    const listed = await this.archives.exportBanks(cubeId);
    for (const [n, { id }] of listed.entries()) {
      stopIfAborted(signal);
      await this.banks.withLock(id, async () => {
        const [bank] = await this.archives.exportBanks(cubeId, id);
        if (!bank) return;
        const files = (await readdir(bank.directory, { withFileTypes: true })).filter((f) => f.isFile() && isSafePartName(f.name) && !f.name.includes('.tmp')).map((f) => f.name).sort();
        await index.line({ bank: bank.bank, blocks: bank.blocks, files: files.map((f) => `banks/${n}/${f}`) });
        for (const file of files) {
          const sink = writer.part(`banks/${n}/${file}`, 'bank-file', false);
          for await (const chunk of createReadStream(join(bank.directory, file))) await sink.write(chunk as Buffer);
          await sink.close();
        }
        const row = (await this.banks.getAny(id))!;
        models.set(row.modelFingerprint, names.get(row.modelId) ?? null);
        counts.banks++;
      });
    }
  }
}
