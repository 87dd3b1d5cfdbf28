import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ModelEntity } from '../entities';
import { isUniqueViolation } from './tenant.repository';

export type ModelRecord = Readonly<ModelEntity>;

export interface NewModel {
  name: string;
  fingerprint: string;
  directory: string;
  format: string;
  config: Record<string, unknown>;
}

/** The model registry: operator-level, one row per served model name. */
@Injectable()
export class ModelRepository {
  constructor(private readonly db: DataSource) {}

  async create(model: NewModel): Promise<{ ok: true; model: ModelRecord } | { ok: false; reason: 'name_taken' }> {
    try {
      return { ok: true, model: await this.db.getRepository(ModelEntity).save({ ...model }) };
    } catch (error) {
      if (isUniqueViolation(error)) return { ok: false, reason: 'name_taken' };
      throw error;
    }
  }

  getByName(name: string): Promise<ModelRecord | null> {
    return this.db.getRepository(ModelEntity).findOneBy({ name });
  }

  list(): Promise<ModelRecord[]> {
    return this.db.getRepository(ModelEntity).find({ order: { name: 'ASC' } });
  }
}
