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
}

export class TenantListDto {
  @ApiProperty({ type: [TenantResponseDto] }) items: TenantResponseDto[];
}

export function mapTenant(tenant: TenantRecord): TenantResponseDto {
  return { id: tenant.id, name: tenant.name, createdAt: tenant.createdAt.toISOString() };
}
