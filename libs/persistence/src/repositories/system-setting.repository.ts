import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { queryRows } from './sql';

@Injectable()
export class SystemSettingRepository {
  constructor(private readonly db: DataSource) {}

  async get<T>(key: string): Promise<T | null> {
    const rows = await queryRows<{ value: T }>(this.db, 'SELECT value FROM system_settings WHERE key = $1', [key]);
    return rows.length ? rows[0].value : null;
  }

  async set(key: string, value: unknown): Promise<void> {
    await queryRows(this.db,
      `INSERT INTO system_settings (key, value, updated_at) VALUES ($1, $2::jsonb, now())
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      [key, JSON.stringify(value)],
    );
  }

  /** Stores the value unless the key exists; true when this call stored it (first boot wins). */
  async setIfAbsent(key: string, value: unknown): Promise<boolean> {
    const rows = await queryRows(this.db,
      `INSERT INTO system_settings (key, value, updated_at) VALUES ($1, $2::jsonb, now())
       ON CONFLICT (key) DO NOTHING RETURNING key`,
      [key, JSON.stringify(value)],
    );
    return rows.length > 0;
  }
}
