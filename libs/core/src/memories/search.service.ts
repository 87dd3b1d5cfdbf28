import { Injectable } from '@nestjs/common';
import { CubeRecord, MemoryRecord, MemoryRepository } from '@engram/persistence';
import { CubeIndex, Embedder, rankingFor, SearchHit } from '@engram/plaintext';
import { EngramError } from '../errors/engram.error';
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
 * deep mode searches twice. A cube whose index is in memory is searched first and checked
 * after, in the query that reads the hits' rows (access, freshness and rows in one round
 * trip); otherwise, or when that check finds the index behind or the embedder changed, the
 * access check comes first and the index is brought up to date before the search.
 */
@Injectable()
export class SearchService {
  /** Tenant and settings of the cubes found readable, for the search over an index in memory. */
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
    const results = (await this.searchInMemory(tenantId, cubeId, dto)) ?? (await this.searchChecked(ctx, cubeId, dto));
    this.accesses.record(results.map((r) => r.id));
    return { results };
  }

  /**
   * The search itself, for a cube whose access was checked by the caller (chat retrieval
   * checks its own permission); accesses are not counted here: the caller counts what it uses.
   */
  async searchCube(cube: CubeRecord, changeSeq: number, dto: SearchDto): Promise<SearchResultDto[]> {
    const cubeId = cube.id;
    const embedder = this.embedders.forSettings(cube.settings);
    const [queryVector] = await this.embedders.embed(embedder, [dto.query]);
    const { index } = await this.indexes.current(cubeId, embedder, changeSeq);
    const hits = this.run(index, embedder, queryVector, dto);
    // The hits' rows as stored now (ADR 0112): one query by label, instead of every row of
    // every loaded cube in memory.
    return toResults(hits, await this.memories.getByLabels(cubeId, hits.map((h) => h.label)), dto);
  }

  /** Access checked first (one query with the change sequence), then the index brought up to date and searched. */
  private async searchChecked(ctx: RequestContext, cubeId: string, dto: SearchDto): Promise<SearchResultDto[]> {
    const { cube, changeSeq } = await this.access.requireCubeWithChangeSeq(ctx.auth, Permission.MemoryRead, cubeId);
    this.remember(cube);
    return this.searchCube(cube, changeSeq, dto);
  }

  /**
   * The search over the cube's index as it is in memory, when this tenant has read the cube
   * before (so that a cube of another tenant costs no search: its 404 takes as long as an
   * unknown one's); then one query checks that the cube is still the tenant's live cube,
   * reads its change sequence and the hits' rows. Null when the index is not in memory.
   * An index behind the database, or a cube whose embedder changed, is searched again the
   * checked way; a cube gone answers 404 at once.
   */
  private async searchInMemory(tenantId: string, cubeId: string, dto: SearchDto): Promise<SearchResultDto[] | null> {
    const known = this.known.get(cubeId);
    if (known?.tenantId !== tenantId) return null;
    const embedder = this.embedders.forSettings(known.settings);
    const loaded = this.indexes.peek(cubeId, embedder.fingerprint);
    if (!loaded) return null;
    const [queryVector] = await this.embedders.embed(embedder, [dto.query]);
    const hits = this.run(loaded.index, embedder, queryVector, dto);
    const found = await this.memories.getLiveCubeWithRows(tenantId, cubeId, hits.map((h) => h.label));
    if (!found) {
      this.known.delete(cubeId);
      throw EngramError.notFound('cube');
    }
    this.remember(found.cube);
    if (found.changeSeq > loaded.seq || this.embedders.forSettings(found.cube.settings).fingerprint !== embedder.fingerprint) {
      return this.searchCube(found.cube, found.changeSeq, dto);
    }
    return toResults(hits, found.rows, dto);
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

  private remember(cube: CubeRecord): void {
    if (this.known.size >= KNOWN_CUBES_LIMIT && !this.known.has(cube.id)) this.known.clear();
    this.known.set(cube.id, { tenantId: cube.tenantId, settings: cube.settings });
  }
}

/** The hits with their rows; a memory deleted or erased since the index was brought up to date is left out. */
function toResults(hits: readonly SearchHit[], rows: ReadonlyMap<number, MemoryRecord>, dto: SearchDto): SearchResultDto[] {
  const results: SearchResultDto[] = [];
  for (const hit of hits) {
    const record = rows.get(hit.label);
    if (!record || record.state === 'deleted' || record.erasedAt !== null) continue;
    results.push(mapSearchResult(record, round(hit.score), dto.explain ? hit.explain : undefined));
  }
  return results;
}

function round(score: number): number {
  return Math.round(score * 1e6) / 1e6;
}
