import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  ApiKeyListDto,
  ApiKeyService,
  AuditQueryDto,
  AuditQueryService,
  CreateApiKeyDto,
  CreatedApiKeyResponseDto,
  CreateTenantDto,
  RequestContext,
  TenantListDto,
  TenantOffboardedDto,
  TenantQuotaReportDto,
  TenantQuotasDto,
  TenantResponseDto,
  TenantService,
} from '@engram/core';
import { KeyId, TenantId } from '../http/id.pipe';
import { Ctx } from '../http/request-context.decorator';

@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin')
export class AdminController {
  constructor(
    private readonly tenants: TenantService,
    private readonly keys: ApiKeyService,
    private readonly audit: AuditQueryService,
  ) {}

  @Post('tenants')
  @ApiOperation({ summary: 'Create a tenant', description: 'Admin token. 409 when a tenant of that name exists.' })
  @ApiCreatedResponse({ type: TenantResponseDto })
  createTenant(@Ctx() ctx: RequestContext, @Body() dto: CreateTenantDto) {
    return this.tenants.create(ctx, dto);
  }

  @Get('tenants')
  @ApiOperation({ summary: 'List tenants', description: 'Admin token.' })
  @ApiOkResponse({ type: TenantListDto })
  listTenants(@Ctx() ctx: RequestContext) {
    return this.tenants.list(ctx);
  }

  @Delete('tenants/:tenantId')
  @ApiOperation({ summary: 'Offboard a tenant: revoke its keys and purge its cubes', description: 'Admin token. The tenant stays as a tombstone; offboarding it again is a 404.' })
  @ApiOkResponse({ type: TenantOffboardedDto, description: 'keys revoked at once, cubes deleted and purged by jobs; the tenant stays as a tombstone' })
  offboardTenant(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string) {
    return this.tenants.offboard(ctx, tenantId);
  }

  @Get('tenants/:tenantId/quotas')
  @ApiOperation({ summary: "Get a tenant's quotas in force, its overrides and its usage", description: 'Admin token.' })
  @ApiOkResponse({ type: TenantQuotaReportDto })
  getQuotas(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string) {
    return this.tenants.quotaReport(ctx, tenantId);
  }

  @Put('tenants/:tenantId/quotas')
  @ApiOperation({ summary: "Replace a tenant's quota overrides", description: 'Admin token. A field left out follows the instance default again.' })
  @ApiOkResponse({ type: TenantQuotaReportDto, description: 'the overrides are replaced; a field left out follows the instance default' })
  setQuotas(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string, @Body() dto: TenantQuotasDto) {
    return this.tenants.setQuotas(ctx, tenantId, dto);
  }

  @Post('tenants/:tenantId/keys')
  @ApiOperation({ summary: 'Issue an API key for a tenant', description: 'Admin token. The secret is in this response only.' })
  @ApiCreatedResponse({ type: CreatedApiKeyResponseDto })
  createKey(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string, @Body() dto: CreateApiKeyDto) {
    return this.keys.create(ctx, tenantId, dto);
  }

  @Get('tenants/:tenantId/keys')
  @ApiOperation({ summary: "List a tenant's API keys", description: 'Admin token.' })
  @ApiOkResponse({ type: ApiKeyListDto, description: 'prefixes only: secrets are shown once, at creation' })
  listKeys(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string) {
    return this.keys.list(ctx, tenantId);
  }

  @Delete('tenants/:tenantId/keys/:keyId')
  @ApiOperation({ summary: 'Revoke an API key', description: 'Admin token. Effective at once.' })
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'revoked at once' })
  revokeKey(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string, @Param('keyId', KeyId) keyId: string) {
    return this.keys.revoke(ctx, tenantId, keyId);
  }

  @Get('audit')
  @ApiOperation({ summary: 'Query the audit log', description: 'Admin token.' })
  listAudit(@Ctx() ctx: RequestContext, @Query() query: AuditQueryDto) {
    return this.audit.query(ctx, query);
  }
}
