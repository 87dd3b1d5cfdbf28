import { Injectable } from '@nestjs/common';
import { AuditRepository } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import { AuditEventResponseDto, AuditQueryDto, mapAuditEvent } from '../dtos/audit.dto';
import { EngramError } from '../errors/engram.error';
import { RequestContext } from './request-context';

@Injectable()
export class AuditQueryService {
  constructor(
    private readonly access: AccessService,
    private readonly audit: AuditRepository,
  ) {}

  async query(ctx: RequestContext, query: AuditQueryDto): Promise<{ items: AuditEventResponseDto[]; nextCursor: string | null }> {
    this.access.requirePermission(ctx.auth, Permission.AdminAll);
    const page = await this.audit.query(
      { tenantId: query.tenantId, actorId: query.actorId, action: query.action, since: query.since, until: query.until },
      query.limit ?? 100,
      query.cursor ?? null,
    );
    if (!page) throw EngramError.validation([{ field: 'cursor', problems: ['cursor is not one this API returned'] }]);
    return { items: page.items.map(mapAuditEvent), nextCursor: page.nextCursor };
  }
}
