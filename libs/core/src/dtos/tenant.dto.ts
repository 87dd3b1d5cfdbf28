import { ApiProperty } from '@nestjs/swagger';
import { TenantRecord } from '@engram/persistence';
import { ValidateName } from './validation';

export class CreateTenantDto {
  @ValidateName()
  name: string;
}

export class TenantResponseDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty() createdAt: string;
  @ApiProperty({ type: String, nullable: true, description: 'offboarded: keys revoked, cubes purged; kept as a tombstone for the audit log' }) deletedAt: string | null;
}

export class TenantOffboardedDto {
  @ApiProperty() tenantId: string;
  @ApiProperty() keysRevoked: number;
  @ApiProperty({ type: [String], description: 'cubes deleted now and purged by jobs' }) cubeIds: string[];
  @ApiProperty({ type: [String] }) purgeJobIds: string[];
}

export class TenantListDto {
  @ApiProperty({ type: [TenantResponseDto] }) items: TenantResponseDto[];
}

export function mapTenant(tenant: TenantRecord): TenantResponseDto {
  return { id: tenant.id, name: tenant.name, createdAt: tenant.createdAt.toISOString(), deletedAt: tenant.deletedAt?.toISOString() ?? null };
}
