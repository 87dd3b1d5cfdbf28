import { EngramError, FieldProblem } from '../errors/engram.error';
import { MEMORY_KINDS } from '../dtos/memory.dto';
import { ConsolidationPolicy, DEFAULT_CONSOLIDATION_POLICY, overlayConsolidation, parseConsolidation, PartialConsolidationPolicy } from './consolidation-policy';
import { ActivationPolicy, DEFAULT_ACTIVATION_POLICY, parseActivationPolicy } from './activation-policy';

export type FusionMode = 'rules' | 'llm';

/** The lifecycle policy a cube runs under (all fields resolved). TTLs and idleness are in days. */
export interface LifecyclePolicy {
  ttl: { byKind: Record<string, number>; byTag: Record<string, number> };
  archiveAfterIdleDays: number | null;
  fusion: { enabled: boolean; mode: FusionMode; threshold: number };
  invalidation: { enabled: boolean; multiValued: string[] };
  extraction: { enabled: boolean };
  consolidation: ConsolidationPolicy;
  activation: ActivationPolicy;
}

/**
 * One level of policy (instance, tenant or cube): only the fields it sets. In the TTL maps
 * a null removes an inherited entry.
 */
export interface PartialLifecyclePolicy {
  ttl?: { byKind?: Record<string, number | null>; byTag?: Record<string, number | null> };
  archiveAfterIdleDays?: number | null;
  fusion?: Partial<LifecyclePolicy['fusion']>;
  invalidation?: Partial<LifecyclePolicy['invalidation']>;
  extraction?: Partial<LifecyclePolicy['extraction']>;
  consolidation?: PartialConsolidationPolicy;
  activation?: Partial<ActivationPolicy>;
}

/**
 * Built-in defaults: rules-mode fusion and fact invalidation on (both only ever change a
 * memory's state, and both are undone by restore), no TTL, no idle archiving, extraction off.
 */
export const DEFAULT_LIFECYCLE_POLICY: LifecyclePolicy = {
  ttl: { byKind: {}, byTag: {} },
  archiveAfterIdleDays: null,
  fusion: { enabled: true, mode: 'rules', threshold: 0.8 },
  invalidation: { enabled: true, multiValued: [] },
  extraction: { enabled: false },
  consolidation: DEFAULT_CONSOLIDATION_POLICY,
  activation: DEFAULT_ACTIVATION_POLICY,
};

const MAX_DAYS = 36_500;

/** Overlays the levels, most general first, field by field. */
export function effectivePolicy(levels: PartialLifecyclePolicy[]): LifecyclePolicy {
  const out: LifecyclePolicy = structuredClone(DEFAULT_LIFECYCLE_POLICY);
  for (const level of levels) {
    for (const map of ['byKind', 'byTag'] as const) {
      for (const [key, days] of Object.entries(level.ttl?.[map] ?? {})) {
        if (days === null) delete out.ttl[map][key];
        else out.ttl[map][key] = days;
      }
    }
    if (level.archiveAfterIdleDays !== undefined) out.archiveAfterIdleDays = level.archiveAfterIdleDays;
    Object.assign(out.fusion, level.fusion ?? {});
    Object.assign(out.invalidation, level.invalidation ?? {});
    Object.assign(out.extraction, level.extraction ?? {});
    overlayConsolidation(out.consolidation, level.consolidation);
    Object.assign(out.activation, level.activation ?? {});
  }
  out.invalidation.multiValued = [...new Set(out.invalidation.multiValued)];
  return out;
}

/** Validates one level of policy; every problem names its field. */
export function parseLifecyclePolicy(raw: unknown): PartialLifecyclePolicy {
  const problems: FieldProblem[] = [];
  const problem = (field: string, message: string) => problems.push({ field, problems: [message] });
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  const onlyKeys = (field: string, value: Record<string, unknown>, allowed: string[]) => {
    for (const key of Object.keys(value)) if (!allowed.includes(key)) problem(field ? `${field}.${key}` : key, `unknown field; known: ${allowed.join(', ')}`);
  };
  const days = (field: string, value: unknown, nullable: boolean): number | null | undefined => {
    if (value === null && nullable) return null;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_DAYS) {
      problem(field, `${field} must be a number of days above 0 and at most ${MAX_DAYS}${nullable ? ', or null' : ''}`);
      return undefined;
    }
    return value;
  };
  const bool = (field: string, value: unknown): boolean | undefined => {
    if (typeof value !== 'boolean') {
      problem(field, `${field} must be a boolean`);
      return undefined;
    }
    return value;
  };

  if (!isObject(raw)) throw EngramError.validation([{ field: 'policy', problems: ['the policy must be a JSON object'] }]);
  onlyKeys('', raw, ['ttl', 'archiveAfterIdleDays', 'fusion', 'invalidation', 'extraction', 'consolidation', 'activation']);
  const out: PartialLifecyclePolicy = {};

  if (raw.ttl !== undefined) {
    if (!isObject(raw.ttl)) problem('ttl', 'ttl must be { byKind?: { kind: days }, byTag?: { tag: days } }');
    else {
      onlyKeys('ttl', raw.ttl, ['byKind', 'byTag']);
      out.ttl = {};
      for (const map of ['byKind', 'byTag'] as const) {
        const value = raw.ttl[map];
        if (value === undefined) continue;
        if (!isObject(value) || Object.keys(value).length > 100) {
          problem(`ttl.${map}`, `ttl.${map} must be an object of at most 100 { name: days }`);
          continue;
        }
        const entries: Record<string, number | null> = {};
        for (const [key, v] of Object.entries(value)) {
          if (map === 'byKind' && !(MEMORY_KINDS as readonly string[]).includes(key)) {
            problem(`ttl.byKind.${key}`, `kind must be one of: ${MEMORY_KINDS.join(', ')}`);
            continue;
          }
          if (key.length === 0 || key.length > 128) {
            problem(`ttl.${map}`, 'names must be 1 to 128 characters');
            continue;
          }
          const d = days(`ttl.${map}.${key}`, v, true);
          if (d !== undefined) entries[key] = d;
        }
        out.ttl[map] = entries;
      }
    }
  }
  if (raw.archiveAfterIdleDays !== undefined) {
    const d = days('archiveAfterIdleDays', raw.archiveAfterIdleDays, true);
    if (d !== undefined) out.archiveAfterIdleDays = d;
  }
  if (raw.fusion !== undefined) {
    if (!isObject(raw.fusion)) problem('fusion', 'fusion must be { enabled?, mode?, threshold? }');
    else {
      onlyKeys('fusion', raw.fusion, ['enabled', 'mode', 'threshold']);
      out.fusion = {};
      if (raw.fusion.enabled !== undefined) out.fusion.enabled = bool('fusion.enabled', raw.fusion.enabled);
      if (raw.fusion.mode !== undefined) {
        if (raw.fusion.mode === 'rules' || raw.fusion.mode === 'llm') out.fusion.mode = raw.fusion.mode;
        else problem('fusion.mode', 'fusion.mode must be "rules" or "llm"');
      }
      if (raw.fusion.threshold !== undefined) {
        const t = raw.fusion.threshold;
        if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0 || t > 1) problem('fusion.threshold', 'fusion.threshold must be a number above 0 and at most 1');
        else out.fusion.threshold = t;
      }
    }
  }
  if (raw.invalidation !== undefined) {
    if (!isObject(raw.invalidation)) problem('invalidation', 'invalidation must be { enabled?, multiValued? }');
    else {
      onlyKeys('invalidation', raw.invalidation, ['enabled', 'multiValued']);
      out.invalidation = {};
      if (raw.invalidation.enabled !== undefined) out.invalidation.enabled = bool('invalidation.enabled', raw.invalidation.enabled);
      const mv = raw.invalidation.multiValued;
      if (mv !== undefined) {
        if (!Array.isArray(mv) || mv.length > 100 || !mv.every((p) => typeof p === 'string' && p.trim().length > 0 && p.length <= 200)) {
          problem('invalidation.multiValued', 'invalidation.multiValued must be an array of at most 100 predicates (non-empty strings of at most 200 characters)');
        } else out.invalidation.multiValued = mv as string[];
      }
    }
  }
  if (raw.extraction !== undefined) {
    if (!isObject(raw.extraction)) problem('extraction', 'extraction must be { enabled? }');
    else {
      onlyKeys('extraction', raw.extraction, ['enabled']);
      out.extraction = {};
      if (raw.extraction.enabled !== undefined) out.extraction.enabled = bool('extraction.enabled', raw.extraction.enabled);
    }
  }
  if (raw.consolidation !== undefined) out.consolidation = parseConsolidation(raw.consolidation, problems);
  if (raw.activation !== undefined) out.activation = parseActivationPolicy(raw.activation, problems);
  if (problems.length) throw EngramError.validation(problems);
  return out;
}
