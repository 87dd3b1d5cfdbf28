// Per-key rate limits and per-tenant quotas. Counts live in PostgreSQL (UsageRepository),
// so every replica enforces the same numbers; limits come from the instance defaults
// (ENGRAM_RATE_LIMIT_PER_MINUTE, ENGRAM_QUOTA_*) overridden field by field per tenant or key.
import { Inject, Injectable } from '@nestjs/common';
import { EngramConfig, ENGRAM_CONFIG, TenantQuotas } from '@engram/config';
import { computeLayout } from '@engram/parametric';
import { TenantRepository, UsageRepository } from '@engram/persistence';
import { AuthContext } from '../auth/auth-context';
import { EngramError } from '../errors/engram.error';
import { ErrorCode } from '../errors/error-code';

export type QuotaName = keyof TenantQuotas;
export const QUOTA_NAMES: readonly QuotaName[] = ['cubes', 'memories', 'kvBytes', 'bankBytes', 'concurrentJobs', 'inferenceTokensPerMinute'];

/** Bytes of a bank file of this geometry for a model of this shape (0 when the shape is unknown). */
export function bankFileBytes(bank: { levels: number; branching: number; ranks: number[] }, model: Record<string, unknown>): number {
  const layers = Number(model.layers);
  const hidden = Number(model.hiddenSize);
  if (!(layers > 0) || !(hidden > 0)) return 0;
  return computeLayout({ levels: bank.levels, branching: bank.branching, ranks: bank.ranks, hidden, layers, dtype: 'f32' }).totalBytes;
}

/** How long a tenant's limits are reused before they are read again (operator changes apply within it). */
const LIMITS_TTL_MS = 5_000;
/**
 * Counting a tenant's memories is a scan; writes reuse the count for this long, adding what
 * this process wrote since, and count again when near the limit. Several replicas can then
 * overshoot by what they ingest in that time, never more.
 */
const MEMORY_COUNT_TTL_MS = 10_000;

@Injectable()
export class QuotaService {
  private readonly limits = new Map<string, { quotas: TenantQuotas; at: number }>();
  private readonly memoryCounts = new Map<string, { count: number; at: number }>();
  /** Memory slots taken by writes of this process that have not committed or failed yet. */
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly usage: UsageRepository,
    private readonly tenants: TenantRepository,
    @Inject(ENGRAM_CONFIG) private readonly config: EngramConfig,
  ) {}

  /** Counts the request against the key's per-minute budget; 429 with Retry-After past it. Operators are not limited. */
  async admitRequest(auth: AuthContext, keyLimit: number | null): Promise<void> {
    if (auth.kind !== 'key') return;
    const limit = keyLimit ?? this.config.rateLimitPerMinute;
    if (limit <= 0) return;
    const window = await this.usage.hit(`key:${auth.keyId}`);
    if (window.count > limit) {
      throw new EngramError(ErrorCode.RateLimited, `this API key made more than ${limit} requests this minute; retry after the Retry-After seconds`, {
        limit,
        retryAfterSeconds: Math.max(1, Math.ceil(window.resetsInMs / 1000)),
      });
    }
  }

  /** The tenant's limits: instance defaults with the operator's overrides. */
  async effective(tenantId: string): Promise<TenantQuotas> {
    const cached = this.limits.get(tenantId);
    if (cached && Date.now() - cached.at < LIMITS_TTL_MS) return cached.quotas;
    const tenant = await this.tenants.get(tenantId);
    const quotas = { ...this.config.quotas, ...(tenant?.quotas ?? {}) } as TenantQuotas;
    this.limits.set(tenantId, { quotas, at: Date.now() });
    return quotas;
  }

  forget(tenantId: string): void {
    this.limits.delete(tenantId);
    this.memoryCounts.delete(tenantId);
  }

  async requireCubeSlot(tenantId: string): Promise<void> {
    const limit = (await this.effective(tenantId)).cubes;
    if (limit > 0) this.check('cubes', limit, await this.usage.liveCubes(tenantId), 1);
  }

  /**
   * Takes `adding` memory slots for a write about to run, or refuses (429). The caller gives
   * them back (the returned function) once the write committed or failed: until then they are
   * in flight, and a recount of the stored memories adds them, so concurrent writes of this
   * process cannot all pass on the same count (only replicas may overshoot, ADR 0004).
   */
  async requireMemorySlots(tenantId: string, adding: number): Promise<() => void> {
    const limit = (await this.effective(tenantId)).memories;
    if (limit <= 0) return () => undefined;
    let counted = this.memoryCounts.get(tenantId);
    if (!counted || Date.now() - counted.at > MEMORY_COUNT_TTL_MS || counted.count + adding > limit) {
      const stored = await this.usage.storedMemories(tenantId);
      counted = { count: stored + (this.inFlight.get(tenantId) ?? 0), at: Date.now() };
      if (this.memoryCounts.size > 10_000) this.memoryCounts.clear();
      this.memoryCounts.set(tenantId, counted);
    }
    this.check('memories', limit, counted.count, adding);
    counted.count += adding;
    this.inFlight.set(tenantId, (this.inFlight.get(tenantId) ?? 0) + adding);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(tenantId) ?? adding) - adding;
      if (left > 0) this.inFlight.set(tenantId, left);
      else this.inFlight.delete(tenantId);
    };
  }

  /**
   * An import writes into a staging cube, which is not live and so not in the tenant's count
   * until it is revealed: each batch is checked with all the import holds so far
   * (`importing`) added to `used`, the tenant's count when the import began (counted when
   * not given, as again just before the reveal). Returns the count it checked against.
   */
  async requireImportedMemories(tenantId: string, importing: number, used?: number): Promise<number> {
    const limit = (await this.effective(tenantId)).memories;
    if (limit <= 0) return 0;
    const count = used ?? (await this.usage.storedMemories(tenantId));
    this.check('memories', limit, count, importing);
    return count;
  }

  async requireKvBytes(tenantId: string, adding: number): Promise<void> {
    const limit = (await this.effective(tenantId)).kvBytes;
    if (limit > 0) this.check('kvBytes', limit, await this.usage.kvBytes(tenantId), adding);
  }

  /**
   * Whether `adding` KV bytes fit the tenant's quota once `releasing` bytes it uses now are
   * freed (a working-memory rebuild replaces its previous cache). `used` excludes `releasing`.
   */
  async kvBytesFit(tenantId: string, adding: number, releasing = 0): Promise<{ fits: boolean; limit: number; used: number }> {
    const limit = (await this.effective(tenantId)).kvBytes;
    if (limit <= 0) return { fits: true, limit, used: 0 };
    const used = Math.max(0, (await this.usage.kvBytes(tenantId)) - releasing);
    return { fits: used + adding <= limit, limit, used };
  }

  async requireBankBytes(tenantId: string, adding: number): Promise<void> {
    const limit = (await this.effective(tenantId)).bankBytes;
    if (limit > 0) this.check('bankBytes', limit, await this.bankBytes(tenantId), adding);
  }

  private async bankBytes(tenantId: string): Promise<number> {
    return (await this.usage.bankShapes(tenantId)).reduce((sum, b) => sum + bankFileBytes(b, b.config), 0);
  }

  async requireJobSlot(tenantId: string): Promise<void> {
    const limit = (await this.effective(tenantId)).concurrentJobs;
    if (limit > 0) this.check('concurrentJobs', limit, await this.usage.jobsInFlight(tenantId), 1);
  }

  /** Before generating: refused while this minute's tokens are spent (the answer's own tokens are charged after). */
  async requireTokens(tenantId: string, prompt: number): Promise<void> {
    const limit = (await this.effective(tenantId)).inferenceTokensPerMinute;
    if (limit <= 0) return;
    if (prompt > limit) {
      // No minute will ever hold it: waiting and retrying, as a spent budget says, cannot help.
      throw new EngramError(ErrorCode.QuotaExceeded, `the prompt's ${prompt} tokens are more than the tenant's inference budget of ${limit} tokens per minute; shorten it, or ask the operator for a larger budget`, {
        quota: 'inferenceTokensPerMinute',
        limit,
        requested: prompt,
      });
    }
    const window = await this.usage.current(`tokens:${tenantId}`);
    if (window.count + prompt > limit) {
      throw new EngramError(ErrorCode.QuotaExceeded, `the tenant's inference budget of ${limit} tokens per minute is spent; retry after the Retry-After seconds`, {
        quota: 'inferenceTokensPerMinute',
        limit,
        used: window.count,
        retryAfterSeconds: Math.max(1, Math.ceil(window.resetsInMs / 1000)),
      });
    }
  }

  async chargeTokens(tenantId: string, tokens: number): Promise<void> {
    if ((await this.effective(tenantId)).inferenceTokensPerMinute > 0 && tokens > 0) await this.usage.hit(`tokens:${tenantId}`, tokens);
  }

  /** The tenant's limits, what the operator overrode and what it uses now. */
  async report(tenantId: string): Promise<{ limits: TenantQuotas; overrides: Partial<TenantQuotas>; usage: TenantQuotas }> {
    const tenant = await this.tenants.getLive(tenantId);
    if (!tenant) throw EngramError.notFound('tenant');
    this.forget(tenantId);
    const [cubes, memories, kvBytes, bankBytes, concurrentJobs, tokens] = await Promise.all([
      this.usage.liveCubes(tenantId),
      this.usage.storedMemories(tenantId),
      this.usage.kvBytes(tenantId),
      this.bankBytes(tenantId),
      this.usage.jobsInFlight(tenantId),
      this.usage.current(`tokens:${tenantId}`),
    ]);
    return {
      limits: await this.effective(tenantId),
      overrides: tenant.quotas as Partial<TenantQuotas>,
      usage: { cubes, memories, kvBytes, bankBytes, concurrentJobs, inferenceTokensPerMinute: tokens.count },
    };
  }

  private check(quota: QuotaName, limit: number, used: number, adding: number): void {
    if (used + adding <= limit) return;
    throw new EngramError(ErrorCode.QuotaExceeded, `the tenant's ${quota} quota of ${limit} would be exceeded (uses ${used}, adding ${adding}); ask the operator to raise it`, {
      quota,
      limit,
      used,
    });
  }
}
