import { Injectable } from '@nestjs/common';
import { TenantRepository } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { ApiKeyCache } from '../auth/api-key.cache';
import { Permission } from '../auth/permission';
import { EngramError } from '../errors/engram.error';
import { CreateTenantDto, mapTenant, TenantOffboardedDto, TenantQuotaReportDto, TenantQuotasDto, TenantResponseDto } from '../dtos/tenant.dto';
import { QuotaService } from '../quotas/quota.service';
import { JobQueueService } from '../jobs/job-queue.service';
import { AuditService } from './audit.service';
import { RequestContext } from './request-context';

@Injectable()
export class TenantService {
  constructor(
    private readonly access: AccessService,
    private readonly tenants: TenantRepository,
    private readonly audit: AuditService,
    private readonly jobs: JobQueueService,
    private readonly quotas: QuotaService,
    private readonly keyCache: ApiKeyCache,
  ) {}

  async create(ctx: RequestContext, dto: CreateTenantDto): Promise<TenantResponseDto> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    const tenant = await this.tenants.create(dto.name.trim());
    if (!tenant) throw EngramError.conflict(`a tenant named "${dto.name.trim()}" already exists`);
    await this.audit.record(ctx.auth, ctx.requestId, { action: 'tenant.create', targetType: 'tenant', targetId: tenant.id, tenantId: tenant.id, details: { name: tenant.name } });
    return mapTenant(tenant);
  }

  /**
   * Offboards a tenant: keys revoked at once and every cube deleted in one transaction, the
   * cubes then purged by jobs (rows, files, caches, banks); the tenant row stays as a
   * tombstone so the audit log keeps naming it. Offboarding again answers 404.
   */
  async offboard(ctx: RequestContext, tenantId: string): Promise<TenantOffboardedDto> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    const result = await this.tenants.offboard(tenantId);
    if (!result) throw EngramError.notFound('tenant');
    this.keyCache.forget((key) => key.tenantId === tenantId);
    const purgeJobIds: string[] = [];
    for (const cubeId of result.cubeIds) purgeJobIds.push((await this.jobs.enqueueCubePurge({ cubeId, tenantId })).id);
    await this.audit.record(ctx.auth, ctx.requestId, { action: 'tenant.offboard', targetType: 'tenant', targetId: tenantId, tenantId, details: { keysRevoked: result.keysRevoked, cubes: result.cubeIds.length } });
    return { tenantId, keysRevoked: result.keysRevoked, cubeIds: result.cubeIds, purgeJobIds };
  }

  /** The tenant's limits in force, the operator's overrides and its usage now. */
  async quotaReport(ctx: RequestContext, tenantId: string): Promise<TenantQuotaReportDto> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    return this.quotas.report(tenantId);
  }

  /** Replaces the overrides (a field left out follows the instance default again). */
  async setQuotas(ctx: RequestContext, tenantId: string, dto: TenantQuotasDto): Promise<TenantQuotaReportDto> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    const overrides = Object.fromEntries(Object.entries(dto).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
    if (!(await this.tenants.setQuotas(tenantId, overrides))) throw EngramError.notFound('tenant');
    this.quotas.forget(tenantId);
    await this.audit.record(ctx.auth, ctx.requestId, { action: 'tenant.quotas', targetType: 'tenant', targetId: tenantId, tenantId, details: { overrides } });
    return this.quotas.report(tenantId);
  }

  async list(ctx: RequestContext): Promise<{ items: TenantResponseDto[] }> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    return { items: (await this.tenants.list()).map(mapTenant) };
  }
}
