import { Injectable } from '@nestjs/common';
import { TenantRepository } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import { EngramError } from '../errors/engram.error';
import { CreateTenantDto, mapTenant, TenantResponseDto } from '../dtos/tenant.dto';
import { AuditService } from './audit.service';
import { RequestContext } from './request-context';

@Injectable()
export class TenantService {
  constructor(
    private readonly access: AccessService,
    private readonly tenants: TenantRepository,
    private readonly audit: AuditService,
  ) {}

  async create(ctx: RequestContext, dto: CreateTenantDto): Promise<TenantResponseDto> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    const tenant = await this.tenants.create(dto.name.trim());
    if (!tenant) throw EngramError.conflict(`a tenant named "${dto.name.trim()}" already exists`);
    await this.audit.record(ctx.auth, ctx.requestId, { action: 'tenant.create', targetType: 'tenant', targetId: tenant.id, tenantId: tenant.id, details: { name: tenant.name } });
    return mapTenant(tenant);
  }

  async list(ctx: RequestContext): Promise<{ items: TenantResponseDto[] }> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    return { items: (await this.tenants.list()).map(mapTenant) };
  }
}
