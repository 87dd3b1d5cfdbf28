/** What heat is computed from; all on the memory row. */
export interface HeatInputs {
  accessCount: number;
  lastAccessedAt: Date | null;
  createdAt: Date;
  importance: number | null;
}

export const DEFAULT_HEAT_HALF_LIFE_DAYS = 7;

/**
 * Heat = (1 + ln(1 + accesses)) × ½^(days since last access / half-life) × (0.5 + importance),
 * importance defaulting to 0.5. A fresh, unread memory of default importance has heat 1; it
 * halves every half-life without reads and grows slowly (logarithmically) with them.
 */
export function heatOf(m: HeatInputs, now: number, halfLifeDays = DEFAULT_HEAT_HALF_LIFE_DAYS): number {
  const last = (m.lastAccessedAt ?? m.createdAt).getTime();
  const days = Math.max(0, now - last) / 86_400_000;
  const recency = Math.pow(0.5, days / halfLifeDays);
  const value = (1 + Math.log1p(Math.max(0, m.accessCount))) * recency * (0.5 + (m.importance ?? 0.5));
  return Math.round(value * 1e6) / 1e6;
}
