import { Injectable } from '@nestjs/common';
import { basename } from 'node:path';
import { ModelRecord, ModelRepository } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import { ImportModelDto, mapModel, ModelResponseDto } from '../dtos/model.dto';
import { EngramError } from '../errors/engram.error';
import { ErrorCode } from '../errors/error-code';
import { AuditService } from '../services/audit.service';
import { RequestContext } from '../services/request-context';
import { ModelRuntime } from './model.runtime';

/** The model registry: the operator imports model directories; tenants use them by name. */
@Injectable()
export class ModelService {
  constructor(
    private readonly access: AccessService,
    private readonly models: ModelRepository,
    private readonly runtime: ModelRuntime,
    private readonly audit: AuditService,
  ) {}

  async import(ctx: RequestContext, dto: ImportModelDto): Promise<ModelResponseDto> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    const directory = this.runtime.inspect(dto.path);
    const name = (dto.name ?? basename(directory.dir)).trim();
    const c = directory.config;
    const result = await this.models.create({
      name,
      fingerprint: directory.fingerprint,
      directory: directory.dir,
      format: directory.format,
      config: {
        architecture: c.architecture,
        modelType: c.modelType,
        layers: c.numLayers,
        hiddenSize: c.hiddenSize,
        heads: c.numHeads,
        kvHeads: c.numKvHeads,
        vocabSize: c.vocabSize,
        contextLength: c.maxPositionEmbeddings,
      },
    });
    if (!result.ok) throw EngramError.conflict(`a model named "${name}" is already registered`);
    await this.audit.record(ctx.auth, ctx.requestId, { action: 'model.import', targetType: 'model', targetId: result.model.id, tenantId: null, details: { name, fingerprint: directory.fingerprint } });
    return mapModel(result.model);
  }

  async list(ctx: RequestContext): Promise<{ items: ModelResponseDto[] }> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    return { items: (await this.models.list()).map(mapModel) };
  }

  /** A registered model by the name clients use (for services that already checked access). */
  async resolve(name: string): Promise<ModelRecord> {
    const model = await this.models.getByName(name);
    if (!model) {
      // Models are the instance's, not a tenant's: naming them tells the caller what to use instead.
      const names = (await this.models.list()).map((m) => m.name).sort();
      const known = names.length === 0 ? 'none is registered on this server' : `the models here: ${names.slice(0, 10).join(', ')}${names.length > 10 ? `, … (${names.length})` : ''}`;
      throw new EngramError(ErrorCode.NotFound, `model "${name}" not found: ${known}; an operator registers one with \`engram model import\` or POST /v1/admin/models`);
    }
    return model;
  }
}
