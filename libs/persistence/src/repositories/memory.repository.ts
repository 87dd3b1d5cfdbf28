import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { MemoryState } from '../entities';
import { decodeCursor, encodeCursor, isCursorBigint, Page } from './records';
import { queryPrepared, queryRows } from './sql';
import { timeOrderedIds } from './time-ordered-id';
import { ACCESS_COLUMNS } from './memory-access.sql';

/** A plaintext memory as stored (embedding excluded). */
export interface MemoryRecord {
  id: string;
  cubeId: string;
  label: number;
  changeSeq: number;
  text: string;
  kind: string;
  role: string | null;
  tags: string[];
  metadata: Record<string, unknown>;
  source: Record<string, unknown>;
  sessionId: string | null;
  observedAt: Date | null;
  validFrom: Date | null;
  validTo: Date | null;
  importance: number | null;
  state: MemoryState;
  version: number;
  accessCount: number;
  lastAccessedAt: Date | null;
  embedderFingerprint: string | null;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  expiredAt: Date | null;
  /** Lifecycle (see LifecycleRepository): the scheduler never touches a pinned memory. */
  pinned: boolean;
  expiresAt: Date | null;
  mergedInto: string | null;
  supersededBy: string | null;
  restoredAt: Date | null;
  /** Erased for good (contents gone, the id still resolves). */
  erasedAt: Date | null;
  /** A structured fact; facts with the same subject and predicate supersede each other. */
  fact: { subject: string; predicate: string; object: string } | null;
}

/** What an index follower needs of a changed memory. */
export interface MemoryChange extends MemoryRecord {
  embedding: Float32Array | null;
}

/** What a caller supplies for a new memory; the database decides the rest of the record. */
export type NewMemory = Pick<
  MemoryChange,
  'text' | 'kind' | 'role' | 'tags' | 'metadata' | 'source' | 'sessionId' | 'observedAt' | 'validFrom' | 'validTo' | 'importance' | 'embedding' | 'embedderFingerprint' | 'pinned' | 'expiresAt' | 'fact'
>;

export interface MemoryActor {
  actorType: string;
  actorId: string | null;
  requestId: string | null;
}

/** Changeable fields of a memory; `undefined` leaves a field as it is. */
export interface MemoryChanges {
  text?: string;
  tags?: string[];
  metadata?: Record<string, unknown>;
  validFrom?: Date | null;
  validTo?: Date | null;
  importance?: number | null;
  embedding?: Float32Array | null;
  embedderFingerprint?: string | null;
  pinned?: boolean;
  expiresAt?: Date | null;
}

/** SQL-level list filters (the same vocabulary as search filters). */
export interface MemoryListFilter {
  kinds?: string[];
  roles?: string[];
  states?: string[];
  tagsAny?: string[];
  tagsAll?: string[];
  metadata?: Record<string, unknown>;
  sessionIds?: string[];
  observedAfter?: Date;
  observedBefore?: Date;
  validAt?: Date;
}

export interface MemoryVersionRecord {
  version: number;
  action: string;
  actorType: string;
  actorId: string | null;
  requestId: string | null;
  oldValues: Record<string, unknown> | null;
  newValues: Record<string, unknown> | null;
  reason: string | null;
  at: Date;
}

export interface IdempotencyClaim {
  scope: string;
  requestHash: string;
  /** The cube written to: the record goes with the cube, and erasing a memory scrubs it. */
  cubeId: string;
}

export type IdempotentResult<T> = { kind: 'fresh'; value: T } | { kind: 'replay'; requestHash: string; statusCode: number; response: unknown };

const COLUMNS = `id, cube_id, label, change_seq, text, kind, role, tags, metadata, source, session_id, observed_at,
  valid_from, valid_to, importance, state, version, embedder_fingerprint,
  created_by, created_at, updated_at, expired_at, pinned, expires_at, merged_into, superseded_by, restored_at,
  erased_at, fact_subject, fact_predicate, fact_object, ${ACCESS_COLUMNS}`;

type Row = Record<string, unknown>;

function toRecord(row: Row): MemoryRecord {
  return {
    id: row.id as string,
    cubeId: row.cube_id as string,
    label: Number(row.label),
    changeSeq: Number(row.change_seq),
    text: row.text as string,
    kind: row.kind as string,
    role: (row.role as string | null) ?? null,
    tags: (row.tags as string[]) ?? [],
    metadata: (row.metadata as Record<string, unknown>) ?? {},
    source: (row.source as Record<string, unknown>) ?? {},
    sessionId: (row.session_id as string | null) ?? null,
    observedAt: (row.observed_at as Date | null) ?? null,
    validFrom: (row.valid_from as Date | null) ?? null,
    validTo: (row.valid_to as Date | null) ?? null,
    importance: row.importance === null || row.importance === undefined ? null : Number(row.importance),
    state: row.state as MemoryState,
    version: Number(row.version),
    accessCount: Number(row.access_count),
    lastAccessedAt: (row.last_accessed_at as Date | null) ?? null,
    embedderFingerprint: (row.embedder_fingerprint as string | null) ?? null,
    createdBy: (row.created_by as string | null) ?? null,
    createdAt: row.created_at as Date,
    updatedAt: row.updated_at as Date,
    expiredAt: (row.expired_at as Date | null) ?? null,
    pinned: row.pinned === true,
    expiresAt: (row.expires_at as Date | null) ?? null,
    mergedInto: (row.merged_into as string | null) ?? null,
    supersededBy: (row.superseded_by as string | null) ?? null,
    restoredAt: (row.restored_at as Date | null) ?? null,
    erasedAt: (row.erased_at as Date | null) ?? null,
    fact:
      row.fact_subject === null || row.fact_subject === undefined
        ? null
        : { subject: row.fact_subject as string, predicate: row.fact_predicate as string, object: row.fact_object as string },
  };
}

/** The key facts supersede each other by: subject and predicate, case and whitespace folded. */
const FACT_PART = (sql: string) => `lower(regexp_replace(btrim(normalize(${sql}, NFKC)), '\\s+', ' ', 'g'))`;

export function encodeEmbedding(vector: Float32Array | null): Buffer | null {
  if (vector === null) return null;
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

/**
 * A batch's vectors as one binary parameter (node-postgres sends a Buffer as binary, where a
 * bytea[] goes as hex text: twice the bytes and a parse per row) and, per row, the 1-based
 * start and length of its vector in it (null for a row without one).
 */
export function packEmbeddings(vectors: readonly (Float32Array | null)[]): { blob: Buffer; starts: (number | null)[]; lengths: (number | null)[] } {
  const parts: Buffer[] = [];
  const starts: (number | null)[] = [];
  const lengths: (number | null)[] = [];
  let at = 1;
  for (const vector of vectors) {
    const bytes = encodeEmbedding(vector);
    starts.push(bytes === null ? null : at);
    lengths.push(bytes === null ? null : bytes.length);
    if (bytes !== null) {
      parts.push(bytes);
      at += bytes.length;
    }
  }
  return { blob: Buffer.concat(parts), starts, lengths };
}

export function decodeEmbedding(bytes: Buffer | null): Float32Array | null {
  if (bytes === null || bytes === undefined) return null;
  const copy = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}

/** The values a version row records (no embedding: it is derived). */
function versionValues(m: MemoryRecord): Record<string, unknown> {
  return {
    text: m.text,
    tags: m.tags,
    metadata: m.metadata,
    validFrom: m.validFrom?.toISOString() ?? null,
    validTo: m.validTo?.toISOString() ?? null,
    importance: m.importance,
    state: m.state,
    pinned: m.pinned,
    expiresAt: m.expiresAt?.toISOString() ?? null,
  };
}

/**
 * Every SQL statement on plaintext memories. Writes to one cube take a transaction-level
 * advisory lock on the cube, so `change_seq` order is commit order within a cube.
 */
@Injectable()
export class MemoryRepository {
  constructor(
    private readonly db: DataSource,
    @Inject(ENGRAM_CONFIG) private readonly config: EngramConfig,
  ) {}

  /** Seconds a stored response is replayed; older records count as absent and are removed by the maintenance job. */
  private get idempotencyTtlSeconds(): number {
    return Math.max(1, Math.round(this.config.idempotencyTtlMs / 1000));
  }

  private async lockCube(tx: EntityManager, cubeId: string): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 7))`, [cubeId]);
  }

  /**
   * Takes the cube's write lock for the rest of `tx`, so that several `insertMany` calls with
   * `lockHeld` can be queued on the connection at once, each sent as soon as it is called.
   */
  async lockForWrites(tx: EntityManager, cubeId: string): Promise<void> {
    await this.lockCube(tx, cubeId);
  }

  /**
   * Runs `write` in a transaction guarded by an idempotency record: a second call with the
   * same scope waits for the first to commit and gets its stored response instead.
   */
  async idempotent<T>(
    claim: IdempotencyClaim | null,
    write: (tx: EntityManager) => Promise<{ value: T; statusCode: number; response: unknown }>,
  ): Promise<IdempotentResult<T>> {
    if (claim) {
      const existing = await this.findIdempotency(claim.scope);
      if (existing) return { kind: 'replay', ...existing };
    }
    try {
      return await this.db.transaction(async (tx) => {
        if (claim) {
          const inserted = await queryRows(tx,
            // An expired record with the same scope is taken over, not replayed.
            `INSERT INTO idempotency_records (scope, request_hash, status_code, response, cube_id) VALUES ($1, $2, 0, 'null'::jsonb, $3)
             ON CONFLICT (scope) DO UPDATE SET request_hash = EXCLUDED.request_hash, status_code = 0, response = 'null'::jsonb,
                                               cube_id = EXCLUDED.cube_id, created_at = now()
              WHERE idempotency_records.created_at < now() - make_interval(secs => $4)
             RETURNING scope`,
            [claim.scope, claim.requestHash, claim.cubeId, this.idempotencyTtlSeconds],
          );
          if (!inserted.length) throw new IdempotencyRace();
        }
        const result = await write(tx);
        if (claim) {
          await tx.query(`UPDATE idempotency_records SET status_code = $2, response = $3::jsonb WHERE scope = $1`, [
            claim.scope,
            result.statusCode,
            JSON.stringify(result.response),
          ]);
        }
        return { kind: 'fresh' as const, value: result.value };
      });
    } catch (error) {
      if (!(error instanceof IdempotencyRace) || !claim) throw error;
      const existing = await this.findIdempotency(claim.scope);
      if (!existing) throw new Error('idempotency record vanished while replaying');
      return { kind: 'replay', ...existing };
    }
  }

  /** Whether a completed write under this idempotency scope would be replayed. */
  async hasReplay(scope: string): Promise<boolean> {
    return (await this.findIdempotency(scope)) !== null;
  }

  private async findIdempotency(scope: string): Promise<{ requestHash: string; statusCode: number; response: unknown } | null> {
    const rows = await queryRows<{ request_hash: string; status_code: number; response: unknown }>(this.db,
      `SELECT request_hash, status_code, response FROM idempotency_records
        WHERE scope = $1 AND status_code > 0 AND created_at >= now() - make_interval(secs => $2)`,
      [scope, this.idempotencyTtlSeconds],
    );
    return rows.length ? { requestHash: rows[0].request_hash, statusCode: rows[0].status_code, response: rows[0].response } : null;
  }

  /** Removes stored responses older than the TTL, a batch at a time; returns how many went. */
  async deleteExpiredIdempotency(batch = 5_000): Promise<number> {
    const rows = await queryRows(this.db,
      `DELETE FROM idempotency_records WHERE scope IN (
         SELECT scope FROM idempotency_records WHERE created_at < now() - make_interval(secs => $1) LIMIT $2
       ) RETURNING scope`,
      [this.idempotencyTtlSeconds, batch],
    );
    return rows.length;
  }

  /**
   * Inserts memories in input order and writes their first version rows. With `lockHeld` (the
   * caller took `lockForWrites` in this transaction) the statement is issued without another
   * round trip first, so calls made one after another reach the database in that order.
   */
  async insertMany(tx: EntityManager, cubeId: string, memories: NewMemory[], actor: MemoryActor, options: { lockHeld?: boolean } = {}): Promise<MemoryRecord[]> {
    if (memories.length === 0) return [];
    if (!options.lockHeld) await this.lockCube(tx, cubeId);
    const embeddings = packEmbeddings(memories.map((m) => m.embedding));
    // One statement: the rows, their first version rows, in input order.
    const rows = await queryRows<Row>(tx,
      `WITH input AS (
         SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[], $8::jsonb[], $9::text[],
                              $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::real[], $14::int[], $23::int[], $15::text[],
                              $18::boolean[], $19::timestamptz[], $20::text[], $21::text[], $22::text[], $25::uuid[])
              WITH ORDINALITY AS m(text, kind, role, tags, metadata, source, session_id, observed_at, valid_from,
                                   valid_to, importance, embedding_at, embedding_bytes, embedder_fingerprint, pinned, expires_at,
                                   fact_subject, fact_predicate, fact_object, id, ord)
       ), inserted AS (
         INSERT INTO memories (id, cube_id, change_seq, text, kind, role, tags, metadata, source, session_id, observed_at,
                               valid_from, valid_to, importance, embedding, embedder_fingerprint, created_by,
                               pinned, expires_at, fact_subject, fact_predicate, fact_object, fact_key)
         SELECT m.id, $1, nextval('engram_change_seq'), m.text, m.kind, m.role, ARRAY(SELECT jsonb_array_elements_text(m.tags)),
                m.metadata, m.source, m.session_id, m.observed_at, m.valid_from, m.valid_to, m.importance,
                CASE WHEN m.embedding_at IS NULL THEN NULL ELSE substring($24::bytea FROM m.embedding_at FOR m.embedding_bytes) END,
                m.embedder_fingerprint, $2, COALESCE(m.pinned, false), m.expires_at, m.fact_subject, m.fact_predicate, m.fact_object,
                CASE WHEN m.fact_subject IS NULL THEN NULL ELSE ${FACT_PART('m.fact_subject')} || chr(1) || ${FACT_PART('m.fact_predicate')} END
           FROM input m ORDER BY m.ord
         RETURNING id, label, change_seq, text, tags, metadata, valid_from, valid_to, importance, state, created_at
       ), versions AS (
         INSERT INTO memory_versions (memory_id, version, action, actor_type, actor_id, request_id, new_values)
         SELECT i.id, 1, 'create', $16, $2, $17,
                jsonb_build_object('text', i.text, 'tags', to_jsonb(i.tags), 'metadata', i.metadata,
                                   'validFrom', i.valid_from, 'validTo', i.valid_to, 'importance', i.importance, 'state', i.state)
           FROM inserted i
       )
       SELECT id, label, change_seq, created_at FROM inserted ORDER BY label`,
      [
        cubeId,
        actor.actorType === 'key' ? actor.actorId : null,
        memories.map((m) => m.text),
        memories.map((m) => m.kind),
        memories.map((m) => m.role),
        memories.map((m) => JSON.stringify(m.tags)),
        memories.map((m) => JSON.stringify(m.metadata)),
        memories.map((m) => JSON.stringify(m.source)),
        memories.map((m) => m.sessionId),
        memories.map((m) => m.observedAt),
        memories.map((m) => m.validFrom),
        memories.map((m) => m.validTo),
        memories.map((m) => m.importance),
        embeddings.starts,
        memories.map((m) => m.embedderFingerprint),
        actor.actorType,
        actor.requestId,
        memories.map((m) => m.pinned),
        memories.map((m) => m.expiresAt),
        memories.map((m) => m.fact?.subject ?? null),
        memories.map((m) => m.fact?.predicate ?? null),
        memories.map((m) => m.fact?.object ?? null),
        embeddings.lengths,
        embeddings.blob,
        timeOrderedIds(memories.length),
      ],
    );
    if (rows.length !== memories.length) throw new Error(`inserted ${rows.length} of ${memories.length} memories`);
    // Only what the database decided comes back; the rest is what was sent. Labels are
    // drawn in insertion order, which follows the input order (ORDER BY m.ord).
    const records: MemoryRecord[] = rows.map((row, i) => {
      const m = memories[i];
      const createdAt = row.created_at as Date;
      return {
        id: row.id as string,
        cubeId,
        label: Number(row.label),
        changeSeq: Number(row.change_seq),
        text: m.text,
        kind: m.kind,
        role: m.role,
        tags: m.tags,
        metadata: m.metadata,
        source: m.source,
        sessionId: m.sessionId,
        observedAt: m.observedAt,
        validFrom: m.validFrom,
        validTo: m.validTo,
        importance: m.importance === null ? null : Math.fround(m.importance),
        state: 'active',
        version: 1,
        accessCount: 0,
        lastAccessedAt: null,
        embedderFingerprint: m.embedderFingerprint,
        createdBy: actor.actorType === 'key' ? actor.actorId : null,
        createdAt,
        updatedAt: createdAt,
        expiredAt: null,
        pinned: m.pinned,
        expiresAt: m.expiresAt,
        mergedInto: null,
        supersededBy: null,
        restoredAt: null,
        erasedAt: null,
        fact: m.fact,
      };
    });
    return records;
  }

  private async insertVersions(
    tx: EntityManager,
    versions: { memoryId: string; version: number; action: string; oldValues: Record<string, unknown> | null; newValues: Record<string, unknown> | null; reason: string | null }[],
    actor: MemoryActor,
  ): Promise<void> {
    await tx.query(
      `INSERT INTO memory_versions (memory_id, version, action, actor_type, actor_id, request_id, old_values, new_values, reason)
       SELECT v.memory_id, v.version, v.action, $1, $2, $3, v.old_values, v.new_values, v.reason
         FROM unnest($4::uuid[], $5::int[], $6::text[], $7::jsonb[], $8::jsonb[], $9::text[])
              AS v(memory_id, version, action, old_values, new_values, reason)`,
      [
        actor.actorType,
        actor.actorId,
        actor.requestId,
        versions.map((v) => v.memoryId),
        versions.map((v) => v.version),
        versions.map((v) => v.action),
        versions.map((v) => (v.oldValues ? JSON.stringify(v.oldValues) : null)),
        versions.map((v) => (v.newValues ? JSON.stringify(v.newValues) : null)),
        versions.map((v) => v.reason),
      ],
    );
  }

  async get(cubeId: string, id: string, tx: EntityManager | DataSource = this.db): Promise<MemoryRecord | null> {
    const rows = await queryRows<Row>(tx, `SELECT ${COLUMNS} FROM memories WHERE cube_id = $1 AND id = $2`, [cubeId, id]);
    return rows.length ? toRecord(rows[0]) : null;
  }

  /**
   * The current rows of the cube's memories with these labels (a search's hits), by label:
   * result rows are read from here rather than kept in memory beside every index. One
   * statement over the unique label index; labels of another cube are never returned.
   */
  async getByLabels(cubeId: string, labels: readonly number[]): Promise<Map<number, MemoryRecord>> {
    const out = new Map<number, MemoryRecord>();
    if (labels.length === 0) return out;
    const rows = await queryPrepared<Row>(this.db, `SELECT ${COLUMNS} FROM memories WHERE cube_id = $1 AND label = ANY($2::bigint[])`, [cubeId, labels.map(String)]);
    for (const row of rows) {
      const record = toRecord(row);
      out.set(record.label, record);
    }
    return out;
  }

  /**
   * Changes to apply to an index that reflects `afterSeq`, oldest first. Only changes
   * whose sequence is below every still-running writer's are safe to read, and the
   * per-cube advisory lock makes commit order equal sequence order within a cube.
   */
  async changesSince(cubeId: string, afterSeq: number, limit: number, embeddingsAfterSeq = 0): Promise<MemoryChange[]> {
    // Embeddings of changes a loaded snapshot already holds are not fetched.
    const rows = await queryRows<Row>(this.db,
      `SELECT ${COLUMNS}, CASE WHEN change_seq > $4 THEN embedding END AS embedding
         FROM memories WHERE cube_id = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3`,
      [cubeId, afterSeq, limit, embeddingsAfterSeq],
    );
    return rows.map((r) => ({ ...toRecord(r), embedding: decodeEmbedding(r.embedding as Buffer | null) }));
  }

  /** Rows a rebuilt index of the cube holds (every state but deleted), to size it before the change feed is read. */
  async countIndexed(cubeId: string): Promise<number> {
    const rows = await queryRows<{ n: number }>(this.db, `SELECT count(*)::int AS n FROM memories WHERE cube_id = $1 AND state <> 'deleted'`, [cubeId]);
    return rows[0]?.n ?? 0;
  }

  /** The highest change sequence of the cube (0 for none): cheap freshness probe. */
  async lastChangeSeq(cubeId: string): Promise<number> {
    const rows = await queryRows<{ seq: string | null }>(this.db, `SELECT max(change_seq) AS seq FROM memories WHERE cube_id = $1`, [cubeId]);
    return Number(rows[0]?.seq ?? 0);
  }

  async list(cubeId: string, filter: MemoryListFilter, limit: number, cursor: string | null): Promise<Page<MemoryRecord> | null> {
    const where: string[] = ['cube_id = $1'];
    const params: unknown[] = [cubeId];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    add((p) => `state = ANY(${p}::text[])`, filter.states ?? ['active']);
    if (filter.kinds) add((p) => `kind = ANY(${p}::text[])`, filter.kinds);
    if (filter.roles) add((p) => `role = ANY(${p}::text[])`, filter.roles);
    if (filter.tagsAny) add((p) => `tags && ${p}::text[]`, filter.tagsAny);
    if (filter.tagsAll) add((p) => `tags @> ${p}::text[]`, filter.tagsAll);
    if (filter.sessionIds) add((p) => `session_id = ANY(${p}::text[])`, filter.sessionIds);
    if (filter.observedAfter) add((p) => `observed_at >= ${p}`, filter.observedAfter);
    if (filter.observedBefore) add((p) => `observed_at < ${p}`, filter.observedBefore);
    if (filter.validAt) add((p) => `(valid_from IS NULL OR valid_from <= ${p}) AND (valid_to IS NULL OR valid_to > ${p})`, filter.validAt);
    for (const [key, condition] of Object.entries(filter.metadata ?? {})) {
      const values = condition !== null && typeof condition === 'object' && 'in' in (condition as object) ? (condition as { in: unknown[] }).in : [condition];
      params.push(key);
      const keyParam = `$${params.length}`;
      add((p) => `metadata -> ${keyParam} = ANY(SELECT jsonb_array_elements(${p}::jsonb))`, JSON.stringify(values));
    }
    if (cursor !== null) {
      const parts = decodeCursor(cursor, 1);
      if (parts === null || !isCursorBigint(parts[0])) return null;
      add((p) => `label > ${p}::bigint`, String(parts[0]));
    }
    params.push(limit + 1);
    const rows = await queryRows<Row>(this.db, `SELECT ${COLUMNS} FROM memories WHERE ${where.join(' AND ')} ORDER BY label LIMIT $${params.length}`, params);
    const items = rows.slice(0, limit).map(toRecord);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor([String(last.label)]) : null };
  }

  /**
   * Runs `work` as one unit of work on one connection: every repository call inside it
   * takes this `tx` (audit rows included), never a second pool connection.
   */
  unitOfWork<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  /**
   * Applies changes as a new version; null when there is no such memory in a state that allows
   * it. `check` sees the row as it is under its lock, before anything changes, and may throw to
   * refuse the change (the caller's checks of a row read earlier race with other writers).
   * A text equal to the locked row's is no change: its embedding is not written either.
   */
  async update(
    tx: EntityManager,
    cubeId: string,
    id: string,
    changes: MemoryChanges,
    actor: MemoryActor,
    reason: string | null,
    check?: (locked: MemoryRecord) => void,
  ): Promise<MemoryRecord | null> {
    await this.lockCube(tx, cubeId);
    const current = await queryRows<Row>(tx, `SELECT ${COLUMNS} FROM memories WHERE cube_id = $1 AND id = $2 FOR UPDATE`, [cubeId, id]);
    if (!current.length) return null;
    const before = toRecord(current[0]);
    check?.(before);
    if (before.state !== 'active') return null;
    if (changes.text !== undefined && changes.text === before.text) {
      changes = { ...changes, text: undefined, embedding: undefined, embedderFingerprint: undefined };
    }
    const rows = await queryRows<Row>(tx,
      `UPDATE memories SET
         text = COALESCE($3, text),
         tags = CASE WHEN $4::boolean THEN $5::text[] ELSE tags END,
         metadata = CASE WHEN $6::boolean THEN $7::jsonb ELSE metadata END,
         valid_from = CASE WHEN $8::boolean THEN $9::timestamptz ELSE valid_from END,
         valid_to = CASE WHEN $10::boolean THEN $11::timestamptz ELSE valid_to END,
         importance = CASE WHEN $12::boolean THEN $13::real ELSE importance END,
         embedding = CASE WHEN $14::boolean THEN $15::bytea ELSE embedding END,
         embedder_fingerprint = CASE WHEN $14::boolean THEN $16 ELSE embedder_fingerprint END,
         pinned = COALESCE($17::boolean, pinned),
         expires_at = CASE WHEN $18::boolean THEN $19::timestamptz ELSE expires_at END,
         version = version + 1, change_seq = nextval('engram_change_seq'), updated_at = now()
       WHERE cube_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [
        cubeId,
        id,
        changes.text ?? null,
        changes.tags !== undefined,
        changes.tags ?? null,
        changes.metadata !== undefined,
        changes.metadata !== undefined ? JSON.stringify(changes.metadata) : null,
        changes.validFrom !== undefined,
        changes.validFrom ?? null,
        changes.validTo !== undefined,
        changes.validTo ?? null,
        changes.importance !== undefined,
        changes.importance ?? null,
        changes.embedding !== undefined,
        changes.embedding !== undefined ? encodeEmbedding(changes.embedding) : null,
        changes.embedderFingerprint ?? null,
        changes.pinned ?? null,
        changes.expiresAt !== undefined,
        changes.expiresAt ?? null,
      ],
    );
    const after = toRecord(rows[0]);
    await this.insertVersions(tx, [{ memoryId: id, version: after.version, action: 'update', oldValues: versionValues(before), newValues: versionValues(after), reason }], actor);
    return after;
  }

  /** Moves a memory between lifecycle states as a new version; null when `from` does not hold. */
  async transition(tx: EntityManager, cubeId: string, id: string, from: MemoryState[], to: MemoryState, action: string, actor: MemoryActor): Promise<MemoryRecord | null> {
    await this.lockCube(tx, cubeId);
    const current = await queryRows<Row>(tx, `SELECT ${COLUMNS} FROM memories WHERE cube_id = $1 AND id = $2 FOR UPDATE`, [cubeId, id]);
    if (!current.length || !from.includes(current[0].state as MemoryState)) return null;
    const before = toRecord(current[0]);
    const rows = await queryRows<Row>(tx,
      `UPDATE memories SET state = $3, expired_at = CASE WHEN $3 = 'active' THEN NULL ELSE now() END,
              version = version + 1, change_seq = nextval('engram_change_seq'), updated_at = now()
        WHERE cube_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [cubeId, id, to],
    );
    const after = toRecord(rows[0]);
    await this.insertVersions(tx, [{ memoryId: id, version: after.version, action, oldValues: { state: before.state }, newValues: { state: after.state }, reason: null }], actor);
    return after;
  }

  /**
   * Erases a memory for good, in the caller's unit of work: its text, tags, metadata,
   * source, fact and embedding; the contents of its version rows and lifecycle events; and
   * every stored write response of the cube that carries it. The row stays as a tombstone
   * (state deleted, erased_at), so the id still resolves and the history still says who did
   * what and when. Null when there is no such memory.
   */
  async erase(tx: EntityManager, cubeId: string, id: string, actor: MemoryActor): Promise<MemoryRecord | null> {
    await this.lockCube(tx, cubeId);
    const current = await queryRows<Row>(tx, `SELECT state, erased_at FROM memories WHERE cube_id = $1 AND id = $2 FOR UPDATE`, [cubeId, id]);
    if (!current.length) return null;
    const rows = await queryRows<Row>(tx,
      `UPDATE memories SET text = '', tags = '{}', metadata = '{}'::jsonb, source = '{}'::jsonb, session_id = NULL,
              embedding = NULL, fact_subject = NULL, fact_predicate = NULL, fact_object = NULL, fact_key = NULL,
              state = 'deleted', expired_at = COALESCE(expired_at, now()), erased_at = COALESCE(erased_at, now()),
              version = version + 1, change_seq = nextval('engram_change_seq'), updated_at = now()
        WHERE cube_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [cubeId, id],
    );
    await tx.query(`UPDATE memory_versions SET old_values = NULL, new_values = NULL, reason = NULL WHERE memory_id = $1`, [id]);
    const after = toRecord(rows[0]);
    await this.insertVersions(tx, [{ memoryId: id, version: after.version, action: 'erase', oldValues: null, newValues: { state: 'deleted', erased: true }, reason: null }], actor);
    await tx.query(
      `UPDATE lifecycle_events SET before = before - $2::text, after = after - $2::text WHERE cube_id = $1 AND $2::uuid = ANY(memory_ids)`,
      [cubeId, id],
    );
    // Stored responses are JSON of whole memories: any that names the id also holds its text.
    await tx.query(`DELETE FROM idempotency_records WHERE cube_id = $1 AND strpos(response::text, $2) > 0`, [cubeId, id]);
    return after;
  }

  /**
   * Counts retrievals (access_count, last_accessed_at) in memory_access (ADR 0129). Not a
   * content change: the change sequence and version stay, so indexes do not reload for it.
   * Ids of memories that no longer exist are skipped; ids are written in order, so two
   * servers flushing at once take the rows' locks in the same order.
   */
  async recordAccess(counts: Map<string, number>): Promise<void> {
    if (counts.size === 0) return;
    const ids = [...counts.keys()].sort();
    await this.db.query(
      `INSERT INTO memory_access (memory_id, access_count, last_accessed_at)
       SELECT a.id, a.n, now() FROM unnest($1::uuid[], $2::int[]) WITH ORDINALITY AS a(id, n, o)
        WHERE EXISTS (SELECT 1 FROM memories m WHERE m.id = a.id)
        ORDER BY a.o
       ON CONFLICT (memory_id) DO UPDATE
         SET access_count = memory_access.access_count + excluded.access_count, last_accessed_at = excluded.last_accessed_at`,
      [ids, ids.map((id) => counts.get(id)!)],
    );
  }

  async history(cubeId: string, id: string): Promise<MemoryVersionRecord[]> {
    const rows = await queryRows<Row>(this.db,
      `SELECT v.version, v.action, v.actor_type, v.actor_id, v.request_id, v.old_values, v.new_values, v.reason, v.at
         FROM memory_versions v JOIN memories m ON m.id = v.memory_id
        WHERE m.cube_id = $1 AND v.memory_id = $2 ORDER BY v.version, v.id`,
      [cubeId, id],
    );
    return rows.map((r) => ({
      version: Number(r.version),
      action: r.action as string,
      actorType: r.actor_type as string,
      actorId: (r.actor_id as string | null) ?? null,
      requestId: (r.request_id as string | null) ?? null,
      oldValues: (r.old_values as Record<string, unknown> | null) ?? null,
      newValues: (r.new_values as Record<string, unknown> | null) ?? null,
      reason: (r.reason as string | null) ?? null,
      at: r.at as Date,
    }));
  }
}

class IdempotencyRace extends Error {}
