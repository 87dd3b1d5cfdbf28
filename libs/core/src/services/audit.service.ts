import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuditRepository } from '@engram/persistence';
import { actorOf, AuthContext } from '../auth/auth-context';

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string | null;
  tenantId: string | null;
  details?: Record<string, unknown>;
}

/** Who did what, recorded for every write and admin action. */
@Injectable()
export class AuditService {
  constructor(private readonly audit: AuditRepository) {}

  /**
   * Pass the unit of work's `tx` whenever there is one: a second pool connection taken
   * while a transaction holds a lock can wait forever once the pool is busy.
   */
  async record(auth: AuthContext | null, requestId: string | null, entry: AuditEntry, tx?: EntityManager): Promise<void> {
    const actor = actorOf(auth);
    await this.audit.record({ ...actor, requestId, ...entry }, tx);
  }
}
