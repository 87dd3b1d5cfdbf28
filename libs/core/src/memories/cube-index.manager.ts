import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { CubeRepository, MemoryChange, MemoryRepository } from '@engram/persistence';
import { CubeIndex, Embedder, IndexDocument } from '@engram/plaintext';

/** Rows were once saved beside the index (snapshots written before ADR 0112); a save removes the file. */
const LEGACY_ROWS_FILE = 'rows.jsonl';

const SYNC_BATCH = 5000;
/** A cube's snapshot is rewritten after this many changes, or a tenth of its documents if more (a large index is costly to write). */
const SAVE_AFTER_CHANGES = 2000;
/** A rebuild gives the event loop a turn at least this often (other requests, /health, pool timers). */
const YIELD_AFTER_MS = 10;

interface LoadedCube {
  index: CubeIndex;
  fingerprint: string;
  /** The change sequence the index reflects. */
  seq: number;
  changesSinceSave: number;
  /** Serialises syncs of this cube. */
  lock: Promise<unknown>;
  /** The snapshot write in flight, if any. */
  saving: Promise<void> | null;
  /**
   * A memory was erased: its vector may still sit in the graph (a removed node keeps its
   * int8 codes as a tombstone until the graph is rebuilt) and in the snapshot, so this index is dropped
   * and rebuilt from PostgreSQL, and its snapshot deleted.
   */
  erased: boolean;
  /** Dropped after an erase: never saved again. */
  dropped: boolean;
  /**
   * The snapshot written again once the graph build that was linking many documents when
   * the last one was written is over (null: none pending). A snapshot saved mid catch-up
   * (right after a rebuild: at 1M, four in ten documents) would otherwise make every later
   * load link those documents again, for minutes, and nothing else would rewrite it.
   */
  relinked: Promise<void> | null;
}

export interface IndexStats {
  loadStatus: string;
  documents: number;
  seq: number;
}

/**
 * Keeps one in-memory hybrid index per cube, derived from PostgreSQL: loaded from a
 * checksummed snapshot under `<dataDir>/cubes/<id>/hnsw` when it is intact — graph,
 * vectors, documents, BM25 postings and rows, so a cold load analyses and fetches nothing
 * but the changes after it (rebuilt from PostgreSQL otherwise) — then brought up to date
 * by reading every change with a higher change sequence, which is also how writes of
 * other processes arrive.
 */
@Injectable()
export class CubeIndexManager implements BeforeApplicationShutdown {
  private readonly logger = new Logger('CubeIndex');
  private readonly cubes = new Map<string, Promise<LoadedCube>>();
  /** Estimated bytes of each loaded index (ADR 0112): the cache is bounded by their sum as well as by their count. */
  private readonly sizes = new Map<string, number>();
  /** Each cached load once it has completed (what peek() reads without waiting). */
  private readonly completed = new WeakMap<Promise<LoadedCube>, LoadedCube>();
  /** Snapshot writes in flight, of cached and of evicted indexes: a shutdown waits for them all. */
  private readonly saves = new Set<Promise<void>>();
  /** Shutting down: background builds are stopped, so no snapshot is written again for a graph they would have linked. */
  private closing = false;

  constructor(
    private readonly memories: MemoryRepository,
    private readonly cubeRows: CubeRepository,
    @Inject(ENGRAM_CONFIG) private readonly config: EngramConfig,
  ) {}

  snapshotDir(cubeId: string): string {
    return path.join(this.config.dataDir, 'cubes', cubeId, 'hnsw');
  }

  /**
   * The cube's index and rows, current with every change committed before this call.
   * `knownChangeSeq`, the cube's highest change sequence read by the caller after the call
   * began, lets an index that already reflects it skip reading the change feed.
   */
  async current(cubeId: string, embedder: Embedder, knownChangeSeq?: number): Promise<{ index: CubeIndex }> {
    let loaded = this.cubes.get(cubeId);
    if (loaded) {
      const cube = await loaded;
      if (cube.fingerprint !== embedder.fingerprint) {
        this.evict(cubeId);
        loaded = undefined;
      }
    }
    if (!loaded) {
      const loading = this.load(cubeId, embedder, knownChangeSeq);
      loaded = loading;
      this.cubes.set(cubeId, loading);
      void loading.then(
        (cube) => {
          this.completed.set(loading, cube);
          this.measure(cubeId, loading, cube);
        },
        () => this.forget(cubeId, loading),
      );
      this.enforceCapacity();
    } else {
      // Most recently used last, for eviction.
      this.cubes.delete(cubeId);
      this.cubes.set(cubeId, loaded);
    }
    const cube = await loaded;
    if (knownChangeSeq === undefined || cube.seq < knownChangeSeq) {
      await this.sync(cubeId, cube);
      this.measure(cubeId, loaded, cube);
    }
    if (cube.erased) await this.dropErased(cubeId, cube); // this answer is already without it; the next one rebuilds
    return { index: cube.index };
  }

  /**
   * The cube's index as it is in memory now, without waiting or reading anything; null
   * while it loads, when it was built for another embedder, or with an erase pending. `seq`
   * is the change sequence it reflects: the caller compares it with the database's before
   * trusting an answer (search, ADR 0131).
   */
  peek(cubeId: string, fingerprint: string): { index: CubeIndex; seq: number } | null {
    const loaded = this.cubes.get(cubeId);
    const cube = loaded && this.completed.get(loaded);
    if (!loaded || !cube || cube.fingerprint !== fingerprint || cube.erased || cube.dropped) return null;
    // Most recently used last, for eviction.
    this.cubes.delete(cubeId);
    this.cubes.set(cubeId, loaded);
    return { index: cube.index, seq: cube.seq };
  }

  /**
   * Resolves when the cube's loaded index (if any) has no background work left: its graph
   * builds and its snapshot write (benchmarks and tests wait for this; requests never do).
   */
  async settled(cubeId: string): Promise<void> {
    const cube = await this.cubes.get(cubeId)?.catch(() => null);
    if (!cube) return;
    await cube.index.graphReady();
    while (cube.saving || cube.relinked) await (cube.saving ?? cube.relinked);
  }

  /** Forgets a cube's in-memory index (deleted cube, embedder change). */
  evict(cubeId: string): void {
    // A graph build of the dropped index stops (a save still in flight writes what it has).
    void this.cubes.get(cubeId)?.then((cube) => cube.index.close(), () => undefined);
    this.cubes.delete(cubeId);
    this.sizes.delete(cubeId);
  }

  /** Estimated bytes the loaded indexes hold together. */
  get cachedBytes(): number {
    let total = 0;
    for (const bytes of this.sizes.values()) total += bytes;
    return total;
  }

  /** How many cubes' indexes are in memory (or loading). */
  get cachedCubes(): number {
    return this.cubes.size;
  }

  /** Whether the cube's index is in memory (or loading): its next search loads nothing. */
  holds(cubeId: string): boolean {
    return this.cubes.has(cubeId);
  }

  /** Records the estimated size of a cube's index while it is still the cached one, then keeps the cache within its bounds. */
  private measure(cubeId: string, loaded: Promise<LoadedCube>, cube: LoadedCube): void {
    if (this.cubes.get(cubeId) !== loaded) return;
    this.sizes.set(cubeId, cube.index.approximateBytes());
    this.enforceCapacity();
  }

  private forget(cubeId: string, loaded: Promise<LoadedCube>): void {
    if (this.cubes.get(cubeId) !== loaded) return;
    this.cubes.delete(cubeId);
    this.sizes.delete(cubeId);
  }

  /**
   * Writes what the loaded indexes have not saved, and waits for the writes of evicted ones,
   * before any shutdown hook closes the database (a save checks the cube's row). Background
   * graph builds are stopped first:
   * a save otherwise waits for a cube's first graph (ADR 0114), which takes minutes at 1M, and
   * a shutdown must not. A snapshot saved without its graph loads and builds it again in the
   * background; one saved with a partly linked graph links the rest by a catch-up build.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    for (const pending of this.cubes.values()) (await pending.catch(() => null))?.index.close();
    for (const [cubeId, pending] of this.cubes) {
      const cube = await pending.catch(() => null);
      if (!cube) continue;
      await cube.saving;
      if (cube.changesSinceSave > 0) await this.save(cubeId, cube);
    }
    // Writes of indexes evicted meanwhile (their unsaved changes, or the first snapshot of a rebuilt one).
    while (this.saves.size > 0) await Promise.all([...this.saves]);
  }

  /**
   * Drops least recently used indexes while the cache holds more cubes, or more estimated
   * bytes, than configured; the most recently used one always stays (a cube larger than
   * the whole budget is still served).
   */
  private enforceCapacity(): void {
    const maxCubes = this.config.indexCacheCubes;
    const maxBytes = this.config.indexCacheBytes;
    let bytes = this.cachedBytes;
    while (this.cubes.size > 1 && (this.cubes.size > maxCubes || bytes > maxBytes)) {
      const oldest = this.cubes.keys().next().value as string;
      const evicted = this.cubes.get(oldest)!;
      this.cubes.delete(oldest);
      bytes -= this.sizes.get(oldest) ?? 0;
      this.sizes.delete(oldest);
      // A graph build of the dropped index stops (as on evict()); its changes since the last
      // save are written, so its next load replays none of them.
      void evicted
        .then((cube) => {
          cube.index.close();
          return cube.changesSinceSave > 0 ? this.save(oldest, cube) : undefined;
        })
        .catch(() => undefined);
    }
  }

  /**
   * Loads the cube's snapshot (or rebuilds from PostgreSQL) and replays the changes after it.
   * A whole snapshot at least as new as `knownChangeSeq` (the cube's highest change sequence,
   * read by the caller) has no changes after it: the change feed is not read, so a cold first
   * search costs the same database round trips as a warm one.
   */
  private async load(cubeId: string, embedder: Embedder, knownChangeSeq?: number): Promise<LoadedCube> {
    const started = Date.now();
    const index = new CubeIndex({ dimension: embedder.dimension, graphMinDocuments: this.config.indexGraphMinDocuments });
    const snapshot = await index.load(this.snapshotDir(cubeId), { fingerprint: embedder.fingerprint });
    // A whole saved index (documents and postings): only the changes after it are read.
    const whole = snapshot.documents;
    const snapshotSeq = snapshot.status === 'loaded' ? (snapshot.changeSeq ?? 0) : 0;
    if (snapshot.status === 'corrupt' || snapshot.status === 'mismatch') {
      this.logger.warn(`cube ${cubeId}: HNSW snapshot ${snapshot.status} (${snapshot.reason ?? ''}); rebuilding from PostgreSQL`);
    }
    const cube: LoadedCube = { index, fingerprint: embedder.fingerprint, seq: whole ? snapshotSeq : 0, changesSinceSave: 0, lock: Promise.resolve(), saving: null, erased: false, dropped: false, relinked: null };
    let applied = 0;
    let afterSnapshot = 0;
    let lastYield = performance.now();
    const current = whole && knownChangeSeq !== undefined && snapshotSeq >= knownChangeSeq;
    // A rebuild sizes the index once for its rows (ADR 0119): grown step by step, its large arrays leave holes in the RSS.
    if (!whole) index.reserve(await this.memories.countIndexed(cubeId));
    while (!current) {
      // Read in batches by change sequence; no connection is held while they are applied.
      const changes = await this.memories.changesSince(cubeId, cube.seq, SYNC_BATCH, snapshotSeq);
      if (!changes.length) break;
      for (const change of changes) {
        this.apply(cube, change, change.changeSeq > snapshotSeq, snapshot.status === 'loaded' && change.changeSeq > snapshotSeq);
        if (change.changeSeq > snapshotSeq) afterSnapshot++;
        // A large rebuild runs in slices so other requests (and /health) are served meanwhile.
        if (performance.now() - lastYield > YIELD_AFTER_MS) {
          await new Promise((resolve) => setImmediate(resolve));
          lastYield = performance.now();
        }
      }
      cube.seq = changes[changes.length - 1].changeSeq;
      applied += changes.length;
    }
    cube.changesSinceSave = afterSnapshot;
    this.logger.log(`cube ${cubeId}: index loaded (${snapshot.status}, ${index.size} documents) in ${Date.now() - started} ms`);
    // Rebuilt, or loaded from a snapshot without documents: write the whole index.
    if (!whole && applied > 0) void this.save(cubeId, cube);
    // Loaded, then as many changes replayed as make a sync write the snapshot: written, so the
    // next load does not replay them again.
    else if (this.dueForSave(cube)) void this.save(cubeId, cube);
    // Loaded with a graph that a catch-up build has to finish linking (a snapshot written
    // before this rule): written again once it has, so the next load does not repeat it.
    else if (this.graphBehind(cube)) this.saveWhenLinked(cubeId, cube, cube.index.graphUnlinked);
    return cube;
  }

  private async sync(cubeId: string, cube: LoadedCube): Promise<void> {
    const run = cube.lock.then(async () => {
      for (;;) {
        const changes = await this.memories.changesSince(cubeId, cube.seq, SYNC_BATCH, 0);
        if (!changes.length) return;
        for (const change of changes) this.apply(cube, change, true);
        cube.seq = changes[changes.length - 1].changeSeq;
        cube.changesSinceSave += changes.length;
        if (changes.length < SYNC_BATCH) break;
      }
      if (this.dueForSave(cube)) void this.save(cubeId, cube);
    });
    cube.lock = run.catch(() => undefined);
    await run;
  }

  private apply(cube: LoadedCube, change: MemoryChange, withVector: boolean, heldBySnapshot = false): void {
    // Erased after this index took it in (or after the snapshot it loaded): the graph may still hold the vector.
    if (change.erasedAt !== null && (cube.index.has(change.label) || heldBySnapshot)) cube.erased = true;
    if (change.state === 'deleted') {
      cube.index.remove(change.label);
      return;
    }
    const usable = change.embedding !== null && change.embedderFingerprint === cube.fingerprint;
    cube.index.upsert(toDocument(change, withVector && usable ? change.embedding! : undefined));
  }

  /** Drops an index that held an erased memory, and its snapshot: nothing derived keeps the vector or the text. */
  private async dropErased(cubeId: string, cube: LoadedCube): Promise<void> {
    cube.dropped = true;
    if (this.cubes.has(cubeId) && (await this.cubes.get(cubeId)) === cube) this.evict(cubeId);
    await cube.saving;
    await fs.rm(this.snapshotDir(cubeId), { recursive: true, force: true });
    this.logger.log(`cube ${cubeId}: a memory was erased; index dropped and snapshot deleted (rebuilt from PostgreSQL on next use)`);
  }

  /**
   * Writes the cube's HNSW snapshot; concurrent callers share the write in flight. Not for
   * a dropped index, nor for a cube deleted meanwhile (a save must not recreate the
   * directory a purge removed). The write takes the cube's lock: it is encoded in slices
   * that yield to the event loop (ADR 0115), so syncs wait for it to finish and the
   * snapshot is the index at one change sequence; searches that need no sync go on.
   */
  private save(cubeId: string, cube: LoadedCube): Promise<void> {
    if (cube.saving) return cube.saving;
    if (cube.dropped) return Promise.resolve();
    const write = (async () => {
      // A first graph being built is waited for before the lock: writes go on meanwhile.
      await cube.index.firstGraphReady();
      const previous = cube.lock;
      let release!: () => void;
      cube.lock = new Promise<void>((resolve) => (release = resolve));
      try {
        await previous;
        const row = await this.cubeRows.getAny(cubeId);
        if (!row || row.deletedAt !== null || cube.dropped) return;
        const seq = cube.seq;
        const pending = cube.changesSinceSave;
        const dir = this.snapshotDir(cubeId);
        // Read before the write: the catch-up only links more meanwhile.
        const unlinked = cube.index.graphUnlinked;
        const behind = this.graphBehind(cube);
        await cube.index.save(dir, { changeSeq: seq, fingerprint: cube.fingerprint });
        await fs.rm(path.join(dir, LEGACY_ROWS_FILE), { force: true });
        cube.changesSinceSave = Math.max(0, cube.changesSinceSave - pending);
        if (behind) this.saveWhenLinked(cubeId, cube, unlinked);
      } finally {
        release();
      }
    })();
    const saving = write
      .catch((error: unknown) => this.logger.warn(`cube ${cubeId}: could not save the HNSW snapshot: ${String(error)}`))
      .finally(() => {
        cube.saving = null;
        this.saves.delete(saving);
      });
    cube.saving = saving;
    this.saves.add(saving);
    return saving;
  }

  /** Whether the changes since the last snapshot are enough to write it again. */
  private dueForSave(cube: LoadedCube): boolean {
    return cube.changesSinceSave >= Math.max(SAVE_AFTER_CHANGES, cube.index.size / 10);
  }

  /** Whether the graph has more documents left to link than a load may link again by itself (as many as make a sync write the snapshot, or a hundredth of the cube). */
  private graphBehind(cube: LoadedCube): boolean {
    return cube.index.graphUnlinked > Math.max(SAVE_AFTER_CHANGES, cube.index.size / 100);
  }

  /** Writes the snapshot again when the graph build running now is over, unless the index was closed, dropped or evicted meanwhile. */
  private saveWhenLinked(cubeId: string, cube: LoadedCube, unlinked: number): void {
    if (cube.relinked) return;
    this.logger.log(`cube ${cubeId}: snapshot written with ${unlinked} documents not yet linked in its graph; written again once they are`);
    const relinked = cube.index
      .graphReady()
      .then(async () => {
        const current = await this.cubes.get(cubeId)?.catch(() => null);
        if (this.closing || current !== cube || cube.dropped) return;
        cube.relinked = null;
        await this.save(cubeId, cube);
      })
      .catch((error: unknown) => this.logger.warn(`cube ${cubeId}: could not save the linked graph: ${String(error)}`))
      .finally(() => {
        if (cube.relinked === relinked) cube.relinked = null;
      });
    cube.relinked = relinked;
  }
}

export function toDocument(m: MemoryChange, vector: Float32Array | undefined): IndexDocument {
  // The turn's position in its session, under the names clients use for it.
  const meta = m.metadata ?? {};
  const position = meta.turnIndex ?? meta.turn ?? meta.turn_index ?? meta.position;
  return {
    label: m.label,
    text: m.text,
    vector,
    kind: m.kind,
    role: m.role ?? undefined,
    tags: m.tags,
    metadata: m.metadata,
    sessionId: m.sessionId ?? undefined,
    position: typeof position === 'number' ? position : undefined,
    observedAt: m.observedAt?.getTime(),
    validFrom: m.validFrom?.getTime(),
    validTo: m.validTo?.getTime(),
    importance: m.importance ?? undefined,
    state: m.state,
  };
}
