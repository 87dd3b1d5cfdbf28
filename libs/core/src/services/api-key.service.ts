import { Injectable } from '@nestjs/common';
import { ApiKeyRepository, CubeRepository, TenantRepository } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { ApiKeyCache } from '../auth/api-key.cache';
import { Permission } from '../auth/permission';
import { hashSecret, newApiKey } from '../auth/secret';
import { ApiKeyResponseDto, CreateApiKeyDto, CreatedApiKeyResponseDto, mapApiKey } from '../dtos/api-key.dto';
import { EngramError } from '../errors/engram.error';
import { AuditService } from './audit.service';
import { RequestContext } from './request-context';

@Injectable()
export class ApiKeyService {
  constructor(
    private readonly access: AccessService,
    private readonly tenants: TenantRepository,
    private readonly keys: ApiKeyRepository,
    private readonly cubes: CubeRepository,
    private readonly audit: AuditService,
    private readonly keyCache: ApiKeyCache,
  ) {}

  async create(ctx: RequestContext, tenantId: string, dto: CreateApiKeyDto): Promise<CreatedApiKeyResponseDto> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    await this.requireTenant(tenantId);
    if (dto.expiresAt && dto.expiresAt.getTime() <= Date.now()) {
      throw EngramError.validation([{ field: 'expiresAt', problems: ['expiresAt must be in the future'] }]);
    }
    if (dto.cubeIds?.length) {
      const missing: string[] = [];
      for (const cubeId of new Set(dto.cubeIds)) if (!(await this.cubes.getLive(tenantId, cubeId))) missing.push(cubeId);
      if (missing.length) {
        throw EngramError.validation([{ field: 'cubeIds', problems: [`not cubes of this tenant: ${missing.join(', ')}`] }]);
      }
    }
    const { key, prefix } = newApiKey();
    const record = await this.keys.create({
      tenantId,
      name: dto.name?.trim() ?? null,
      prefix,
      keyHash: hashSecret(key),
      scopes: [...new Set(dto.scopes)],
      cubeIds: dto.cubeIds ? [...new Set(dto.cubeIds)] : null,
      expiresAt: dto.expiresAt ?? null,
      rateLimitPerMinute: dto.rateLimitPerMinute ?? null,
    });
    await this.audit.record(ctx.auth, ctx.requestId, {
      action: 'api_key.create',
      targetType: 'api_key',
      targetId: record.id,
      tenantId,
      details: { prefix, scopes: record.scopes, cubeIds: record.cubeIds },
    });
    return { ...mapApiKey(record), key };
  }

  async list(ctx: RequestContext, tenantId: string): Promise<{ items: ApiKeyResponseDto[] }> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    await this.requireTenant(tenantId);
    return { items: (await this.keys.listByTenant(tenantId)).map(mapApiKey) };
  }

  async revoke(ctx: RequestContext, tenantId: string, keyId: string): Promise<void> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    await this.requireTenant(tenantId);
    const revoked = await this.keys.revoke(tenantId, keyId);
    this.keyCache.forget((key) => key.id === keyId);
    if (!revoked) {
      // Revoking twice is not an error; revoking a key that is not this tenant's is.
      if (!(await this.keys.get(tenantId, keyId))) throw EngramError.notFound('api key');
      return;
    }
    await this.audit.record(ctx.auth, ctx.requestId, { action: 'api_key.revoke', targetType: 'api_key', targetId: keyId, tenantId });
  }

  private async requireTenant(tenantId: string): Promise<void> {
    if (!(await this.tenants.getLive(tenantId))) throw EngramError.notFound('tenant');
  }
}
