// Filters over the attributes a cube index keeps per document. A filter is compiled once
// per search into a predicate; every field that is set must hold (AND), lists inside a
// field are alternatives (OR) except tagsAll.

export type MetadataScalar = string | number | boolean | null;
export type MetadataCondition = MetadataScalar | { readonly in: readonly MetadataScalar[] };

/** The attributes of an indexed memory that filters and priors read. */
export interface DocumentAttributes {
  readonly kind?: string;
  readonly role?: string;
  readonly tags?: readonly string[];
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly sessionId?: string;
  /** Position of the memory inside its session (turn index), when known. */
  readonly position?: number;
  /** Epoch milliseconds. */
  readonly observedAt?: number;
  readonly validFrom?: number;
  readonly validTo?: number;
  /** 0..1, 0.5 when unknown. */
  readonly importance?: number;
  /** Lifecycle state; a document without one counts as 'active'. */
  readonly state?: string;
}

export type TimeInput = number | Date | string;

export interface MemoryFilter {
  readonly kinds?: readonly string[];
  readonly roles?: readonly string[];
  /** Defaults to ['active']; pass [] to admit every state. */
  readonly states?: readonly string[];
  readonly tagsAny?: readonly string[];
  readonly tagsAll?: readonly string[];
  /** Equality on a scalar, or membership with { in: [...] }; keys are top-level metadata keys. */
  readonly metadata?: Readonly<Record<string, MetadataCondition>>;
  readonly sessionIds?: readonly string[];
  /** validFrom ≤ t < validTo (missing bounds are open). */
  readonly validAt?: TimeInput;
  /** observedAt ≥ observedAfter (documents without observedAt fail a time bound). */
  readonly observedAfter?: TimeInput;
  /** observedAt < observedBefore. */
  readonly observedBefore?: TimeInput;
}

export function toEpochMs(value: TimeInput | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'number' ? value : value instanceof Date ? value.getTime() : Date.parse(value);
  if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${String(value)}`);
  return ms;
}

export type DocumentPredicate = (doc: DocumentAttributes) => boolean;

/** True when the filter can reject an active document (states alone default to active). */
export function filterRestricts(filter: MemoryFilter | undefined): boolean {
  if (!filter) return false;
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    if (key === 'states') {
      const states = value as readonly string[];
      if (!(states.length === 1 && states[0] === 'active')) return true;
      continue;
    }
    return true;
  }
  return false;
}

export function compileFilter(filter: MemoryFilter = {}): DocumentPredicate {
  const checks: DocumentPredicate[] = [];
  const states = filter.states ?? ['active'];
  if (states.length > 0) {
    const set = new Set(states);
    checks.push((d) => set.has(d.state ?? 'active'));
  }
  if (filter.kinds) {
    const set = new Set(filter.kinds);
    checks.push((d) => d.kind !== undefined && set.has(d.kind));
  }
  if (filter.roles) {
    const set = new Set(filter.roles);
    checks.push((d) => d.role !== undefined && set.has(d.role));
  }
  if (filter.sessionIds) {
    const set = new Set(filter.sessionIds);
    checks.push((d) => d.sessionId !== undefined && set.has(d.sessionId));
  }
  if (filter.tagsAny && filter.tagsAny.length > 0) {
    const set = new Set(filter.tagsAny);
    checks.push((d) => (d.tags ?? []).some((t) => set.has(t)));
  }
  if (filter.tagsAll && filter.tagsAll.length > 0) {
    const wanted = [...new Set(filter.tagsAll)];
    checks.push((d) => {
      const tags = new Set(d.tags ?? []);
      return wanted.every((t) => tags.has(t));
    });
  }
  if (filter.metadata) {
    for (const [key, condition] of Object.entries(filter.metadata)) {
      if (condition !== null && typeof condition === 'object' && 'in' in condition) {
        const options = condition.in;
        checks.push((d) => {
          const value = d.metadata?.[key];
          return options.some((o) => o === value);
        });
      } else {
        checks.push((d) => d.metadata !== undefined && key in d.metadata && d.metadata[key] === condition);
      }
    }
  }
  const validAt = toEpochMs(filter.validAt);
  if (validAt !== undefined) {
    checks.push(
      (d) => (d.validFrom === undefined || d.validFrom <= validAt) && (d.validTo === undefined || validAt < d.validTo),
    );
  }
  const after = toEpochMs(filter.observedAfter);
  if (after !== undefined) checks.push((d) => d.observedAt !== undefined && d.observedAt >= after);
  const before = toEpochMs(filter.observedBefore);
  if (before !== undefined) checks.push((d) => d.observedAt !== undefined && d.observedAt < before);

  if (checks.length === 0) return () => true;
  if (checks.length === 1) return checks[0];
  return (d) => {
    for (const check of checks) if (!check(d)) return false;
    return true;
  };
}
