import { Injectable } from '@nestjs/common';
import { MemoryRepository } from '@engram/persistence';
import { MemoryFilter, rankingFor } from '@engram/plaintext';
import { CubeRecord } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import { mapSearchResult, SearchDto, SearchResultDto } from '../dtos/memory.dto';
import { AccessRecorder } from './access-recorder';
import { CubeIndexManager } from './cube-index.manager';
import { EmbedderRegistry } from './embedder.registry';
import { parseMemoryFilter } from './memory-filter.parser';
import type { RequestContext } from '../services/request-context';

/** Hybrid retrieval in a cube: dense + lexical candidates, fused, filtered, with time priors; deep mode searches twice. */
@Injectable()
export class SearchService {
  constructor(
    private readonly access: AccessService,
    private readonly embedders: EmbedderRegistry,
    private readonly indexes: CubeIndexManager,
    private readonly accesses: AccessRecorder,
    private readonly memories: MemoryRepository,
  ) {}

  async search(ctx: RequestContext, cubeId: string, dto: SearchDto): Promise<{ results: SearchResultDto[] }> {
    const { cube, changeSeq } = await this.access.requireCubeWithChangeSeq(ctx.auth, Permission.MemoryRead, cubeId);
    const results = await this.searchCube(cube, changeSeq, dto);
    this.accesses.record(results.map((r) => r.id));
    return { results };
  }

  /**
   * The search itself, for a cube whose access was checked by the caller (chat retrieval
   * checks its own permission); accesses are not counted here: the caller counts what it uses.
   */
  async searchCube(cube: CubeRecord, changeSeq: number, dto: SearchDto): Promise<SearchResultDto[]> {
    const cubeId = cube.id;
    const filter: MemoryFilter = parseMemoryFilter(dto.filters);
    const embedder = this.embedders.forSettings(cube.settings);
    const [queryVector] = await this.embedders.embed(embedder, [dto.query]);
    const { index } = await this.indexes.current(cubeId, embedder, changeSeq);
    const hits = index.search(dto.query, queryVector, {
      topK: dto.topK ?? 10,
      filter,
      referenceTime: dto.referenceTime ?? Date.now(),
      explain: dto.explain === true,
      deep: dto.mode === 'deep',
      ranking: rankingFor(embedder),
    });
    // The hits' rows as stored now (ADR 0112): one query by label, instead of every row of
    // every loaded cube in memory. A memory deleted or erased since the index was brought up
    // to date is left out.
    const rows = await this.memories.getByLabels(cubeId, hits.map((h) => h.label));
    const results: SearchResultDto[] = [];
    for (const hit of hits) {
      const record = rows.get(hit.label);
      if (!record || record.state === 'deleted' || record.erasedAt !== null) continue;
      results.push(mapSearchResult(record, round(hit.score), dto.explain ? hit.explain : undefined));
    }
    return results;
  }
}

function round(score: number): number {
  return Math.round(score * 1e6) / 1e6;
}
