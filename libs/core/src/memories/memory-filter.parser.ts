import { EngramError, FieldProblem } from '../errors/engram.error';
import { MEMORY_KINDS, MEMORY_STATES } from '../dtos/memory.dto';
import { parseIsoDateTime } from '../dtos/validation';

/** The filter vocabulary shared by search (index) and list (SQL). */
export interface ParsedMemoryFilter {
  kinds?: string[];
  roles?: string[];
  states?: string[];
  tagsAny?: string[];
  tagsAll?: string[];
  metadata?: Record<string, string | number | boolean | null | { in: (string | number | boolean | null)[] }>;
  sessionIds?: string[];
  observedAfter?: Date;
  observedBefore?: Date;
  validAt?: Date;
}

/** Conditions in one metadata filter; the index intersects them with a byte-wide counter. */
export const MAX_METADATA_CONDITIONS = 64;

const KNOWN = ['kind', 'role', 'tags', 'metadata', 'state', 'observedAfter', 'observedBefore', 'validAt', 'sessionId'];
type Scalar = string | number | boolean | null;

/**
 * Parses `filters` of a search (or the query of a list) and names every problem:
 * unknown keys, wrong types, bad dates.
 */
export function parseMemoryFilter(raw: Record<string, unknown> | undefined, options: { allowDeleted?: boolean } = {}): ParsedMemoryFilter {
  const problems: FieldProblem[] = [];
  const problem = (field: string, message: string) => problems.push({ field: `filters.${field}`, problems: [message] });
  const out: ParsedMemoryFilter = {};
  if (!raw) return out;

  const stringList = (field: string, value: unknown, allowed?: readonly string[]): string[] | undefined => {
    const list = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list) || list.length === 0 || list.length > 100 || !list.every((v) => typeof v === 'string' && v.length <= 512)) {
      problem(field, `${field} must be a string or a non-empty array of strings`);
      return undefined;
    }
    if (allowed) {
      const bad = list.filter((v) => !allowed.includes(v));
      if (bad.length) {
        problem(field, `${field} must be among: ${allowed.join(', ')} (got ${bad.join(', ')})`);
        return undefined;
      }
    }
    return list as string[];
  };
  const date = (field: string, value: unknown): Date | undefined => {
    const parsed = parseIsoDateTime(value); // as the date fields of requests: an ISO-8601 string whose date exists
    if (!parsed) {
      problem(field, `${field} must be an ISO-8601 date-time`);
      return undefined;
    }
    return parsed;
  };
  const isScalar = (v: unknown): v is Scalar => v === null || ['string', 'number', 'boolean'].includes(typeof v);

  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    switch (key) {
      case 'kind':
        out.kinds = stringList(key, value, MEMORY_KINDS);
        break;
      case 'role':
        out.roles = stringList(key, value);
        break;
      case 'state':
        out.states = stringList(key, value, options.allowDeleted ? [...MEMORY_STATES, 'deleted'] : MEMORY_STATES);
        break;
      case 'sessionId':
        out.sessionIds = stringList(key, value);
        break;
      case 'tags': {
        if (Array.isArray(value) || typeof value === 'string') {
          out.tagsAny = stringList(key, value);
        } else if (value !== null && typeof value === 'object') {
          const spec = value as Record<string, unknown>;
          const extra = Object.keys(spec).filter((k) => k !== 'any' && k !== 'all');
          if (extra.length) problem(key, `tags takes { any: [...] } and/or { all: [...] }, not ${extra.join(', ')}`);
          // {} would filter nothing: a client that meant a filter gets every memory back.
          else if (spec.any === undefined && spec.all === undefined) problem(key, 'tags takes { any: [...] } and/or { all: [...] }: give at least one');
          if (spec.any !== undefined) out.tagsAny = stringList('tags.any', spec.any);
          if (spec.all !== undefined) out.tagsAll = stringList('tags.all', spec.all);
        } else problem(key, 'tags must be an array of strings or { any, all }');
        break;
      }
      case 'metadata': {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          problem(key, 'metadata must be an object of { key: value | { in: [values] } }');
          break;
        }
        const entries = Object.entries(value as Record<string, unknown>);
        if (entries.length > MAX_METADATA_CONDITIONS) {
          problem(key, `metadata takes at most ${MAX_METADATA_CONDITIONS} keys (got ${entries.length})`);
          break;
        }
        // No prototype: a key named "__proto__" is a condition like any other, not a silent no-op.
        const conditions: NonNullable<ParsedMemoryFilter['metadata']> = Object.create(null);
        for (const [metaKey, condition] of entries) {
          if (isScalar(condition)) conditions[metaKey] = condition;
          else if (condition && typeof condition === 'object' && !Array.isArray(condition)) {
            const spec = condition as Record<string, unknown>;
            if (Object.keys(spec).length === 1 && Array.isArray(spec.in) && spec.in.length > 0 && spec.in.length <= 100 && spec.in.every(isScalar)) {
              conditions[metaKey] = { in: spec.in as Scalar[] };
            } else problem(`metadata.${metaKey}`, 'a metadata condition is a scalar or { in: [scalars] }');
          } else problem(`metadata.${metaKey}`, 'a metadata condition is a scalar or { in: [scalars] }');
        }
        out.metadata = conditions;
        break;
      }
      case 'observedAfter':
      case 'observedBefore':
      case 'validAt':
        out[key] = date(key, value);
        break;
      default:
        problem(key, `unknown filter "${key}"; known filters: ${KNOWN.join(', ')}`);
    }
  }
  if (problems.length) throw EngramError.validation(problems);
  // A point in time asks for the history too: what was superseded was current then.
  if (out.validAt && !out.states) out.states = ['active', 'superseded'];
  return out;
}
