// The `consolidation` section of a cube's lifecycle policy (ADR 0403): which bank stable,
// hot memories are written into, what counts as stable and hot, how many per run, and the
// figures a new bank generation must reach to replace the previous one.
import type { FieldProblem } from '../errors/engram.error';

export interface ConsolidationThresholds {
  /** Share of the written texts' tokens the model must predict greedily with their blocks attached (0–1). */
  minRecall: number;
  /** Held-out perplexity with a written path attached may exceed the anchor's by at most this fraction. */
  maxPerplexityIncrease: number;
}

export interface ConsolidationPolicy {
  /** The cube's bank consolidation writes into; null: consolidation off. */
  bankId: string | null;
  /** Accesses (reads that returned the memory) a memory needs before it is consolidated. */
  minAccesses: number;
  /** Hours a memory must be unchanged (no edit, no new version) before it is consolidated. */
  minAgeHours: number;
  /** Memories written per run at most (the hottest first). */
  maxPerRun: number;
  /**
   * When chat routes this bank by the conversation's text (nothing was retrieved), the cosine
   * the text must reach to its leaf's centroid for the bank to speak; below it the bank abstains
   * (`no-match`): "hi" does not get a block of facts attached (ADR 0403).
   */
  minRouteSimilarity: number;
  thresholds: ConsolidationThresholds;
}

export type PartialConsolidationPolicy = Partial<Omit<ConsolidationPolicy, 'thresholds'>> & { thresholds?: Partial<ConsolidationThresholds> };

export const DEFAULT_CONSOLIDATION_POLICY: ConsolidationPolicy = {
  bankId: null,
  minAccesses: 3,
  minAgeHours: 24,
  maxPerRun: 64,
  minRouteSimilarity: 0.3,
  thresholds: { minRecall: 0.5, maxPerplexityIncrease: 0.05 },
};

export const CONSOLIDATION_LIMITS = Object.freeze({ minAccesses: 1_000_000, minAgeHours: 87_600, maxPerRun: 1000 });

/** Overlays one level's section on the effective one (field by field, thresholds too). */
export function overlayConsolidation(out: ConsolidationPolicy, level: PartialConsolidationPolicy | undefined): void {
  if (!level) return;
  const { thresholds, ...rest } = level;
  Object.assign(out, rest);
  Object.assign(out.thresholds, thresholds ?? {});
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Validates the `consolidation` section of one policy level; problems name their field. Whether the bank is usable is checked against the cube (ConsolidationGate). */
export function parseConsolidation(raw: unknown, problems: FieldProblem[]): PartialConsolidationPolicy | undefined {
  const problem = (field: string, message: string) => problems.push({ field, problems: [message] });
  if (!isObject(raw)) {
    problem('consolidation', 'consolidation must be { bankId, minAccesses?, minAgeHours?, maxPerRun?, minRouteSimilarity?, thresholds? }');
    return undefined;
  }
  const out: PartialConsolidationPolicy = {};
  const known = ['bankId', 'minAccesses', 'minAgeHours', 'maxPerRun', 'minRouteSimilarity', 'thresholds'];
  for (const key of Object.keys(raw)) if (!known.includes(key)) problem(`consolidation.${key}`, `unknown field; known: ${known.join(', ')}`);
  if (raw.bankId !== undefined) {
    if (raw.bankId === null || (typeof raw.bankId === 'string' && UUID.test(raw.bankId))) out.bankId = raw.bankId === null ? null : raw.bankId.toLowerCase();
    else problem('consolidation.bankId', 'consolidation.bankId must be the id (uuid) of a bank of this cube, or null to turn consolidation off');
  }
  const integer = (key: 'minAccesses' | 'maxPerRun', min: number) => {
    const v = raw[key];
    if (v === undefined) return;
    const max = CONSOLIDATION_LIMITS[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) problem(`consolidation.${key}`, `consolidation.${key} must be an integer from ${min} to ${max}`);
    else out[key] = v;
  };
  integer('minAccesses', 0);
  integer('maxPerRun', 1);
  if (raw.minAgeHours !== undefined) {
    const v = raw.minAgeHours;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > CONSOLIDATION_LIMITS.minAgeHours) problem('consolidation.minAgeHours', `consolidation.minAgeHours must be a number of hours from 0 to ${CONSOLIDATION_LIMITS.minAgeHours}`);
    else out.minAgeHours = v;
  }
  if (raw.minRouteSimilarity !== undefined) {
    const v = raw.minRouteSimilarity;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < -1 || v > 1) problem('consolidation.minRouteSimilarity', 'consolidation.minRouteSimilarity must be a cosine from -1 to 1 (-1: always route by text)');
    else out.minRouteSimilarity = v;
  }
  if (raw.thresholds !== undefined) {
    if (!isObject(raw.thresholds)) problem('consolidation.thresholds', 'consolidation.thresholds must be { minRecall?, maxPerplexityIncrease? }');
    else {
      const t = raw.thresholds;
      for (const key of Object.keys(t)) if (key !== 'minRecall' && key !== 'maxPerplexityIncrease') problem(`consolidation.thresholds.${key}`, 'unknown field; known: minRecall, maxPerplexityIncrease');
      out.thresholds = {};
      if (t.minRecall !== undefined) {
        if (typeof t.minRecall !== 'number' || !Number.isFinite(t.minRecall) || t.minRecall < 0 || t.minRecall > 1) problem('consolidation.thresholds.minRecall', 'consolidation.thresholds.minRecall must be a number from 0 to 1');
        else out.thresholds.minRecall = t.minRecall;
      }
      if (t.maxPerplexityIncrease !== undefined) {
        const v = t.maxPerplexityIncrease;
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) problem('consolidation.thresholds.maxPerplexityIncrease', 'consolidation.thresholds.maxPerplexityIncrease must be a fraction from 0 to 100 (0.05 = +5%)');
        else out.thresholds.maxPerplexityIncrease = v;
      }
    }
  }
  return out;
}
