import { Injectable } from '@nestjs/common';
import { SystemSettingRepository } from '@engram/persistence';

const KEY = 'scheduler.paused';
const CACHE_MS = 1000;

export interface PauseState {
  global: boolean;
  tenants: string[];
}

/**
 * The operator's pause switch for lifecycle work, globally or per tenant, kept in the
 * database so every worker obeys it (read at most once a second per process).
 */
@Injectable()
export class SchedulerControl {
  private cached: { at: number; state: PauseState } | null = null;

  constructor(private readonly settings: SystemSettingRepository) {}

  async state(): Promise<PauseState> {
    if (this.cached && Date.now() - this.cached.at < CACHE_MS) return this.cached.state;
    const stored = await this.settings.get<PauseState>(KEY);
    const state = { global: stored?.global === true, tenants: Array.isArray(stored?.tenants) ? stored.tenants : [] };
    this.cached = { at: Date.now(), state };
    return state;
  }

  async isPaused(tenantId: string | null): Promise<boolean> {
    const state = await this.state();
    return state.global || (tenantId !== null && state.tenants.includes(tenantId));
  }

  async set(paused: boolean, tenantId: string | null): Promise<PauseState> {
    const current = { ...(await this.state()) };
    if (tenantId === null) current.global = paused;
    else current.tenants = paused ? [...new Set([...current.tenants, tenantId])] : current.tenants.filter((t) => t !== tenantId);
    await this.settings.set(KEY, current);
    this.cached = { at: Date.now(), state: current };
    return current;
  }
}
