import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { LifecycleRunStatus, MemoryState } from '../entities';
import { decodeCursor, decodeMicrosIdCursor, encodeCursor, isCursorBigint, Page, timestampFromMicrosSql, timestampMicrosSql } from './records';
import { queryRows } from './sql';
import { ACCESS_COLUMNS, LAST_ACCESSED_AT } from './memory-access.sql';

/** A memory as the lifecycle planner and executor see it (no embedding). */
export interface LifecycleMemory {
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
  state: MemoryState;
  pinned: boolean;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  observedAt: Date | null;
  validFrom: Date | null;
  validTo: Date | null;
  expiresAt: Date | null;
  lastAccessedAt: Date | null;
  restoredAt: Date | null;
  mergedInto: string | null;
  supersededBy: string | null;
  factKey: string | null;
  factPredicate: string | null;
  factObject: string | null;
}

/** Who takes a lifecycle action: a policy (scheduler), a key, or the operator. */
export interface LifecycleActor {
  actorType: 'policy' | 'key' | 'admin';
  actorId: string | null;
  requestId: string | null;
}

/** An action to apply, as planned, with the versions it was planned against. */
export interface LifecycleActionInput {
  type: 'merge' | 'supersede' | 'expire' | 'archive';
  memoryIds: string[];
  targetId?: string;
  /** merge: the survivor's new text (LLM mode). Its vector is dropped and computed again after the commit. */
  text?: string;
  reason: Record<string, unknown>;
  versions: Record<string, number>;
}

/** Applied: the event and every involved memory's new version; else why nothing changed. */
export type ApplyOutcome = { applied: true; eventId: string; versions: Record<string, number> } | { applied: false; why: string };

/** Sets a memory's text and drops its vector (the deferred embedder computes the new one). */
const SET_TEXT = `text = $6, embedding = NULL, embedder_fingerprint = NULL`;

export interface LifecycleEventRecord {
  id: string;
  cubeId: string;
  memoryIds: string[];
  action: string;
  reason: Record<string, unknown>;
  actorType: string;
  actorId: string | null;
  runId: string | null;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  at: Date;
}

export interface LifecycleRunRecord {
  id: string;
  cubeId: string;
  tenantId: string;
  status: LifecycleRunStatus;
  requestedByType: string;
  requestedBy: string | null;
  jobId: string | null;
  actions: Record<string, unknown>[];
  error: string | null;
  createdAt: Date;
  finishedAt: Date | null;
}

export interface CubeStateCounts {
  id: string;
  tenantId: string;
  name: string;
  createdAt: Date;
  counts: Record<string, number>;
}

const COLUMNS = `id, cube_id, label, change_seq, text, kind, role, tags, metadata, source, state, pinned, version, created_at,
  updated_at, observed_at, valid_from, valid_to, expires_at, restored_at, merged_into, superseded_by,
  fact_key, fact_predicate, fact_object, ${ACCESS_COLUMNS}`;

type Row = Record<string, unknown>;

function toMemory(r: Row): LifecycleMemory {
  return {
    id: r.id as string,
    cubeId: r.cube_id as string,
    label: Number(r.label),
    changeSeq: Number(r.change_seq),
    text: r.text as string,
    kind: r.kind as string,
    role: (r.role as string | null) ?? null,
    tags: (r.tags as string[]) ?? [],
    metadata: (r.metadata as Record<string, unknown>) ?? {},
    source: (r.source as Record<string, unknown>) ?? {},
    state: r.state as MemoryState,
    pinned: r.pinned === true,
    version: Number(r.version),
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
    observedAt: (r.observed_at as Date | null) ?? null,
    validFrom: (r.valid_from as Date | null) ?? null,
    validTo: (r.valid_to as Date | null) ?? null,
    expiresAt: (r.expires_at as Date | null) ?? null,
    lastAccessedAt: (r.last_accessed_at as Date | null) ?? null,
    restoredAt: (r.restored_at as Date | null) ?? null,
    mergedInto: (r.merged_into as string | null) ?? null,
    supersededBy: (r.superseded_by as string | null) ?? null,
    factKey: (r.fact_key as string | null) ?? null,
    factPredicate: (r.fact_predicate as string | null) ?? null,
    factObject: (r.fact_object as string | null) ?? null,
  };
}

function toEvent(r: Row): LifecycleEventRecord {
  return {
    id: String(r.id),
    cubeId: r.cube_id as string,
    memoryIds: r.memory_ids as string[],
    action: r.action as string,
    reason: (r.reason as Record<string, unknown>) ?? {},
    actorType: r.actor_type as string,
    actorId: (r.actor_id as string | null) ?? null,
    runId: (r.run_id as string | null) ?? null,
    before: (r.before as Record<string, unknown>) ?? {},
    after: (r.after as Record<string, unknown>) ?? {},
    at: r.at as Date,
  };
}

function toRun(r: Row): LifecycleRunRecord {
  return {
    id: r.id as string,
    cubeId: r.cube_id as string,
    tenantId: r.tenant_id as string,
    status: r.status as LifecycleRunStatus,
    requestedByType: r.requested_by_type as string,
    requestedBy: (r.requested_by as string | null) ?? null,
    jobId: (r.job_id as string | null) ?? null,
    actions: (r.actions as Record<string, unknown>[]) ?? [],
    error: (r.error as string | null) ?? null,
    createdAt: r.created_at as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
  };
}

/** The lifecycle fields of a memory that a transition changes (what events record before and after). */
function lifecycleValues(m: LifecycleMemory): Record<string, unknown> {
  return {
    state: m.state,
    version: m.version,
    mergedInto: m.mergedInto,
    supersededBy: m.supersededBy,
    validTo: m.validTo?.toISOString() ?? null,
    tags: m.tags,
    metadata: m.metadata,
    source: m.source,
  };
}

/**
 * Every SQL statement of the memory lifecycle: the planner's snapshots (change feed, fact
 * peers, sweep candidates), the executor's transitions — each one transaction on one
 * connection that takes the cube's write lock, re-checks every version, and writes the
 * version rows and the lifecycle event with it — runs, events and policies.
 */
@Injectable()
export class LifecycleRepository {
  constructor(private readonly db: DataSource) {}

  /** The same per-cube write lock as MemoryRepository: change_seq order stays commit order. */
  private async lockCube(tx: EntityManager, cubeId: string): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 7))`, [cubeId]);
  }

  // ---- snapshots -------------------------------------------------------------------------

  /** Memories changed after `afterSeq`, oldest change first (the tick's cursor). */
  async changedSince(cubeId: string, afterSeq: number, limit: number): Promise<LifecycleMemory[]> {
    const rows = await queryRows<Row>(this.db, `SELECT ${COLUMNS} FROM memories WHERE cube_id = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3`, [cubeId, afterSeq, limit]);
    return rows.map(toMemory);
  }

  /** Active memories in label order after `afterLabel` (a full pass's cursor). */
  async activeAfter(cubeId: string, afterLabel: number, limit: number): Promise<LifecycleMemory[]> {
    const rows = await queryRows<Row>(this.db, `SELECT ${COLUMNS} FROM memories WHERE cube_id = $1 AND state = 'active' AND label > $2 ORDER BY label LIMIT $3`, [cubeId, afterLabel, limit]);
    return rows.map(toMemory);
  }

  async byIds(cubeId: string, ids: string[]): Promise<LifecycleMemory[]> {
    if (!ids.length) return [];
    const rows = await queryRows<Row>(this.db, `SELECT ${COLUMNS} FROM memories WHERE cube_id = $1 AND id = ANY($2::uuid[])`, [cubeId, ids]);
    return rows.map(toMemory);
  }

  async byLabels(cubeId: string, labels: number[]): Promise<LifecycleMemory[]> {
    if (!labels.length) return [];
    const rows = await queryRows<Row>(this.db, `SELECT ${COLUMNS} FROM memories WHERE cube_id = $1 AND label = ANY($2::bigint[])`, [cubeId, labels.map(String)]);
    return rows.map(toMemory);
  }

  /** Every active memory holding one of `keys` (facts that may supersede each other). */
  async activeByFactKeys(cubeId: string, keys: string[]): Promise<LifecycleMemory[]> {
    if (!keys.length) return [];
    const rows = await queryRows<Row>(this.db, `SELECT ${COLUMNS} FROM memories WHERE cube_id = $1 AND fact_key = ANY($2::text[]) AND state = 'active'`, [cubeId, keys]);
    return rows.map(toMemory);
  }

  /**
   * Active, unpinned memories after `afterLabel` that a time rule could touch: an explicit
   * expiry passed, a kind or tag with a TTL, or (with `idleBefore`) unused since then.
   * The planner decides precisely; this only keeps a 100k cube from being read whole.
   */
  async sweepCandidates(cubeId: string, afterLabel: number, limit: number, rules: { now: Date; kinds: string[]; tags: string[]; idleBefore: Date | null }): Promise<{ rows: LifecycleMemory[]; lastLabel: number | null }> {
    const rows = await queryRows<Row>(this.db,
      `WITH page AS (
         SELECT label FROM memories WHERE cube_id = $1 AND state = 'active' AND label > $2 ORDER BY label LIMIT $3
       )
       SELECT ${COLUMNS}, (SELECT max(label) FROM page) AS page_last FROM memories
        WHERE cube_id = $1 AND label IN (SELECT label FROM page) AND NOT pinned
          AND ((expires_at IS NOT NULL AND expires_at <= $4)
            OR kind = ANY($5::text[]) OR tags && $6::text[]
            OR ($7::timestamptz IS NOT NULL AND GREATEST(${LAST_ACCESSED_AT}, updated_at, restored_at, created_at) < $7::timestamptz))
        ORDER BY label`,
      [cubeId, afterLabel, limit, rules.now, rules.kinds, rules.tags, rules.idleBefore],
    );
    if (rows.length) return { rows: rows.map(toMemory), lastLabel: Number(rows[0].page_last) };
    const last = await queryRows<{ label: string | null }>(this.db,
      `SELECT max(label) AS label FROM (SELECT label FROM memories WHERE cube_id = $1 AND state = 'active' AND label > $2 ORDER BY label LIMIT $3) p`,
      [cubeId, afterLabel, limit],
    );
    return { rows: [], lastLabel: last[0]?.label === null || last[0]?.label === undefined ? null : Number(last[0].label) };
  }

  /** With no TTL or idleness rule in the policy, only explicit expiries can be due: read those off their index. */
  async explicitlyExpired(cubeId: string, afterLabel: number, limit: number, now: Date): Promise<{ rows: LifecycleMemory[]; lastLabel: number | null }> {
    const rows = (await queryRows<Row>(this.db,
      `SELECT ${COLUMNS} FROM memories
        WHERE cube_id = $1 AND expires_at IS NOT NULL AND expires_at <= $4 AND state = 'active' AND NOT pinned AND label > $2
        ORDER BY label LIMIT $3`,
      [cubeId, afterLabel, limit, now],
    )).map(toMemory);
    return { rows, lastLabel: rows.length ? rows[rows.length - 1].label : null };
  }

  async processedSeq(cubeId: string): Promise<number> {
    const rows = await queryRows<{ processed_seq: string }>(this.db, `SELECT processed_seq FROM cube_lifecycle_state WHERE cube_id = $1`, [cubeId]);
    return rows.length ? Number(rows[0].processed_seq) : 0;
  }

  /**
   * Whether the cube has changes no tick has decided on: a write whose tick could not be
   * queued after its commit (an error, a crash) is picked up by the sweep (ADR 0530).
   */
  async tickBehind(cubeId: string): Promise<boolean> {
    const rows = await queryRows<{ behind: boolean }>(
      this.db,
      `SELECT EXISTS (SELECT 1 FROM memories WHERE cube_id = $1
                        AND change_seq > COALESCE((SELECT processed_seq FROM cube_lifecycle_state WHERE cube_id = $1), 0)) AS behind`,
      [cubeId],
    );
    return rows[0]?.behind === true;
  }

  /** Moves the tick cursor forward (never back: two workers may finish out of order). */
  async advanceProcessedSeq(cubeId: string, seq: number): Promise<void> {
    await this.db.query(
      `INSERT INTO cube_lifecycle_state (cube_id, processed_seq) VALUES ($1, $2)
       ON CONFLICT (cube_id) DO UPDATE SET processed_seq = GREATEST(cube_lifecycle_state.processed_seq, EXCLUDED.processed_seq), updated_at = now()`,
      [cubeId, seq],
    );
  }

  async markSwept(cubeId: string): Promise<void> {
    await this.db.query(
      `INSERT INTO cube_lifecycle_state (cube_id, swept_at) VALUES ($1, now())
       ON CONFLICT (cube_id) DO UPDATE SET swept_at = now(), updated_at = now()`,
      [cubeId],
    );
  }

  // ---- transitions -----------------------------------------------------------------------

  /**
   * Applies one planned action in one transaction: the cube's write lock, the rows locked
   * and their versions re-checked (a person's edit since planning wins: nothing happens),
   * then the transition, the version rows and the lifecycle event, all on this connection.
   * `derived` writes, in the same transaction, the rows that follow from an applied action
   * (stale marks, jobs: ADR 0530), told whose text the action rewrote.
   */
  async apply(
    cubeId: string,
    tenantId: string,
    action: LifecycleActionInput,
    actor: LifecycleActor,
    runId: string | null,
    derived?: (tx: EntityManager, textChanged: string | null) => Promise<void>,
  ): Promise<ApplyOutcome> {
    return this.db.transaction(async (tx) => {
      await this.lockCube(tx, cubeId);
      const ids = [...new Set([...action.memoryIds, ...(action.targetId ? [action.targetId] : [])])];
      const rows = (await queryRows<Row>(tx, `SELECT ${COLUMNS} FROM memories WHERE cube_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE`, [cubeId, ids])).map(toMemory);
      const byId = new Map(rows.map((m) => [m.id, m]));
      for (const id of ids) {
        const m = byId.get(id);
        if (!m) return { applied: false, why: `memory ${id} is gone` };
        if (action.versions[id] !== undefined && action.versions[id] !== m.version) return { applied: false, why: `memory ${id} changed since the plan (version ${m.version}, planned ${action.versions[id]})` };
        if (m.state !== 'active') return { applied: false, why: `memory ${id} is ${m.state}` };
        if (m.pinned) return { applied: false, why: `memory ${id} is pinned` };
      }
      const before: Record<string, unknown> = {};
      const after: Record<string, unknown> = {};
      for (const id of ids) before[id] = lifecycleValues(byId.get(id)!);
      const versions: { memoryId: string; version: number; action: string; oldValues: unknown; newValues: unknown; reason: string }[] = [];
      const reasonText = `${action.reason.policy ?? 'policy'}: ${action.reason.rule ?? action.type}`;

      const transition = async (id: string, state: MemoryState, extra: { mergedInto?: string; supersededBy?: string; validTo?: Date | null }) => {
        const updated = await queryRows<Row>(tx,
          `UPDATE memories SET state = $3, expired_at = now(), merged_into = COALESCE($4, merged_into), superseded_by = COALESCE($5, superseded_by),
                  valid_to = CASE WHEN $6::boolean THEN $7::timestamptz ELSE valid_to END,
                  version = version + 1, change_seq = nextval('engram_change_seq'), updated_at = now()
            WHERE cube_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
          [cubeId, id, state, extra.mergedInto ?? null, extra.supersededBy ?? null, extra.validTo !== undefined, extra.validTo ?? null],
        );
        const m = toMemory(updated[0]);
        after[id] = lifecycleValues(m);
        versions.push({ memoryId: id, version: m.version, action: action.type, oldValues: before[id], newValues: after[id], reason: reasonText });
      };

      switch (action.type) {
        case 'merge': {
          const survivor = byId.get(action.targetId!)!;
          const losers = action.memoryIds.map((id) => byId.get(id)!);
          const tags = [...new Set([...survivor.tags, ...losers.flatMap((l) => l.tags)])];
          // The survivor's own values win; the others fill what it lacks.
          const metadata = Object.assign({}, ...losers.map((l) => l.metadata).reverse(), survivor.metadata) as Record<string, unknown>;
          const refs = new Set<string>(Array.isArray(survivor.source.refs) ? (survivor.source.refs as string[]) : []);
          for (const l of losers) for (const r of Array.isArray(l.source.refs) ? (l.source.refs as string[]) : []) refs.add(r);
          const mergedFrom = [...(Array.isArray(survivor.source.mergedFrom) ? (survivor.source.mergedFrom as unknown[]) : []), ...losers.map((l) => ({ id: l.id, source: l.source }))];
          const source = { ...survivor.source, ...(refs.size ? { refs: [...refs] } : {}), mergedFrom };
          // LLM mode: the survivor says both memories' details once. Its old text is kept in
          // the event's before (restore brings it back) and in its version row.
          const text = action.text !== undefined && action.text !== survivor.text ? action.text : undefined;
          const updated = await queryRows<Row>(tx,
            `UPDATE memories SET tags = $3::text[], metadata = $4::jsonb, source = $5::jsonb${text === undefined ? '' : `, ${SET_TEXT}`},
                    version = version + 1, change_seq = nextval('engram_change_seq'), updated_at = now()
              WHERE cube_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
            [cubeId, survivor.id, tags, JSON.stringify(metadata), JSON.stringify(source), ...(text === undefined ? [] : [text])],
          );
          const s = toMemory(updated[0]);
          after[s.id] = lifecycleValues(s);
          if (text !== undefined) {
            before[s.id] = { ...(before[s.id] as object), text: survivor.text };
            after[s.id] = { ...(after[s.id] as object), text: s.text };
          }
          versions.push({ memoryId: s.id, version: s.version, action: 'absorb', oldValues: before[s.id], newValues: after[s.id], reason: reasonText });
          for (const l of losers) await transition(l.id, 'merged', { mergedInto: survivor.id });
          break;
        }
        case 'supersede': {
          const validTo = typeof action.reason.validTo === 'string' ? new Date(action.reason.validTo) : new Date();
          for (const id of action.memoryIds) {
            const stale = byId.get(id)!;
            const keep = stale.validTo !== null && stale.validTo.getTime() <= validTo.getTime();
            await transition(id, 'superseded', { supersededBy: action.targetId, ...(keep ? {} : { validTo }) });
          }
          break;
        }
        case 'expire':
        case 'archive': {
          // One statement for the whole batch (a sweep expires many memories at once).
          const updated = await queryRows<Row>(tx,
            `UPDATE memories SET state = $3, expired_at = now(), version = version + 1, change_seq = nextval('engram_change_seq'), updated_at = now()
              WHERE cube_id = $1 AND id = ANY($2::uuid[]) RETURNING ${COLUMNS}`,
            [cubeId, action.memoryIds, action.type === 'expire' ? 'expired' : 'archived'],
          );
          for (const m of updated.map(toMemory)) {
            after[m.id] = lifecycleValues(m);
            versions.push({ memoryId: m.id, version: m.version, action: action.type, oldValues: before[m.id], newValues: after[m.id], reason: reasonText });
          }
          break;
        }
      }
      await this.insertVersions(tx, versions, actor);
      const eventId = await this.insertEvent(tx, { cubeId, tenantId, memoryIds: ids, action: action.type, reason: { ...action.reason, ...(action.targetId ? { targetId: action.targetId } : {}) }, actor, runId, before, after });
      if (derived) await derived(tx, action.type === 'merge' && (after[action.targetId!] as { text?: string } | undefined)?.text !== undefined ? action.targetId! : null);
      const newVersions = Object.fromEntries(ids.map((id) => [id, ((after[id] ?? before[id]) as { version: number }).version]));
      return { applied: true, eventId, versions: newVersions };
    });
  }

  /**
   * Brings a memory back to active from any other state, in one transaction. A merged
   * memory's survivor gets back the tags, metadata and source it had before the merge when
   * it has not changed since; a superseded one gets back its validTo. `audit` runs last in the
   * transaction, told whose text came back (for the rows that follow from it: ADR 0530).
   */
  async restore(
    cubeId: string,
    tenantId: string,
    id: string,
    actor: LifecycleActor,
    audit: (tx: EntityManager, textChanged: readonly string[]) => Promise<void>,
  ): Promise<{ memory: LifecycleMemory; restored: boolean; erased?: true; textChanged: string[] } | null> {
    return this.db.transaction(async (tx) => {
      await this.lockCube(tx, cubeId);
      const found = await queryRows<Row>(tx, `SELECT ${COLUMNS}, erased_at IS NOT NULL AS erased FROM memories WHERE cube_id = $1 AND id = $2 FOR UPDATE`, [cubeId, id]);
      if (!found.length) return null;
      const current = toMemory(found[0]);
      // Erased while the caller looked: its contents are gone, there is nothing to bring back.
      if (found[0].erased === true) return { memory: current, restored: false, erased: true, textChanged: [] };
      if (current.state === 'active') return { memory: current, restored: false, textChanged: [] };
      const textChanged: string[] = [];
      const before: Record<string, unknown> = { [id]: lifecycleValues(current) };
      const after: Record<string, unknown> = {};
      const versions: { memoryId: string; version: number; action: string; oldValues: unknown; newValues: unknown; reason: string }[] = [];
      const reason: Record<string, unknown> = { rule: 'restore', from: current.state };

      let validTo: Date | null | undefined;
      if (current.state === 'merged' || current.state === 'superseded') {
        const events = await queryRows<Row>(tx,
          `SELECT id, cube_id, memory_ids, action, reason, actor_type, actor_id, run_id, before, after, at FROM lifecycle_events
            WHERE cube_id = $1 AND memory_ids @> ARRAY[$2]::uuid[] AND action = $3 ORDER BY id DESC LIMIT 1`,
          [cubeId, id, current.state === 'merged' ? 'merge' : 'supersede'],
        );
        const event = events.length ? toEvent(events[0]) : null;
        const own = event?.before[id] as { validTo?: string | null } | undefined;
        if (current.state === 'superseded' && own) validTo = own.validTo ? new Date(own.validTo) : null;
        if (current.state === 'merged' && event && current.mergedInto) {
          const survivorBefore = event.before[current.mergedInto] as { tags: string[]; metadata: unknown; source: unknown; text?: string } | undefined;
          const survivorAfter = event.after[current.mergedInto] as { version: number } | undefined;
          const survivorRows = await queryRows<Row>(tx, `SELECT ${COLUMNS} FROM memories WHERE cube_id = $1 AND id = $2 FOR UPDATE`, [cubeId, current.mergedInto]);
          const survivor = survivorRows.length ? toMemory(survivorRows[0]) : null;
          if (survivor && survivorBefore && survivorAfter && survivor.version === survivorAfter.version) {
            before[survivor.id] = lifecycleValues(survivor);
            // An LLM merge rewrote the survivor's text: the text it had comes back too.
            const text = typeof survivorBefore.text === 'string' && survivorBefore.text !== survivor.text ? survivorBefore.text : undefined;
            const updated = await queryRows<Row>(tx,
              `UPDATE memories SET tags = $3::text[], metadata = $4::jsonb, source = $5::jsonb${text === undefined ? '' : `, ${SET_TEXT}`},
                      version = version + 1, change_seq = nextval('engram_change_seq'), updated_at = now()
                WHERE cube_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
              [cubeId, survivor.id, survivorBefore.tags, JSON.stringify(survivorBefore.metadata), JSON.stringify(survivorBefore.source), ...(text === undefined ? [] : [text])],
            );
            const s = toMemory(updated[0]);
            after[s.id] = lifecycleValues(s);
            if (text !== undefined) {
              before[s.id] = { ...(before[s.id] as object), text: survivor.text };
              after[s.id] = { ...(after[s.id] as object), text: s.text };
              textChanged.push(s.id);
            }
            versions.push({ memoryId: s.id, version: s.version, action: 'unabsorb', oldValues: before[s.id], newValues: after[s.id], reason: 'restore: merge undone' });
            reason.survivorReverted = true;
          } else if (survivor) {
            reason.survivorReverted = false; // edited since the merge: a person's change is not undone
          }
        }
      }
      const updated = await queryRows<Row>(tx,
        `UPDATE memories SET state = 'active', expired_at = NULL, merged_into = NULL, superseded_by = NULL, restored_at = now(),
                valid_to = CASE WHEN $3::boolean THEN $4::timestamptz ELSE valid_to END,
                expires_at = CASE WHEN expires_at <= now() THEN NULL ELSE expires_at END,
                version = version + 1, change_seq = nextval('engram_change_seq'), updated_at = now()
          WHERE cube_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [cubeId, id, validTo !== undefined, validTo ?? null],
      );
      const restored = toMemory(updated[0]);
      after[id] = lifecycleValues(restored);
      versions.push({ memoryId: id, version: restored.version, action: 'restore', oldValues: before[id], newValues: after[id], reason: `restore from ${current.state}` });
      await this.insertVersions(tx, versions, actor);
      await this.insertEvent(tx, { cubeId, tenantId, memoryIds: Object.keys(before), action: 'restore', reason, actor, runId: null, before, after });
      await audit(tx, textChanged);
      return { memory: restored, restored: true, textChanged };
    });
  }

  private async insertVersions(tx: EntityManager, versions: { memoryId: string; version: number; action: string; oldValues: unknown; newValues: unknown; reason: string }[], actor: LifecycleActor): Promise<void> {
    if (!versions.length) return;
    const actorId = actor.actorType === 'policy' ? null : actor.actorId;
    await tx.query(
      `INSERT INTO memory_versions (memory_id, version, action, actor_type, actor_id, request_id, old_values, new_values, reason)
       SELECT v.memory_id, v.version, v.action, $1, $2, $3, v.old_values, v.new_values, v.reason
         FROM unnest($4::uuid[], $5::int[], $6::text[], $7::jsonb[], $8::jsonb[], $9::text[]) AS v(memory_id, version, action, old_values, new_values, reason)`,
      [
        actor.actorType === 'policy' ? 'system' : actor.actorType,
        actorId && /^[0-9a-f-]{36}$/i.test(actorId) ? actorId : null,
        actor.requestId,
        versions.map((v) => v.memoryId),
        versions.map((v) => v.version),
        versions.map((v) => v.action),
        versions.map((v) => JSON.stringify(v.oldValues)),
        versions.map((v) => JSON.stringify(v.newValues)),
        versions.map((v) => (actor.actorType === 'policy' && actor.actorId ? `${v.reason} (${actor.actorId})` : v.reason)),
      ],
    );
  }

  private async insertEvent(
    tx: EntityManager,
    e: { cubeId: string; tenantId: string; memoryIds: string[]; action: string; reason: Record<string, unknown>; actor: LifecycleActor; runId: string | null; before: Record<string, unknown>; after: Record<string, unknown> },
  ): Promise<string> {
    const rows = await queryRows<{ id: string }>(tx,
      `INSERT INTO lifecycle_events (cube_id, tenant_id, memory_ids, action, reason, actor_type, actor_id, run_id, before, after)
       VALUES ($1, $2, $3::uuid[], $4, $5::jsonb, $6, $7, $8, $9::jsonb, $10::jsonb) RETURNING id`,
      [e.cubeId, e.tenantId, e.memoryIds, e.action, JSON.stringify(e.reason), e.actor.actorType, e.actor.actorId, e.runId, JSON.stringify(e.before), JSON.stringify(e.after)],
    );
    return String(rows[0].id);
  }

  // ---- events ----------------------------------------------------------------------------

  /** An event that changes no memory row (e.g. a consolidation into a bank), in its own transaction. */
  recordEvent(e: { cubeId: string; tenantId: string; memoryIds: string[]; action: string; reason: Record<string, unknown>; actor: LifecycleActor; before: Record<string, unknown>; after: Record<string, unknown> }): Promise<string> {
    return this.db.transaction((tx) => this.insertEvent(tx, { ...e, runId: null }));
  }

  /** Newest first, keyset-paginated on id; null for a cursor this API did not make. */
  async events(cubeId: string, filter: { memoryId?: string; action?: string }, limit: number, cursor: string | null): Promise<Page<LifecycleEventRecord> | null> {
    const where = ['cube_id = $1'];
    const params: unknown[] = [cubeId];
    if (filter.memoryId) {
      params.push(filter.memoryId);
      where.push(`memory_ids @> ARRAY[$${params.length}]::uuid[]`);
    }
    if (filter.action) {
      params.push(filter.action);
      where.push(`action = $${params.length}`);
    }
    if (cursor !== null) {
      const parts = decodeCursor(cursor, 1);
      if (parts === null || !isCursorBigint(parts[0])) return null;
      params.push(String(parts[0]));
      where.push(`id < $${params.length}::bigint`);
    }
    params.push(limit + 1);
    const rows = await queryRows<Row>(this.db,
      `SELECT id, cube_id, memory_ids, action, reason, actor_type, actor_id, run_id, before, after, at FROM lifecycle_events
        WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    const items = rows.slice(0, limit).map(toEvent);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.id]) : null };
  }

  /**
   * Actions per policy and action over the last `sinceMs`, and the decision lag percentiles.
   * A policy is the scheduler's actor (fusion, ttl, …); actions a caller took (a restore by an
   * API key, an operator) count under the actor's type, never its id: the figures feed
   * /metrics labels, where an id per key would leak ids and grow a series per key.
   */
  async recentActivity(sinceMs: number): Promise<{ byPolicy: { policy: string; action: string; count: number }[]; lagP50Ms: number | null; lagP99Ms: number | null }> {
    const rows = await queryRows<{ policy: string; action: string; count: string }>(this.db,
      `SELECT CASE WHEN actor_type IN ('key', 'admin') THEN actor_type ELSE COALESCE(actor_id, actor_type) END AS policy,
              action, count(*)::int AS count FROM lifecycle_events
        WHERE at > now() - ($1::int * interval '1 millisecond') GROUP BY 1, 2 ORDER BY 1, 2`,
      [sinceMs],
    );
    const lag = await queryRows<{ p50: number | null; p99: number | null }>(this.db,
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY (reason->>'lagMs')::float8) AS p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY (reason->>'lagMs')::float8) AS p99
         FROM lifecycle_events WHERE at > now() - ($1::int * interval '1 millisecond') AND reason ? 'lagMs'`,
      [sinceMs],
    );
    return {
      byPolicy: rows.map((r) => ({ policy: r.policy, action: r.action, count: Number(r.count) })),
      lagP50Ms: lag[0]?.p50 === null || lag[0]?.p50 === undefined ? null : Number(lag[0].p50),
      lagP99Ms: lag[0]?.p99 === null || lag[0]?.p99 === undefined ? null : Number(lag[0].p99),
    };
  }

  // ---- runs ------------------------------------------------------------------------------

  async createRun(run: { cubeId: string; tenantId: string; requestedByType: string; requestedBy: string | null }): Promise<LifecycleRunRecord> {
    const rows = await queryRows<Row>(this.db,
      `INSERT INTO lifecycle_runs (cube_id, tenant_id, requested_by_type, requested_by) VALUES ($1, $2, $3, $4) RETURNING *`,
      [run.cubeId, run.tenantId, run.requestedByType, run.requestedBy],
    );
    return toRun(rows[0]);
  }

  async attachJob(runId: string, jobId: string): Promise<void> {
    await this.db.query(`UPDATE lifecycle_runs SET job_id = $2, updated_at = now() WHERE id = $1`, [runId, jobId]);
  }

  async getRun(cubeId: string, runId: string): Promise<LifecycleRunRecord | null> {
    const rows = await queryRows<Row>(this.db, `SELECT * FROM lifecycle_runs WHERE cube_id = $1 AND id = $2`, [cubeId, runId]);
    return rows.length ? toRun(rows[0]) : null;
  }

  async updateRun(runId: string, change: { status: LifecycleRunStatus; actions?: Record<string, unknown>[]; error?: string | null }): Promise<void> {
    await this.db.query(
      `UPDATE lifecycle_runs SET status = $2, actions = COALESCE($3::jsonb, actions), error = CASE WHEN $4::boolean THEN $5 ELSE error END,
              finished_at = CASE WHEN $2 IN ('done', 'failed') THEN now() ELSE NULL END, updated_at = now()
        WHERE id = $1`,
      [runId, change.status, change.actions ? JSON.stringify(change.actions) : null, change.error !== undefined, change.error ?? null],
    );
  }

  // ---- policies --------------------------------------------------------------------------

  /** The stored levels for `scopes` (missing ones are empty), in the order asked. */
  async policies(scopes: string[], tx?: EntityManager): Promise<Record<string, unknown>[]> {
    const rows = await queryRows<{ scope: string; policy: Record<string, unknown> }>(tx ?? this.db, `SELECT scope, policy FROM lifecycle_policies WHERE scope = ANY($1::text[])`, [scopes]);
    const byScope = new Map(rows.map((r) => [r.scope, r.policy]));
    return scopes.map((s) => byScope.get(s) ?? {});
  }

  async putPolicy(scope: string, policy: Record<string, unknown>, tx?: EntityManager): Promise<void> {
    await (tx ?? this.db).query(
      `INSERT INTO lifecycle_policies (scope, policy) VALUES ($1, $2::jsonb)
       ON CONFLICT (scope) DO UPDATE SET policy = EXCLUDED.policy, updated_at = now()`,
      [scope, JSON.stringify(policy)],
    );
  }

  async deletePolicy(scope: string): Promise<void> {
    await this.db.query(`DELETE FROM lifecycle_policies WHERE scope = $1`, [scope]);
  }

  /** Runs `work` as one unit of work on one connection. */
  unitOfWork<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  /** Whether facts were already extracted from exactly these memories (an extraction job's rerun). */
  async hasExtraction(cubeId: string, memoryIds: string[]): Promise<boolean> {
    const rows = await queryRows(this.db,
      `SELECT 1 FROM memories WHERE cube_id = $1 AND source->>'type' = 'extraction' AND source->'refs' @> $2::jsonb AND jsonb_array_length(source->'refs') = $3 LIMIT 1`,
      [cubeId, JSON.stringify(memoryIds), memoryIds.length],
    );
    return rows.length > 0;
  }

  // ---- LLM token budget ------------------------------------------------------------------

  /** Tokens a tenant's lifecycle LLM calls used on `day` (YYYY-MM-DD). */
  async llmTokens(tenantId: string, day: string): Promise<number> {
    const rows = await queryRows<{ value: unknown }>(this.db, `SELECT value FROM system_settings WHERE key = $1`, [`llm.tokens:${tenantId}:${day}`]);
    return rows.length ? Number(rows[0].value) : 0;
  }

  async addLlmTokens(tenantId: string, day: string, tokens: number): Promise<void> {
    await this.db.query(
      `INSERT INTO system_settings (key, value, updated_at) VALUES ($1, to_jsonb($2::bigint), now())
       ON CONFLICT (key) DO UPDATE SET value = to_jsonb((system_settings.value #>> '{}')::bigint + $2::bigint), updated_at = now()`,
      [`llm.tokens:${tenantId}:${day}`, Math.max(0, Math.round(tokens))],
    );
  }

  // ---- operator views --------------------------------------------------------------------

  /**
   * Live cubes (optionally of one tenant), oldest first, with memory counts by state;
   * keyset-paginated on (created_at, id) with created_at in microseconds, as cube lists are.
   */
  async cubesWithCounts(tenantId: string | null, limit: number, cursor: string | null): Promise<Page<CubeStateCounts> | null> {
    const params: unknown[] = [tenantId, limit + 1];
    let after = '';
    if (cursor !== null) {
      const position = decodeMicrosIdCursor(cursor);
      if (position === null) return null;
      params.push(position.micros, position.id);
      after = `AND (c.created_at, c.id) > (${timestampFromMicrosSql('$3')}, $4::uuid)`;
    }
    const rows = await queryRows<Row>(this.db,
      `SELECT c.id, c.tenant_id, c.name, c.created_at, ${timestampMicrosSql('c.created_at')} AS c_micros,
              COALESCE((SELECT jsonb_object_agg(s.state, s.n) FROM (SELECT state, count(*)::int AS n FROM memories m WHERE m.cube_id = c.id GROUP BY state) s), '{}'::jsonb) AS counts
         FROM cubes c
        WHERE c.deleted_at IS NULL AND ($1::uuid IS NULL OR c.tenant_id = $1) ${after}
        ORDER BY c.created_at, c.id LIMIT $2`,
      params,
    );
    const items = rows.slice(0, limit).map((r) => ({ id: r.id as string, tenantId: r.tenant_id as string, name: r.name as string, createdAt: r.created_at as Date, counts: r.counts as Record<string, number> }));
    const last = rows[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.c_micros as string, last.id as string]) : null };
  }
}
