import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
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
  @ApiCreatedResponse({ type: TenantResponseDto })
  createTenant(@Ctx() ctx: RequestContext, @Body() dto: CreateTenantDto) {
    return this.tenants.create(ctx, dto);
  }

  @Get('tenants')
  @ApiOkResponse({ type: TenantListDto })
  listTenants(@Ctx() ctx: RequestContext) {
    return this.tenants.list(ctx);
  }

  @Delete('tenants/:tenantId')
  @ApiOkResponse({ type: TenantOffboardedDto, description: 'keys revoked at once, cubes deleted and purged by jobs; the tenant stays as a tombstone' })
  offboardTenant(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string) {
    return this.tenants.offboard(ctx, tenantId);
  }

  @Get('tenants/:tenantId/quotas')
  @ApiOkResponse({ type: TenantQuotaReportDto })
  getQuotas(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string) {
    return this.tenants.quotaReport(ctx, tenantId);
  }

  @Put('tenants/:tenantId/quotas')
  @ApiOkResponse({ type: TenantQuotaReportDto, description: 'the overrides are replaced; a field left out follows the instance default' })
  setQuotas(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string, @Body() dto: TenantQuotasDto) {
    return this.tenants.setQuotas(ctx, tenantId, dto);
  }

  @Post('tenants/:tenantId/keys')
  @ApiCreatedResponse({ type: CreatedApiKeyResponseDto })
  createKey(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string, @Body() dto: CreateApiKeyDto) {
    return this.keys.create(ctx, tenantId, dto);
  }

  @Get('tenants/:tenantId/keys')
  @ApiOkResponse({ type: ApiKeyListDto, description: 'prefixes only: secrets are shown once, at creation' })
  listKeys(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string) {
    return this.keys.list(ctx, tenantId);
  }

  @Delete('tenants/:tenantId/keys/:keyId')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'revoked at once' })
  revokeKey(@Ctx() ctx: RequestContext, @Param('tenantId', TenantId) tenantId: string, @Param('keyId', KeyId) keyId: string) {
    return this.keys.revoke(ctx, tenantId, keyId);
  }

  @Get('audit')
  listAudit(@Ctx() ctx: RequestContext, @Query() query: AuditQueryDto) {
    return this.audit.query(ctx, query);
  }
}
