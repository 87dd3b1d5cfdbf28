import { Injectable } from '@nestjs/common';
import { CubeRecord, CubeRepository } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import { CreateCubeDto, CubeListQueryDto, CubePageDto, CubeResponseDto, CubeStatsDto, mapCube, mapCubeStats, UpdateCubeDto } from '../dtos/cube.dto';
import { EngramError } from '../errors/engram.error';
import { JobQueueService } from '../jobs/job-queue.service';
import { AuditService } from './audit.service';
import { CubeIndexManager } from '../memories/cube-index.manager';
import { QuotaService } from '../quotas/quota.service';
import { EmbedderRegistry } from '../memories/embedder.registry';
import { MemoryRepository } from '@engram/persistence';
import { RequestContext } from './request-context';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `settings.embedder: null` names no embedder, yet it would be stored as given (and read
 * back as hash): left out, the cube keeps its embedder or takes the default; null is refused.
 */
function refuseNullEmbedder(settings: Record<string, unknown> | undefined): void {
  if (settings?.embedder === null) {
    throw EngramError.validation([{ field: 'settings.embedder', problems: ['settings.embedder must be an object such as { "type": "hash" }, or left out'] }]);
  }
}

/** A create that may have found the cube instead (`ifExists: "return"`). */
export interface CubeCreateResult {
  created: boolean;
  cube: CubeResponseDto;
}

@Injectable()
export class CubeService {
  constructor(
    private readonly access: AccessService,
    private readonly cubes: CubeRepository,
    private readonly jobs: JobQueueService,
    private readonly audit: AuditService,
    private readonly memories: MemoryRepository,
    private readonly indexes: CubeIndexManager,
    private readonly embedders: EmbedderRegistry,
    private readonly quotas: QuotaService,
  ) {}

  async create(ctx: RequestContext, dto: CreateCubeDto): Promise<CubeResponseDto> {
    return (await this.createOrReturn(ctx, dto)).cube;
  }

  /**
   * Creates the cube; with `ifExists: "return"` a live cube of the same name is answered
   * instead (unchanged), so agents can keep one cube per end user without storing ids.
   * Two concurrent calls both end with the same cube: the loser of the unique index reads it.
   */
  async createOrReturn(ctx: RequestContext, dto: CreateCubeDto): Promise<CubeCreateResult> {
    this.access.requirePermission(ctx.auth, Permission.CubeCreate);
    const tenantId = this.access.tenantOf(ctx.auth);
    const name = dto.name.trim();
    const returnExisting = dto.ifExists === 'return';
    // A taken name is answered before the quota: at its cube limit a tenant would otherwise hear "quota exceeded" for a duplicate.
    const existing = await this.findByName(ctx, name);
    if (existing && returnExisting) return { created: false, cube: mapCube(existing) };
    if (existing) throw EngramError.conflict(`a cube named "${name}" already exists`);
    if (ctx.auth.kind === 'key' && ctx.auth.cubeIds !== null) {
      throw EngramError.forbidden('this API key is limited to a list of cubes and cannot create new ones');
    }
    refuseNullEmbedder(dto.settings);
    await this.embedders.validate(dto.settings?.embedder);
    await this.quotas.requireCubeSlot(tenantId);
    const settings = this.embedders.settingsForNewCube(dto.settings);
    const result = await this.cubes.create({ tenantId, name, description: dto.description ?? null, settings });
    if (!result.ok) {
      const winner = returnExisting ? await this.findByName(ctx, name) : null;
      if (winner) return { created: false, cube: mapCube(winner) };
      throw EngramError.conflict(`a cube named "${name}" already exists`);
    }
    await this.audit.record(ctx.auth, ctx.requestId, { action: 'cube.create', targetType: 'cube', targetId: result.cube.id, tenantId, details: { name: result.cube.name } });
    return { created: true, cube: mapCube(result.cube) };
  }

  async list(ctx: RequestContext, query: CubeListQueryDto): Promise<CubePageDto> {
    this.access.requirePermission(ctx.auth, Permission.CubeList);
    const tenantId = this.access.tenantOf(ctx.auth);
    if (query.name !== undefined) {
      const cube = await this.findByName(ctx, query.name.trim());
      return { items: cube ? [mapCube(cube)] : [], nextCursor: null };
    }
    const onlyIds = ctx.auth.kind === 'key' ? ctx.auth.cubeIds : null;
    const page = await this.cubes.listLive(tenantId, query.limit ?? 50, query.cursor ?? null, onlyIds);
    if (!page) throw EngramError.validation([{ field: 'cursor', problems: ['cursor is not one this API returned'] }]);
    return { items: page.items.map(mapCube), nextCursor: page.nextCursor };
  }

  /**
   * The id of a cube named by id or by name, checked for `permission` (MCP tools and the
   * SDK take either). A UUID is an id; anything else is a name. Unknown → 404.
   */
  async resolveId(ctx: RequestContext, permission: Permission, idOrName: string): Promise<string> {
    const ref = idOrName.trim();
    if (UUID.test(ref)) return (await this.access.requireCube(ctx.auth, permission, ref.toLowerCase())).id;
    this.access.requirePermission(ctx.auth, permission);
    const cube = ref ? await this.findByName(ctx, ref) : null;
    if (!cube) throw EngramError.notFound('cube');
    return cube.id;
  }

  /** The caller's live cube of this name, within the key's cube list; null otherwise. */
  private async findByName(ctx: RequestContext, name: string): Promise<CubeRecord | null> {
    const cube = await this.cubes.getLiveByName(this.access.tenantOf(ctx.auth), name);
    if (!cube) return null;
    if (ctx.auth.kind === 'key' && ctx.auth.cubeIds !== null && !ctx.auth.cubeIds.includes(cube.id)) return null;
    return cube;
  }

  async get(ctx: RequestContext, cubeId: string): Promise<CubeResponseDto> {
    const cube = await this.access.requireCube(ctx.auth, Permission.CubeRead, cubeId);
    return mapCube(cube);
  }

  /** The cube with its memory counts by kind and state (dashboards, the MCP cube resource). */
  async stats(ctx: RequestContext, cubeId: string): Promise<CubeStatsDto> {
    const cube = await this.access.requireCube(ctx.auth, Permission.CubeRead, cubeId);
    return mapCubeStats(cube, await this.cubes.memoryCounts(cube.id));
  }

  async update(ctx: RequestContext, cubeId: string, dto: UpdateCubeDto): Promise<CubeResponseDto> {
    const cube = await this.access.requireCube(ctx.auth, Permission.CubeUpdate, cubeId);
    refuseNullEmbedder(dto.settings);
    // Settings that name no embedder keep the cube's (ADR 0106: new cubes store theirs).
    const settings =
      dto.settings !== undefined && dto.settings.embedder === undefined && cube.settings.embedder !== undefined ? { ...dto.settings, embedder: cube.settings.embedder } : dto.settings;
    const changes = {
      ...(dto.name !== undefined ? { name: dto.name.trim() } : {}),
      ...(dto.description !== undefined ? { description: dto.description } : {}),
      ...(settings !== undefined ? { settings } : {}),
    };
    if (Object.keys(changes).length === 0) return mapCube(cube);
    // Settings that keep the embedder as stored are not re-validated (a cube from before ADR 0104 may hold a baseUrl).
    if (settings !== undefined && JSON.stringify(settings.embedder ?? null) !== JSON.stringify(cube.settings.embedder ?? null)) {
      const before = JSON.stringify(this.embedders.stored(cube.settings.embedder));
      const after = JSON.stringify(await this.embedders.validate(settings.embedder));
      if (before !== after && (await this.memories.lastChangeSeq(cubeId)) > 0) {
        throw EngramError.conflict('this cube already holds memories embedded with another embedder; create a new cube for the new embedder');
      }
    }
    const result = await this.cubes.update(cube.tenantId, cubeId, changes);
    if (!result.ok) {
      if (result.reason === 'name_taken') throw EngramError.conflict(`a cube named "${dto.name?.trim()}" already exists`);
      throw EngramError.notFound('cube');
    }
    await this.audit.record(ctx.auth, ctx.requestId, { action: 'cube.update', targetType: 'cube', targetId: cubeId, tenantId: cube.tenantId, details: { fields: Object.keys(changes) } });
    return mapCube(result.cube);
  }

  /** Soft delete: the cube vanishes from reads now; a purge job removes it and all it owns. */
  async delete(ctx: RequestContext, cubeId: string): Promise<{ purgeJobId: string }> {
    const cube = await this.access.requireCube(ctx.auth, Permission.CubeDelete, cubeId);
    if (!(await this.cubes.softDelete(cube.tenantId, cubeId))) throw EngramError.notFound('cube');
    this.indexes.evict(cubeId);
    const job = await this.jobs.enqueueCubePurge({ cubeId, tenantId: cube.tenantId });
    await this.audit.record(ctx.auth, ctx.requestId, { action: 'cube.delete', targetType: 'cube', targetId: cubeId, tenantId: cube.tenantId, details: { purgeJobId: job.id } });
    return { purgeJobId: job.id };
  }
}
