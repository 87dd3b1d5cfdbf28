import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { AuditEventRecord } from '@engram/persistence';
import { PageQueryDto, ValidateDate, ValidateUUID } from './validation';

export class AuditQueryDto extends PageQueryDto {
  @ApiPropertyOptional() @ValidateUUID({ optional: true }) tenantId?: string;
  @ApiPropertyOptional() @ValidateUUID({ optional: true }) actorId?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(100) action?: string;
  @ValidateDate({ optional: true }) since?: Date;
  @ValidateDate({ optional: true }) until?: Date;
}

export class AuditEventResponseDto {
  @ApiProperty() id: string;
  @ApiProperty() at: string;
  @ApiProperty({ type: String, nullable: true }) requestId: string | null;
  @ApiProperty() actorType: string;
  @ApiProperty({ type: String, nullable: true }) actorId: string | null;
  @ApiProperty({ type: String, nullable: true }) tenantId: string | null;
  @ApiProperty() action: string;
  @ApiProperty() targetType: string;
  @ApiProperty({ type: String, nullable: true }) targetId: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) details: Record<string, unknown>;
}

export function mapAuditEvent(event: AuditEventRecord): AuditEventResponseDto {
  return {
    id: event.id,
    at: event.at.toISOString(),
    requestId: event.requestId,
    actorType: event.actorType,
    actorId: event.actorId,
    tenantId: event.tenantId,
    action: event.action,
    targetType: event.targetType,
    targetId: event.targetId,
    details: event.details,
  };
}
