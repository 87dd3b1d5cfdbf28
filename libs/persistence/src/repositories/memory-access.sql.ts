// A memory's access statistics live in memory_access (ADR 0129), one narrow row per memory
// search has returned. These fragments read them next to a memory's own columns.

/** When search last returned the `memories` row in scope (null: never). */
export const LAST_ACCESSED_AT = '(SELECT a.last_accessed_at FROM memory_access a WHERE a.memory_id = memories.id)';

/** Select-list columns `access_count` and `last_accessed_at` of the `memories` row in scope (also in RETURNING). */
export const ACCESS_COLUMNS = `coalesce((SELECT a.access_count FROM memory_access a WHERE a.memory_id = memories.id), 0) AS access_count,
  ${LAST_ACCESSED_AT} AS last_accessed_at`;

/** `memories` with its access statistics as `a` (null columns for a memory never returned): for queries over many rows. */
export const MEMORIES_WITH_ACCESS = 'memories LEFT JOIN memory_access a ON a.memory_id = memories.id';
