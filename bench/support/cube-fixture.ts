// Many cubes without ingesting every memory through the service (bench:scale --fixture): a
// pool of memories is ingested through the service once (rows, version rows, embeddings by
// the cube's embedder, exactly as any add), then each cube is created through the service
// and gets a window of the pool copied server-side by one INSERT … SELECT per group of
// cubes: every column the service wrote for that memory, with the row's own id (time-ordered
// UUIDv7, as insertMany draws them: ADR 0118), label and change sequence (drawn from the same
// sequences as the service's inserts), plus its version row as insertMany writes it. The server then reads these cubes exactly as its own
// (change feed, rows by label, snapshots). Not written: the one audit row per add batch
// (search never reads it) and the quota counters (none are kept: quotas count rows).
import { Client } from 'pg';

/** The memories columns a service insert fills (insertMany), copied as they are. */
const COPIED = [
  'text', 'kind', 'role', 'tags', 'metadata', 'source', 'session_id', 'observed_at', 'valid_from', 'valid_to', 'importance',
  'embedding', 'embedder_fingerprint', 'created_by', 'pinned', 'expires_at', 'fact_subject', 'fact_predicate', 'fact_object', 'fact_key',
] as const;

/** Cubes filled per statement. */
const CUBES_PER_STATEMENT = 20;

export interface FixtureProgress {
  (done: number, total: number): void;
}

/**
 * Fills `cubeIds` with `perCube` memories each, cube c taking the pool's rows from a
 * seeded offset on (its sessions stay whole runs of turns, as ingested). The pool cube's
 * rows must have been written by the service. Cubes in `skip` (filled by an earlier run) are
 * left as they are; the others get the same windows as on a first run.
 */
export async function fillCubesFromPool(databaseUrl: string, poolCubeId: string, cubeIds: readonly string[], perCube: number, progress?: FixtureProgress, skip: ReadonlySet<string> = new Set()): Promise<void> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    // UUIDv7 (48 bits of Unix milliseconds, version and variant bits, random rest), as timeOrderedIds() in persistence.
    await db.query(
      `CREATE FUNCTION pg_temp.uuid7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
         SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                  PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
       $$`,
    );
    await db.query(
      `CREATE TEMP TABLE fixture_pool AS
         SELECT (row_number() OVER (ORDER BY label) - 1)::int AS n, ${COPIED.join(', ')} FROM memories WHERE cube_id = $1`,
      [poolCubeId],
    );
    await db.query('CREATE UNIQUE INDEX ON fixture_pool (n)');
    await db.query('ANALYZE fixture_pool');
    const poolSize = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM fixture_pool')).rows[0].n);
    if (poolSize < perCube) throw new Error(`the pool has ${poolSize} memories, fewer than ${perCube} a cube`);
    for (let from = 0; from < cubeIds.length; from += CUBES_PER_STATEMENT) {
      // Offsets spread the windows over the pool (a multiplicative step, so neighbours differ).
      const targets = cubeIds.slice(from, from + CUBES_PER_STATEMENT).map((cubeId, i) => ({ cubeId, offset: ((from + i) * 7919) % (poolSize - perCube + 1) })).filter((t) => !skip.has(t.cubeId));
      if (targets.length === 0) continue;
      const group = targets.map((t) => t.cubeId);
      const offsets = targets.map((t) => t.offset);
      await db.query(
        `WITH targets AS (
           SELECT * FROM unnest($1::uuid[], $2::int[]) WITH ORDINALITY AS t(cube_id, off, ord)
         ), inserted AS (
           INSERT INTO memories (id, cube_id, change_seq, ${COPIED.join(', ')})
           SELECT pg_temp.uuid7(), s.cube_id, nextval('engram_change_seq'), ${COPIED.map((c) => `s.${c}`).join(', ')}
             FROM (SELECT t.cube_id, p.* FROM targets t JOIN fixture_pool p ON p.n >= t.off AND p.n < t.off + $3
                    ORDER BY t.ord, p.n OFFSET 0) s
           RETURNING id, text, tags, metadata, valid_from, valid_to, importance, state, created_by
         )
         INSERT INTO memory_versions (memory_id, version, action, actor_type, actor_id, request_id, new_values)
         SELECT i.id, 1, 'create', 'key', i.created_by, 'bench-fixture',
                jsonb_build_object('text', i.text, 'tags', to_jsonb(i.tags), 'metadata', i.metadata,
                                   'validFrom', i.valid_from, 'validTo', i.valid_to, 'importance', i.importance, 'state', i.state)
           FROM inserted i`,
        [group, offsets, perCube],
      );
      progress?.(Math.min(cubeIds.length, from + CUBES_PER_STATEMENT), cubeIds.length);
    }
  } finally {
    await db.end();
  }
}
