// What an import checks in the rows of an archive before it inserts them: every value the
// column it lands in can hold (by the column's PostgreSQL type, so a column added later is
// checked too), nothing PostgreSQL cannot store (NUL, a lone UTF-16 surrogate), and the rules
// REST applies to the same fields. A refusal is a 400 naming part, line and field.
import type { ArchiveColumn } from '@engram/persistence';
import { MAX_BANK_BRANCHING, MAX_BANK_LEVELS, MAX_BANK_NODES, MAX_BLOCK_RANK } from '../dtos/bank.dto';
import { MAX_TEXT_LENGTH, MEMORY_KINDS, MEMORY_STATES } from '../dtos/memory.dto';
import { parseIsoDateTime } from '../dtos/validation';
import { bankFileBytes } from '../quotas/quota.service';
import { archiveError } from './cube-archive.format';

/** Every action a memory_versions row is written with (memory writes, lifecycle actions, their undoing). */
export const VERSION_ACTIONS = ['create', 'update', 'delete', 'erase', 'merge', 'supersede', 'expire', 'archive', 'absorb', 'unabsorb', 'restore'] as const;
/** As deep as a REST body may nest (the server's validation pipe); PostgreSQL's jsonb parser runs out of stack some thousands of levels down. */
const MAX_JSON_DEPTH = 2048;
/** Most tags, metadata keys or source refs an imported memory may hold (merges add them up). */
export const MERGED_LIMIT = 10_000;
const INT_RANGE: Record<string, [number, number]> = { int2: [-32768, 32767], int4: [-2147483648, 2147483647], int8: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const given = (v: unknown) => v !== undefined && v !== null;

/** A 400 for one field of one line: `memories.jsonl line 3: memory.importance must be …`. */
const refuse = (at: string, field: string, problem: string) => archiveError(`${at}: ${field} ${problem}`);

/**
 * A timestamp as REST reads one (parseIsoDateTime); one without an offset is written with
 * the UTC instant REST would store (PostgreSQL would read it in its session's zone). The
 * rest stay as given, microseconds included.
 */
function timestampProblem(row: Record<string, unknown>, name: string): string | null {
  const value = row[name];
  const parsed = parseIsoDateTime(value);
  if (!parsed || typeof value !== 'string') return 'must be an ISO-8601 date-time (2024-03-01T10:00:00Z)';
  if (!/(?:[Zz]|[+-]\d{2}:?\d{2})$/.test(value)) row[name] = parsed.toISOString();
  return null;
}

/** Refuses what PostgreSQL cannot store in text or jsonb, anywhere in a value (keys included), and JSON nested past MAX_JSON_DEPTH. */
export function checkStorable(value: unknown, at: string, path: string, depth = 0): void {
  if (typeof value === 'string') {
    const problem = unstorable(value);
    if (problem) throw refuse(at, path, `must not contain ${problem}: it cannot be stored`);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (depth >= MAX_JSON_DEPTH) throw refuse(at, path, `is nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkStorable(v, at, `${path}[${i}]`, depth + 1));
    return;
  }
  for (const [key, v] of Object.entries(value)) {
    const problem = unstorable(key);
    if (problem) throw refuse(at, path, `must not have a key that contains ${problem}: it cannot be stored`);
    checkStorable(v, at, `${path}.${key}`, depth + 1);
  }
}

function unstorable(text: string): string | null {
  if (text.includes('\u0000')) return 'the NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'a lone UTF-16 surrogate (half of a character)';
  return null;
}

/** Whether `value` fits a column of PostgreSQL type `udt`; the problem when it does not. Types an archive never carries pass. */
function typeProblem(udt: string, value: unknown): string | null {
  if (udt.startsWith('_')) {
    if (!Array.isArray(value)) return 'must be a list';
    for (const item of value) {
      const problem = item === null ? null : typeProblem(udt.slice(1), item);
      if (problem) return `must be a list, and each item ${problem}`;
    }
    return null;
  }
  if (udt === 'text' || udt === 'varchar' || udt === 'bpchar') return typeof value === 'string' ? null : 'must be a string';
  if (udt in INT_RANGE) {
    const [min, max] = INT_RANGE[udt];
    return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max ? null : `must be an integer from ${min} to ${max}`;
  }
  if (udt === 'float4' || udt === 'float8' || udt === 'numeric') {
    const ok = typeof value === 'number' && Number.isFinite(value) && (udt !== 'float4' || Math.abs(value) <= 3.4e38);
    return ok ? null : 'must be a finite number';
  }
  if (udt === 'bool') return typeof value === 'boolean' ? null : 'must be true or false';
  if (udt === 'uuid') return typeof value === 'string' && UUID.test(value) ? null : 'must be a UUID';
  return null;
}

/** Checks each carried column's value against its type; a required column (NOT NULL, no default) must be given. */
export function checkColumns(row: Record<string, unknown>, columns: readonly ArchiveColumn[], at: string, prefix: string): void {
  for (const column of columns) {
    const value = row[column.name];
    if (!given(value)) {
      if (column.required) throw refuse(at, `${prefix}.${column.name}`, 'is required');
      continue;
    }
    const problem = column.udt === 'timestamptz' ? timestampProblem(row, column.name) : typeProblem(column.udt, value);
    if (problem) throw refuse(at, `${prefix}.${column.name}`, problem);
  }
}

function maxLength(row: Record<string, unknown>, at: string, field: string, max: number, prefix = 'memory'): void {
  const value = row[field];
  if (typeof value === 'string' && value.length > max) throw refuse(at, `${prefix}.${field}`, `must be at most ${max} characters`);
}

function oneOf(row: Record<string, unknown>, at: string, field: string, allowed: readonly string[], prefix: string): void {
  if (given(row[field]) && !allowed.includes(row[field] as string)) throw refuse(at, `${prefix}.${field}`, `must be one of: ${allowed.join(', ')}`);
}

/** The columns of a memory line, as readMemories checks them (the id and references are mapped, not stored as given). */
export interface MemoryLineRules {
  memory: readonly ArchiveColumn[];
  version: readonly ArchiveColumn[];
  /** The most a REST request may carry (ENGRAM_BODY_LIMIT): no memory's metadata can be larger. */
  maxMetadataBytes: number;
}

/** Checks one memory of memories.jsonl (not a deleted one: those are skipped) and returns its version rows. */
export function checkMemoryLine(memory: Record<string, unknown>, versions: unknown, at: string, rules: MemoryLineRules): Record<string, unknown>[] {
  if (typeof memory.id !== 'string' || !memory.id) throw archiveError(`${at}: memory.id must be a string`);
  if (typeof memory.text !== 'string' || !memory.text.trim()) throw archiveError(`${at}: memory.text must be a non-empty string`);
  if (memory.text.length > MAX_TEXT_LENGTH) throw archiveError(`${at}: memory.text is longer than ${MAX_TEXT_LENGTH} characters`);
  checkStorable(memory, at, 'memory');
  // Access statistics (carried since they were columns of the memory; ADR 0129).
  const count = memory.access_count;
  if (given(count) && !(Number.isInteger(count) && (count as number) >= 0 && (count as number) <= 0x7fffffff)) throw archiveError(`${at}: memory.access_count must be a non-negative integer`);
  if (given(memory.last_accessed_at) && timestampProblem(memory, 'last_accessed_at')) throw archiveError(`${at}: memory.last_accessed_at must be a timestamp or null`);
  checkColumns(memory, rules.memory, at, 'memory');
  checkMemoryRules(memory, at, rules.maxMetadataBytes);
  if (!Array.isArray(versions ?? []) || !(versions as unknown[] | undefined ?? []).every(isObject)) throw archiveError(`${at}: versions must be a list of objects`);
  const rows = (versions ?? []) as Record<string, unknown>[];
  rows.forEach((v, i) => checkVersion(v, at, `versions[${i}]`, rules.version));
  return rows;
}

/** The rules of REST (MemoryInputDto, UpdateMemoryDto) and of the schema for the fields a memory row has today. */
function checkMemoryRules(m: Record<string, unknown>, at: string, maxMetadataBytes: number): void {
  oneOf(m, at, 'kind', MEMORY_KINDS, 'memory');
  oneOf(m, at, 'state', MEMORY_STATES, 'memory');
  maxLength(m, at, 'role', 64);
  maxLength(m, at, 'session_id', 512);
  maxLength(m, at, 'fact_subject', 500);
  maxLength(m, at, 'fact_predicate', 500);
  maxLength(m, at, 'fact_object', 4000);
  // Counts: a lifecycle merge gives the survivor the union of its losers' tags, metadata keys
  // and refs, past what one REST write may carry (64 / 100 / 100); an archive holds what the
  // server wrote, so its bounds are MERGED_LIMIT (abuse, not shape); lengths stay REST's.
  if (Array.isArray(m.tags)) {
    if (m.tags.length > MERGED_LIMIT) throw refuse(at, 'memory.tags', `must hold at most ${MERGED_LIMIT} tags`);
    if (m.tags.some((t) => typeof t !== 'string' || t.length > 128)) throw refuse(at, 'memory.tags', 'must be strings of at most 128 characters');
  }
  if (given(m.metadata)) {
    if (!isObject(m.metadata)) throw refuse(at, 'memory.metadata', 'must be a JSON object');
    if (Object.keys(m.metadata).length > MERGED_LIMIT) throw refuse(at, 'memory.metadata', `must have at most ${MERGED_LIMIT} keys`);
    if (Buffer.byteLength(JSON.stringify(m.metadata)) > maxMetadataBytes) throw refuse(at, 'memory.metadata', `must be at most ${maxMetadataBytes} bytes as JSON (ENGRAM_BODY_LIMIT)`);
  }
  if (given(m.source)) {
    if (!isObject(m.source)) throw refuse(at, 'memory.source', 'must be a JSON object');
    const s = m.source;
    for (const [field, max] of [['id', 512], ['type', 64], ['sessionId', 512]] as const) {
      if (given(s[field]) && (typeof s[field] !== 'string' || (s[field] as string).length > max)) throw refuse(at, `memory.source.${field}`, `must be a string of at most ${max} characters`);
    }
    if (given(s.refs) && (!Array.isArray(s.refs) || s.refs.length > MERGED_LIMIT || s.refs.some((r) => typeof r !== 'string' || r.length > 512))) {
      throw refuse(at, 'memory.source.refs', `must be a list of at most ${MERGED_LIMIT} strings of at most 512 characters`);
    }
  }
  if (given(m.importance) && !(typeof m.importance === 'number' && m.importance >= 0 && m.importance <= 1)) throw refuse(at, 'memory.importance', 'must be a number from 0 to 1');
  if (given(m.version) && (m.version as number) < 1) throw refuse(at, 'memory.version', 'must be a positive integer');
  const [from, to] = [parseIsoDateTime(m.valid_from), parseIsoDateTime(m.valid_to)];
  if (from && to && from.getTime() > to.getTime()) throw refuse(at, 'memory.valid_from', 'must not be later than memory.valid_to');
  // Erasing deletes a memory for good (state "deleted"), and an archive carries no deleted memories.
  if (given(m.erased_at)) throw refuse(at, 'memory.erased_at', 'must be null: an erased memory is deleted, and deleted memories are not imported');
}

function checkVersion(v: Record<string, unknown>, at: string, prefix: string, columns: readonly ArchiveColumn[]): void {
  checkStorable(v, at, prefix);
  // Who changed it is a key of the exporting tenant: the import drops actor_id.
  checkColumns(v, columns.filter((c) => c.name !== 'actor_id'), at, prefix);
  oneOf(v, at, 'action', VERSION_ACTIONS, prefix);
  if (given(v.actor_type) && (!(v.actor_type as string).trim() || (v.actor_type as string).length > 64)) throw refuse(at, `${prefix}.actor_type`, 'must be a non-empty string of at most 64 characters');
  if (given(v.version) && (v.version as number) < 1) throw refuse(at, `${prefix}.version`, 'must be a positive integer');
}

/** Checks one lifecycle event row (memory ids are mapped, not stored as given). */
export function checkEventLine(event: Record<string, unknown>, columns: readonly ArchiveColumn[], at: string): void {
  checkStorable(event, at, 'event');
  checkColumns(event, columns.filter((c) => c.name !== 'memory_ids'), at, 'event');
}

/** The cube of manifest.json, checked as POST /v1/cubes checks a body (CreateCubeDto). */
export function checkManifestCube(cube: { name: string; description: string | null; settings: Record<string, unknown> }, nameFromArchive: boolean): void {
  if (nameFromArchive) {
    if (cube.name.length > 200 || !cube.name.trim()) throw archiveError('manifest.json cube.name must be 1 to 200 characters; pass ?name= to choose one');
    checkStorable(cube.name, 'manifest.json', 'cube.name');
  }
  if (cube.description !== null) {
    if (cube.description.length > 2000) throw archiveError('manifest.json: cube.description must be at most 2000 characters');
    checkStorable(cube.description, 'manifest.json', 'cube.description');
  }
  // As POST /v1/cubes: a null embedder names none (left out, the cube takes the default).
  if (cube.settings.embedder === null) throw archiveError('manifest.json: cube.settings.embedder must be an object such as { "type": "hash" }, or left out');
  if (Object.keys(cube.settings).length > 100) throw archiveError('manifest.json: cube.settings must have at most 100 keys');
  checkStorable(cube.settings, 'manifest.json', 'cube.settings');
}

/** Geometry of a bank row as POST /v1/cubes/{id}/banks allows it, and its block rows inside that geometry. */
export function checkBankLine(value: Record<string, unknown>, columns: { bank: readonly ArchiveColumn[]; block: readonly ArchiveColumn[] }, at: string): Record<string, unknown>[] {
  checkStorable(value, at, 'line');
  const bank = value.bank as Record<string, unknown>;
  checkColumns(bank, columns.bank.filter((c) => c.name !== 'id'), at, 'bank');
  const { levels, branching, ranks, generation } = bank as { levels: unknown; branching: unknown; ranks: unknown; generation: unknown };
  if (!Number.isInteger(levels) || (levels as number) < 1 || (levels as number) > MAX_BANK_LEVELS) throw refuse(at, 'bank.levels', `must be an integer from 1 to ${MAX_BANK_LEVELS}`);
  if (!Number.isInteger(branching) || (branching as number) < 2 || (branching as number) > MAX_BANK_BRANCHING) throw refuse(at, 'bank.branching', `must be an integer from 2 to ${MAX_BANK_BRANCHING}`);
  const L = levels as number;
  const k = branching as number;
  if (!Array.isArray(ranks) || ranks.length !== L || ranks.some((r) => !Number.isInteger(r) || r < 0 || r > MAX_BLOCK_RANK) || ranks.every((r) => r === 0)) {
    throw refuse(at, 'bank.ranks', `must hold one rank (0 to ${MAX_BLOCK_RANK}) per level (${L}), at least one above 0`);
  }
  let nodes = 0;
  for (let l = 1; l <= L; l++) nodes += k ** l;
  if (nodes > MAX_BANK_NODES) throw refuse(at, 'bank.levels', `and bank.branching make ${nodes} blocks (${L} levels of branching ${k}); at most ${MAX_BANK_NODES}`);
  if (given(generation) && (generation as number) < 0) throw refuse(at, 'bank.generation', 'must not be negative');
  if (bank.state !== 'ready') throw refuse(at, 'bank.state', 'must be "ready" (an archive carries ready banks only)');
  if (!Array.isArray(value.blocks ?? []) || !((value.blocks ?? []) as unknown[]).every(isObject)) throw refuse(at, 'blocks', 'must be a list of objects');
  const blocks = (value.blocks ?? []) as Record<string, unknown>[];
  blocks.forEach((b, i) => {
    const prefix = `blocks[${i}]`;
    checkColumns(b, columns.block.filter((c) => c.name !== 'memory_ids'), at, prefix);
    if (!Number.isInteger(b.level) || (b.level as number) < 1 || (b.level as number) > L) throw refuse(at, `${prefix}.level`, `must be a level of the bank (1 to ${L})`);
    const slots = k ** (b.level as number);
    if (!Number.isInteger(b.node) || (b.node as number) < 0 || (b.node as number) >= slots) throw refuse(at, `${prefix}.node`, `must be a node of level ${String(b.level)} (0 to ${slots - 1})`);
    if (given(b.memory_ids) && !Array.isArray(b.memory_ids)) throw refuse(at, `${prefix}.memory_ids`, 'must be a list');
    if (given(b.generation) && given(generation) && (b.generation as number) > (generation as number)) throw refuse(at, `${prefix}.generation`, `must not be after the bank's generation (${String(generation)})`);
  });
  return blocks;
}

/** What the bank costs on disk for the model it is restored for, against ENGRAM_BANK_MAX_BYTES (as bank creation checks it). */
export function checkBankSize(bank: Record<string, unknown>, modelConfig: Record<string, unknown>, maxBytes: number, at: string): void {
  const bytes = bankFileBytes(bank as { levels: number; branching: number; ranks: number[] }, modelConfig);
  if (bytes > maxBytes) throw refuse(at, 'bank.ranks', `make a ${bytes}-byte bank for this model; at most ${maxBytes} (ENGRAM_BANK_MAX_BYTES)`);
}
