import { Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError } from 'typeorm';
import { TenantEntity } from '../entities';
import { TenantRecord } from './records';

@Injectable()
export class TenantRepository {
  constructor(private readonly db: DataSource) {}

  /** Returns null when the name is taken. */
  async create(name: string): Promise<TenantRecord | null> {
    try {
      return await this.db.getRepository(TenantEntity).save({ name });
    } catch (error) {
      if (isUniqueViolation(error)) return null;
      throw error;
    }
  }

  list(): Promise<TenantRecord[]> {
    return this.db.getRepository(TenantEntity).find({ order: { createdAt: 'ASC', id: 'ASC' } });
  }

  get(id: string): Promise<TenantRecord | null> {
    return this.db.getRepository(TenantEntity).findOneBy({ id });
  }
}

export function isUniqueViolation(error: unknown): boolean {
  return error instanceof QueryFailedError && (error as unknown as { code?: string }).code === '23505';
}
