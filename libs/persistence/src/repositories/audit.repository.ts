import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditEventEntity } from '../entities';
import { AuditEventRecord, decodeCursor, encodeCursor, isCursorBigint, Page } from './records';

export interface NewAuditEvent {
  requestId: string | null;
  actorType: string;
  actorId: string | null;
  tenantId: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  details?: Record<string, unknown>;
}

export interface AuditFilter {
  tenantId?: string;
  actorId?: string;
  action?: string;
  since?: Date;
  until?: Date;
}

@Injectable()
export class AuditRepository {
  constructor(private readonly db: DataSource) {}

  /** With `tx`, the event commits or rolls back with the write it describes (and takes no second connection). */
  async record(event: NewAuditEvent, tx?: EntityManager): Promise<void> {
    await (tx ?? this.db).query(
      `INSERT INTO audit_events (request_id, actor_type, actor_id, tenant_id, action, target_type, target_id, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)`,
      [event.requestId, event.actorType, event.actorId, event.tenantId, event.action, event.targetType, event.targetId, JSON.stringify(event.details ?? {})],
    );
  }

  /** Newest first, keyset-paginated on id. Returns null for a malformed cursor. */
  async query(filter: AuditFilter, limit: number, cursor: string | null): Promise<Page<AuditEventRecord> | null> {
    const query = this.db
      .getRepository(AuditEventEntity)
      .createQueryBuilder('a')
      .orderBy('a.id', 'DESC')
      .take(limit + 1);
    if (filter.tenantId) query.andWhere('a.tenant_id = :tenantId', { tenantId: filter.tenantId });
    if (filter.actorId) query.andWhere('a.actor_id = :actorId', { actorId: filter.actorId });
    if (filter.action) query.andWhere('a.action = :action', { action: filter.action });
    if (filter.since) query.andWhere('a.at >= :since', { since: filter.since });
    if (filter.until) query.andWhere('a.at < :until', { until: filter.until });
    if (cursor !== null) {
      const parts = decodeCursor(cursor, 1);
      if (parts === null || !isCursorBigint(parts[0])) return null;
      query.andWhere('a.id < :before', { before: String(parts[0]) });
    }
    const rows = await query.getMany();
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.id]) : null };
  }
}
