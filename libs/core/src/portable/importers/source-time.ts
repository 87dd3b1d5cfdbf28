// Timestamps as other systems write them, normalised to UTC ISO-8601 (microseconds kept).

const LME = /^(\d{4})\/(\d{2})\/(\d{2})\s*(?:\([A-Za-z]{3}\))?\s*(\d{2}):(\d{2})(?::(\d{2}))?$/;
const NAIVE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/;

/**
 * Returns an ISO timestamp in UTC, or null for a missing or unreadable value. Naive times
 * (no offset: MemOS model defaults, LongMemEval's "2023/04/03 (Mon) 08:12") are read as
 * UTC; fractions beyond microseconds (Neo4j's nanoseconds) are cut; numbers are unix
 * seconds (or milliseconds when too large for seconds).
 */
export function toUtcIso(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'number' && Number.isFinite(value)) {
    const ms = value > 1e11 ? value : value * 1000;
    const d = new Date(ms);
    return storable(d) ? d.toISOString() : null;
  }
  if (typeof value !== 'string') return null;
  const text = value.trim();
  const lme = LME.exec(text);
  if (lme) {
    if (!dayExists(+lme[1], +lme[2], +lme[3]) || +lme[4] > 23 || +lme[5] > 59 || +(lme[6] ?? 0) > 59) return null;
    return new Date(Date.UTC(+lme[1], +lme[2] - 1, +lme[3], +lme[4], +lme[5], +(lme[6] ?? 0))).toISOString();
  }
  // JavaScript rolls 2026-02-30 over into March; the source meant no such day.
  const ymd = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  if (ymd && !dayExists(+ymd[1], +ymd[2], +ymd[3])) return null;
  let iso = text.replace(/^(\d{4}-\d{2}-\d{2}) /, '$1T');
  // Keep at most 6 fraction digits: JS Dates keep 3, PostgreSQL 6.
  let micros = '';
  iso = iso.replace(/\.(\d+)/, (_m, digits: string) => {
    micros = digits.slice(0, 6).padEnd(6, '0');
    return `.${digits.slice(0, 3).padEnd(3, '0')}`;
  });
  if (NAIVE.test(text)) iso = iso.length === 10 ? `${iso}T00:00:00Z` : `${iso}Z`;
  const d = new Date(iso);
  if (!storable(d)) return null;
  const out = d.toISOString();
  return micros ? out.replace(/\.\d{3}Z$/, `.${micros}Z`) : out;
}

function dayExists(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month - 1, day));
  return month >= 1 && month <= 12 && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/** A time an archive (and PostgreSQL) takes: years 1 to 9999 in UTC, as a REST date (ADR 0509). */
function storable(d: Date): boolean {
  const year = d.getUTCFullYear();
  return !Number.isNaN(d.getTime()) && year >= 1 && year <= 9999;
}
