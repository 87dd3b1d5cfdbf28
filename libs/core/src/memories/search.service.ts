import { Injectable } from '@nestjs/common';
import { CubeRecord, MemoryRecord, MemoryRepository } from '@engram/persistence';
import { CubeIndex, Embedder, rankingFor, SearchHit } from '@engram/plaintext';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import { mapSearchResult, SearchDto, SearchResultDto } from '../dtos/memory.dto';
import { AccessRecorder } from './access-recorder';
import { CubeIndexManager } from './cube-index.manager';
import { EmbedderRegistry } from './embedder.registry';
import { parseMemoryFilter } from './memory-filter.parser';
import type { RequestContext } from '../services/request-context';

/** Cubes whose tenant and settings a search remembers at most (a cube's tenant never changes). */
const KNOWN_CUBES_LIMIT = 10_000;

/**
 * Hybrid retrieval in a cube: dense + lexical candidates, fused, filtered, with time priors;
 * deep mode searches twice.
 *
 * The access check (the cube with its change sequence) is sent first. When this tenant has
 * read the cube before and its index is in memory, the index is searched while the database
 * answers (ADR 0131); the answer is used only once the check has passed and shown the index
 * current (otherwise the index is brought up to date and searched again).
 */
@Injectable()
export class SearchService {
  /** Tenant and settings of the cubes found readable. */
  private readonly known = new Map<string, { tenantId: string; settings: CubeRecord['settings'] }>();

  constructor(
    private readonly access: AccessService,
    private readonly embedders: EmbedderRegistry,
    private readonly indexes: CubeIndexManager,
    private readonly accesses: AccessRecorder,
    private readonly memories: MemoryRepository,
  ) {}

  async search(ctx: RequestContext, cubeId: string, dto: SearchDto): Promise<{ results: SearchResultDto[] }> {
    const tenantId = this.access.requireCubeTenant(ctx.auth, Permission.MemoryRead, cubeId);
    const checking = this.access.cubeWithChangeSeq(tenantId, cubeId);
    // Awaited after the in-memory search: marked handled meanwhile (a 404 must not surface as an unhandled rejection).
    checking.catch(() => undefined);
    // A search that fails (a filter it refuses) reports it only once the cube is known to be readable.
    const early = await this.searchKnown(tenantId, cubeId, dto).then(
      (value) => ({ value, error: null }),
      (error: unknown) => ({ value: null, error }),
    );
    let checked: { cube: CubeRecord; changeSeq: number };
    try {
      checked = await checking;
    } catch (error) {
      this.known.delete(cubeId);
      throw error;
    }
    if (early.error !== null) throw early.error;
    const { cube, changeSeq } = checked;
    this.remember(cube);
    const embedder = this.embedders.forSettings(cube.settings);
    const known = early.value !== null && early.value.fingerprint === embedder.fingerprint ? early.value : null;
    let results: SearchResultDto[];
    if (known?.searched && changeSeq <= known.searched.seq) results = await this.withRows(cubeId, known.searched.hits, dto);
    // The index was not loaded, or behind (another writer): brought up to date and searched, with the query's vector if it has one.
    else if (known) results = await this.searchIndex(cube, changeSeq, dto, embedder, known.vector);
    else results = await this.searchCube(cube, changeSeq, dto);
    this.accesses.record(results.map((r) => r.id));
    return { results };
  }

  /**
   * The search itself, for a cube whose access was checked by the caller (chat retrieval
   * checks its own permission); accesses are not counted here: the caller counts what it uses.
   */
  async searchCube(cube: CubeRecord, changeSeq: number, dto: SearchDto): Promise<SearchResultDto[]> {
    const embedder = this.embedders.forSettings(cube.settings);
    const [queryVector] = await this.embedders.embed(embedder, [dto.query]);
    return this.searchIndex(cube, changeSeq, dto, embedder, queryVector);
  }

  private async searchIndex(cube: CubeRecord, changeSeq: number, dto: SearchDto, embedder: Embedder, queryVector: Float32Array): Promise<SearchResultDto[]> {
    const { index } = await this.indexes.current(cube.id, embedder, changeSeq);
    return this.withRows(cube.id, this.run(index, embedder, queryVector, dto), dto);
  }

  /**
   * When this tenant has read the cube before (null otherwise: a cube of another tenant
   * costs no work, its 404 takes as long as an unknown one's): the query's vector under the
   * settings seen last, and the hits of the cube's index as it is in memory, if it is loaded
   * (`seq`: the change sequence the searched index reflected).
   */
  private async searchKnown(tenantId: string, cubeId: string, dto: SearchDto): Promise<{ fingerprint: string; vector: Float32Array; searched: { hits: SearchHit[]; seq: number } | null } | null> {
    const known = this.known.get(cubeId);
    if (known?.tenantId !== tenantId) return null;
    // The check's query is written to its connection only once the pool hands one out (on
    // the next tick, after every promise continuation of this request): work started now
    // would run before the query leaves, and the database would start on it only afterwards.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const embedder = this.embedders.forSettings(known.settings);
    const [vector] = await this.embedders.embed(embedder, [dto.query]);
    const loaded = this.indexes.peek(cubeId, embedder.fingerprint);
    const searched = loaded && { hits: this.run(loaded.index, embedder, vector, dto), seq: loaded.seq };
    return { fingerprint: embedder.fingerprint, vector, searched };
  }

  private run(index: CubeIndex, embedder: Embedder, queryVector: Float32Array, dto: SearchDto): SearchHit[] {
    return index.search(dto.query, queryVector, {
      topK: dto.topK ?? 10,
      filter: parseMemoryFilter(dto.filters),
      referenceTime: dto.referenceTime ?? Date.now(),
      explain: dto.explain === true,
      deep: dto.mode === 'deep',
      ranking: rankingFor(embedder),
    });
  }

  /**
   * The hits' rows as stored now (ADR 0112): one query by label, instead of every row of
   * every loaded cube in memory. A memory deleted or erased since the index was brought up
   * to date is left out.
   */
  private async withRows(cubeId: string, hits: readonly SearchHit[], dto: SearchDto): Promise<SearchResultDto[]> {
    const rows: ReadonlyMap<number, MemoryRecord> = await this.memories.getByLabels(cubeId, hits.map((h) => h.label));
    const results: SearchResultDto[] = [];
    for (const hit of hits) {
      const record = rows.get(hit.label);
      if (!record || record.state === 'deleted' || record.erasedAt !== null) continue;
      results.push(mapSearchResult(record, round(hit.score), dto.explain ? hit.explain : undefined));
    }
    return results;
  }

  private remember(cube: CubeRecord): void {
    if (this.known.size >= KNOWN_CUBES_LIMIT && !this.known.has(cube.id)) this.known.clear();
    this.known.set(cube.id, { tenantId: cube.tenantId, settings: cube.settings });
  }
}

function round(score: number): number {
  return Math.round(score * 1e6) / 1e6;
}
