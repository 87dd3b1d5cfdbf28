import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { decodeEmbedding, encodeEmbedding } from './memory.repository';
import { queryRows } from './sql';

/** One memory as an archive carries it: its columns by name (snake_case), its versions, its vector. */
export interface ArchivedMemory {
  /** Every column of `memories` but the cube-local ones (cube, label, change sequence, embedding), and its access statistics (`access_count`, `last_accessed_at`). */
  memory: Record<string, unknown>;
  /** Every column of `memory_versions` but its own id and the memory id, oldest first. */
  versions: Record<string, unknown>[];
}

export interface ExportedMemory extends ArchivedMemory {
  label: number;
  embedding: Float32Array | null;
  embedderFingerprint: string | null;
}

/** A memory to import, ids already mapped; `embedding` null: filled later from the vectors part. */
export interface ImportedMemory extends ArchivedMemory {
  embedding: Float32Array | null;
  embedderFingerprint: string | null;
}

interface ColumnInfo {
  name: string;
  udt: string;
  /** The column's DEFAULT expression as the catalog prints it, or null. */
  defaultSql: string | null;
  nullable: boolean;
}

/** A column an archive row carries, as an import checks its values: the PostgreSQL type (udt name) and whether a value must be given. */
export interface ArchiveColumn {
  name: string;
  udt: string;
  /** NOT NULL without a default: an absent or null value would fail the insert. */
  required: boolean;
}

export type ArchiveTable = 'memories' | 'memory_versions' | 'lifecycle_events' | 'banks' | 'bank_blocks';

/** Columns an archive never carries for a memory: they belong to the cube it lives in. */
const MEMORY_LOCAL = ['cube_id', 'label', 'change_seq', 'embedding', 'embedder_fingerprint', 'created_by'];
const VERSION_LOCAL = ['id', 'memory_id'];
const EVENT_LOCAL = ['id', 'cube_id', 'tenant_id', 'run_id'];
const BANK_LOCAL = ['cube_id', 'model_id', 'directory', 'job_id'];
const BLOCK_LOCAL = ['bank_id'];
const LOCAL: Record<ArchiveTable, string[]> = { memories: MEMORY_LOCAL, memory_versions: VERSION_LOCAL, lifecycle_events: EVENT_LOCAL, banks: BANK_LOCAL, bank_blocks: BLOCK_LOCAL };

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The access statistics an archive carries in a memory's object (from memory_access joined as `a`), under their old column names. */
const ARCHIVED_ACCESS = 'coalesce(a.access_count, 0) AS access_count, a.last_accessed_at';

/**
 * The SQL of cube export and import. Memories and their versions travel column by column
 * (to_jsonb / jsonb_populate_recordset), so columns added later (lifecycle fields, facts)
 * move with them without this file knowing them; uuid columns other than the memory's own
 * id are references to other memories and are remapped after every row is in.
 */
@Injectable()
export class CubeArchiveRepository {
  private readonly columns = new Map<string, Promise<ColumnInfo[]>>();

  constructor(private readonly db: DataSource) {}

  private columnsOf(table: string): Promise<ColumnInfo[]> {
    let found = this.columns.get(table);
    if (!found) {
      found = queryRows<{ column_name: string; udt_name: string; column_default: string | null; is_nullable: string }>(this.db,
        `SELECT column_name, udt_name, column_default, is_nullable FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
        [table],
      ).then((rows) => rows.map((r) => ({ name: r.column_name, udt: r.udt_name, defaultSql: r.column_default, nullable: r.is_nullable === 'YES' })));
      this.columns.set(table, found);
    }
    return found;
  }

  /** The columns of `table` an archive row carries (the cube-local ones left out), for checking a row before it is inserted. */
  async archiveColumns(table: ArchiveTable): Promise<ArchiveColumn[]> {
    return (await this.columnsOf(table))
      .filter((c) => !LOCAL[table].includes(c.name))
      .map((c) => ({ name: c.name, udt: c.udt, required: !c.nullable && c.defaultSql === null }));
  }

  /** Whether a table exists (parts for tables of newer schemas are optional). */
  async hasTable(table: string): Promise<boolean> {
    const rows = await queryRows<{ t: string | null }>(this.db, `SELECT to_regclass($1)::text AS t`, [table]);
    return rows[0]?.t !== null && rows[0]?.t !== undefined;
  }

  /** Uuid (or uuid[]) columns of memories that point at other memories. */
  async memoryReferenceColumns(): Promise<{ name: string; array: boolean }[]> {
    return (await this.columnsOf('memories'))
      .filter((c) => (c.udt === 'uuid' || c.udt === '_uuid') && !['id', ...MEMORY_LOCAL].includes(c.name))
      .map((c) => ({ name: c.name, array: c.udt === '_uuid' }));
  }

  /**
   * Every memory of a cube but deleted ones, in label order, in batches, from one
   * REPEATABLE READ snapshot (a consistent export, however long it takes). A server-side
   * cursor walks the ids (only they are sorted); each batch's rows and versions are read by
   * id in the same snapshot, so one batch is held in memory at a time.
   */
  async *exportMemories(cubeId: string, batch: number): AsyncGenerator<ExportedMemory[]> {
    // The carried columns by name: to_jsonb of the whole row would hex-encode the embedding only to drop it.
    const carried = (await this.columnsOf('memories')).filter((c) => !MEMORY_LOCAL.includes(c.name)).map((c) => `m.${quote(c.name)}`).join(', ');
    const runner = this.db.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction('REPEATABLE READ');
      // Each batch is a small query run thousands of times: compiling it (JIT) costs more than it saves.
      await runner.query('SET LOCAL jit = off');
      await runner.query(`DECLARE export_ids NO SCROLL CURSOR FOR SELECT id FROM memories WHERE cube_id = $1 AND state <> 'deleted' ORDER BY label`, [cubeId]);
      for (;;) {
        const ids = ((await runner.query(`FETCH ${Math.max(1, Math.floor(batch))} FROM export_ids`)) as { id: string }[]).map((r) => r.id);
        if (!ids.length) break;
        const rows = (await runner.query(
          `SELECT m.label, (SELECT to_jsonb(x) FROM (SELECT ${carried}, ${ARCHIVED_ACCESS}) x) AS memory, m.embedding, m.embedder_fingerprint AS fp,
                  (SELECT jsonb_agg(to_jsonb(v) - $2::text[] ORDER BY v.version, v.id) FROM memory_versions v WHERE v.memory_id = m.id) AS versions
             FROM memories m LEFT JOIN memory_access a ON a.memory_id = m.id WHERE m.id = ANY($1::uuid[]) ORDER BY m.label`,
          [ids, VERSION_LOCAL],
        )) as { label: string; memory: Record<string, unknown>; embedding: Buffer | null; fp: string | null; versions: Record<string, unknown>[] | null }[];
        yield rows.map((r) => ({
          label: Number(r.label),
          memory: r.memory,
          versions: r.versions ?? [],
          embedding: decodeEmbedding(r.embedding),
          embedderFingerprint: r.fp,
        }));
      }
      await runner.query('CLOSE export_ids');
      await runner.commitTransaction();
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      await runner.release();
    }
  }

  /** Lifecycle events of a cube after `afterId` (empty when this schema has none). */
  async exportEvents(cubeId: string, afterId: number, limit: number): Promise<{ id: number; event: Record<string, unknown> }[]> {
    const rows = await queryRows<{ id: string; event: Record<string, unknown> }>(this.db,
      `SELECT e.id, to_jsonb(e) - $4::text[] AS event FROM lifecycle_events e WHERE e.cube_id = $1 AND e.id > $2 ORDER BY e.id LIMIT $3`,
      [cubeId, afterId, limit, EVENT_LOCAL],
    );
    return rows.map((r) => ({ id: Number(r.id), event: r.event }));
  }

  /** The cube's own lifecycle policy overrides, when this schema has policies. */
  async cubePolicy(cubeId: string): Promise<Record<string, unknown> | null> {
    if (!(await this.hasTable('lifecycle_policies'))) return null;
    const rows = await queryRows<{ policy: Record<string, unknown> }>(this.db, `SELECT policy FROM lifecycle_policies WHERE scope = $1`, [`cube:${cubeId}`]);
    return rows[0]?.policy ?? null;
  }

  async setCubePolicy(cubeId: string, policy: Record<string, unknown>): Promise<void> {
    await this.db.query(
      `INSERT INTO lifecycle_policies (scope, policy) VALUES ($1, $2::jsonb) ON CONFLICT (scope) DO UPDATE SET policy = EXCLUDED.policy`,
      [`cube:${cubeId}`, JSON.stringify(policy)],
    );
  }

  /** A cube row that no read sees (it is born soft-deleted) until `reveal`. */
  async createStaging(tenantId: string, name: string, description: string | null, settings: Record<string, unknown>): Promise<string> {
    const rows = await queryRows<{ id: string }>(this.db,
      `INSERT INTO cubes (tenant_id, name, description, settings, deleted_at) VALUES ($1, $2, $3, $4::jsonb, now()) RETURNING id`,
      [tenantId, name, description, JSON.stringify(settings)],
    );
    return rows[0].id;
  }

  /** Makes a staging cube live; false when a live cube of the tenant already has its name. */
  async reveal(tenantId: string, cubeId: string): Promise<boolean> {
    try {
      await this.db.query(`UPDATE cubes SET deleted_at = NULL, updated_at = now() WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NOT NULL`, [cubeId, tenantId]);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === '23505' || (error as { driverError?: { code?: string } }).driverError?.code === '23505') return false;
      throw error;
    }
  }

  /** Removes a staging cube and every row it owns (ON DELETE CASCADE). */
  async discard(cubeId: string): Promise<void> {
    await this.db.query(`DELETE FROM cubes WHERE id = $1 AND deleted_at IS NOT NULL`, [cubeId]);
  }

  /**
   * Inserts memories (ids already mapped, references left for `setReferences`) and their
   * versions, in order. Returns the (mapped) id of a memory already in the cube — the
   * archive gives two memories one id — instead of failing on the primary key; null when
   * every memory went in.
   */
  async importBatch(cubeId: string, memories: ImportedMemory[]): Promise<{ repeatedId: string } | null> {
    if (memories.length === 0) return null;
    try {
      await this.insertBatch(cubeId, memories);
      return null;
    } catch (error) {
      const repeatedId = repeatedMemoryId(error);
      if (repeatedId) return { repeatedId };
      throw error;
    }
  }

  private async insertBatch(cubeId: string, memories: ImportedMemory[]): Promise<void> {
    const refs = new Set((await this.memoryReferenceColumns()).map((c) => c.name));
    const memoryCols = (await this.columnsOf('memories')).filter((c) => !MEMORY_LOCAL.includes(c.name) && !refs.has(c.name));
    const versionCols = (await this.columnsOf('memory_versions')).filter((c) => !VERSION_LOCAL.includes(c.name));
    const value = (c: ColumnInfo) => (c.defaultSql !== null ? `COALESCE(r.${quote(c.name)}, ${c.defaultSql})` : `r.${quote(c.name)}`);
    await this.db.transaction(async (tx: EntityManager) => {
      await tx.query(
        `INSERT INTO memories (cube_id, change_seq, embedding, embedder_fingerprint, ${memoryCols.map((c) => quote(c.name)).join(', ')})
         SELECT $1, nextval('engram_change_seq'), e.embedding, e.fp, ${memoryCols.map(value).join(', ')}
           FROM jsonb_populate_recordset(NULL::memories, $2::jsonb) WITH ORDINALITY AS r
           JOIN unnest($3::bytea[], $4::text[]) WITH ORDINALITY AS e(embedding, fp, ord) ON e.ord = r.ordinality
          ORDER BY r.ordinality`,
        [
          cubeId,
          JSON.stringify(memories.map((m) => m.memory)),
          memories.map((m) => encodeEmbedding(m.embedding)),
          memories.map((m) => m.embedderFingerprint),
        ],
      );
      // The access statistics (memory_access, ADR 0129) travel in the memory's object, as they did when they were its columns.
      await tx.query(
        `INSERT INTO memory_access (memory_id, access_count, last_accessed_at)
         SELECT r.id, coalesce(r.access_count, 0), r.last_accessed_at
           FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, access_count int, last_accessed_at timestamptz)
          WHERE coalesce(r.access_count, 0) <> 0 OR r.last_accessed_at IS NOT NULL`,
        [JSON.stringify(memories.map((m) => m.memory))],
      );
      const versions = memories.flatMap((m) => m.versions.map((v) => ({ ...v, memory_id: m.memory.id })));
      if (versions.length) {
        await tx.query(
          `INSERT INTO memory_versions (memory_id, ${versionCols.map((c) => quote(c.name)).join(', ')})
           SELECT r.memory_id, ${versionCols.map(value).join(', ')}
             FROM jsonb_populate_recordset(NULL::memory_versions, $1::jsonb) AS r`,
          [JSON.stringify(versions)],
        );
      }
    });
  }

  /**
   * Gives the next `vectors.length` memories of the cube that still lack an embedding (in
   * insertion order, after change sequence `afterSeq`) those vectors; returns where it stopped.
   * The (cube_id, change_seq) index serves the walk; an import inserts in order and never
   * bumps the sequence of its staging cube's rows.
   */
  async assignEmbeddings(cubeId: string, afterSeq: number, vectors: Float32Array[], fingerprint: string): Promise<{ lastSeq: number; filled: number }> {
    const rows = await queryRows<{ seq: string }>(this.db,
      `WITH targets AS (
         SELECT id, change_seq, row_number() OVER (ORDER BY change_seq) AS ord FROM (
           SELECT id, change_seq FROM memories WHERE cube_id = $1 AND change_seq > $2 AND embedding IS NULL ORDER BY change_seq LIMIT $3) t
       )
       UPDATE memories m SET embedding = v.embedding, embedder_fingerprint = $5
         FROM targets t JOIN unnest($4::bytea[]) WITH ORDINALITY AS v(embedding, ord) ON v.ord = t.ord
        WHERE m.id = t.id
       RETURNING t.change_seq AS seq`,
      [cubeId, afterSeq, vectors.length, vectors.map((v) => encodeEmbedding(v)), fingerprint],
    );
    return { lastSeq: rows.reduce((max, r) => Math.max(max, Number(r.seq)), afterSeq), filled: rows.length };
  }

  /** Memories of the cube still without an embedding (after the vectors part: should be none). */
  async withoutEmbedding(cubeId: string, limit: number): Promise<{ id: string; text: string }[]> {
    return queryRows(this.db, `SELECT id, text FROM memories WHERE cube_id = $1 AND embedding IS NULL ORDER BY label LIMIT $2`, [cubeId, limit]);
  }

  async setEmbeddings(ids: string[], vectors: Float32Array[], fingerprint: string): Promise<void> {
    await this.db.query(
      `UPDATE memories m SET embedding = v.embedding, embedder_fingerprint = $3 FROM unnest($1::uuid[], $2::bytea[]) AS v(id, embedding) WHERE m.id = v.id`,
      [ids, vectors.map((v) => encodeEmbedding(v)), fingerprint],
    );
  }

  /** Sets reference columns (mergedInto …) once every memory is in; references to memories the cube lacks stay null. */
  async setReferences(cubeId: string, column: string, array: boolean, ids: string[], values: (string | string[])[]): Promise<void> {
    if (!ids.length) return;
    const refs = await this.memoryReferenceColumns();
    if (!refs.some((c) => c.name === column)) throw new Error(`${column} is not a reference column of memories`);
    if (array) {
      await this.db.query(
        `UPDATE memories m SET ${quote(column)} = ARRAY(SELECT x FROM jsonb_array_elements_text(v.refs) AS x WHERE EXISTS (SELECT 1 FROM memories t WHERE t.id = x::uuid AND t.cube_id = $1))::uuid[]
           FROM unnest($2::uuid[], $3::jsonb[]) AS v(id, refs) WHERE m.id = v.id`,
        [cubeId, ids, values.map((v) => JSON.stringify(v))],
      );
      return;
    }
    await this.db.query(
      `UPDATE memories m SET ${quote(column)} = v.ref
         FROM unnest($2::uuid[], $3::uuid[]) AS v(id, ref)
        WHERE m.id = v.id AND EXISTS (SELECT 1 FROM memories t WHERE t.id = v.ref AND t.cube_id = $1)`,
      [cubeId, ids, values],
    );
  }

  /** Inserts lifecycle events (memory ids already mapped) for the cube. */
  async importEvents(cubeId: string, tenantId: string, events: Record<string, unknown>[]): Promise<void> {
    if (!events.length) return;
    const cols = (await this.columnsOf('lifecycle_events')).filter((c) => !EVENT_LOCAL.includes(c.name));
    const value = (c: ColumnInfo) => (c.defaultSql !== null ? `COALESCE(r.${quote(c.name)}, ${c.defaultSql})` : `r.${quote(c.name)}`);
    await this.db.query(
      `INSERT INTO lifecycle_events (cube_id, tenant_id, ${cols.map((c) => quote(c.name)).join(', ')})
       SELECT $1, $2, ${cols.map(value).join(', ')} FROM jsonb_populate_recordset(NULL::lifecycle_events, $3::jsonb) WITH ORDINALITY AS r ORDER BY r.ordinality`,
      [cubeId, tenantId, JSON.stringify(events)],
    );
  }

  /** The cube's ready banks, column by column (the files are the caller's), with their block provenance rows. */
  async exportBanks(cubeId: string, bankId: string | null = null): Promise<{ id: string; directory: string; bank: Record<string, unknown>; blocks: Record<string, unknown>[] }[]> {
    const rows = await queryRows<{ id: string; directory: string; bank: Record<string, unknown>; blocks: Record<string, unknown>[] | null }>(this.db,
      `SELECT b.id, b.directory, to_jsonb(b) - $2::text[] AS bank,
              (SELECT jsonb_agg(to_jsonb(bb) - $3::text[] ORDER BY bb.level, bb.node) FROM bank_blocks bb WHERE bb.bank_id = b.id) AS blocks
         FROM banks b WHERE b.cube_id = $1 AND b.state = 'ready' AND ($4::uuid IS NULL OR b.id = $4) ORDER BY b.created_at, b.id`,
      [cubeId, BANK_LOCAL, BLOCK_LOCAL, bankId],
    );
    return rows.map((r) => ({ id: r.id, directory: r.directory, bank: r.bank, blocks: r.blocks ?? [] }));
  }

  /** Inserts a bank (id already mapped) of the cube for `modelId`, with its block rows (memory ids already mapped). */
  async importBank(cubeId: string, modelId: string, directory: string, bank: Record<string, unknown>, blocks: Record<string, unknown>[]): Promise<void> {
    const bankCols = (await this.columnsOf('banks')).filter((c) => !BANK_LOCAL.includes(c.name));
    const blockCols = (await this.columnsOf('bank_blocks')).filter((c) => !BLOCK_LOCAL.includes(c.name));
    const value = (c: ColumnInfo) => (c.defaultSql !== null ? `COALESCE(r.${quote(c.name)}, ${c.defaultSql})` : `r.${quote(c.name)}`);
    await this.db.transaction(async (tx: EntityManager) => {
      await tx.query(
        `INSERT INTO banks (cube_id, model_id, directory, job_id, ${bankCols.map((c) => quote(c.name)).join(', ')})
         SELECT $1, $2, $3, NULL, ${bankCols.map(value).join(', ')} FROM jsonb_populate_record(NULL::banks, $4::jsonb) AS r`,
        [cubeId, modelId, directory, JSON.stringify(bank)],
      );
      if (blocks.length) {
        await tx.query(
          `INSERT INTO bank_blocks (bank_id, ${blockCols.map((c) => quote(c.name)).join(', ')})
           SELECT $1, ${blockCols.map(value).join(', ')} FROM jsonb_populate_recordset(NULL::bank_blocks, $2::jsonb) AS r`,
          [bank.id, JSON.stringify(blocks)],
        );
      }
    });
  }

  /** Counts of what a cube holds (import reports them). */
  async counts(cubeId: string): Promise<{ memories: number; versions: number }> {
    const rows = await queryRows<{ memories: string; versions: string }>(this.db,
      `SELECT (SELECT count(*) FROM memories WHERE cube_id = $1) AS memories,
              (SELECT count(*) FROM memory_versions v JOIN memories m ON m.id = v.memory_id WHERE m.cube_id = $1) AS versions`,
      [cubeId],
    );
    return { memories: Number(rows[0].memories), versions: Number(rows[0].versions) };
  }
}

/** The memory id a unique violation on `memories`' primary key names (PostgreSQL's detail: "Key (id)=(…) already exists."), or null. */
function repeatedMemoryId(error: unknown): string | null {
  const e = error as { code?: string; table?: string; detail?: string; driverError?: { code?: string; table?: string; detail?: string } };
  const pg = e.driverError ?? e;
  if (pg.code !== '23505' || pg.table !== 'memories') return null;
  return /^Key \(id\)=\(([0-9a-f-]{36})\) already exists/.exec(pg.detail ?? '')?.[1] ?? null;
}
