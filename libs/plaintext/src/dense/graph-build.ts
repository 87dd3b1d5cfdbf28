// Building an int8 HNSW graph over a store without blocking the event loop (ADR 0114): the
// slots are inserted in slices of a few milliseconds, each followed by a turn of the event
// loop (setImmediate), so searches and writes of every cube keep being served while a big
// cube's graph is built. The build walks the slots in order up to the store's current end,
// so documents written meanwhile are picked up; removed ones are skipped (or, if already
// linked, marked removed by the owner as usual). The first slice runs at once: a small
// build finishes before start() returns.
import { performance } from 'node:perf_hooks';
import { Int8Hnsw } from './int8-hnsw';

/** Milliseconds of inserts per slice: the longest the event loop waits on a build. */
export const BUILD_SLICE_MS = 8;

export class GraphBuild {
  private cancelled = false;
  /** The longest slice so far, in wall milliseconds (what the event loop waited on the build at most). */
  longestSliceMs = 0;
  private finished = false;
  readonly done: Promise<void>;
  private resolve!: () => void;

  constructor(
    readonly graph: Int8Hnsw,
    /** The slot after the last one to link (read at every slice: it grows as documents arrive). */
    private readonly end: () => number,
    /** Called once, synchronously, when every slot up to end() is linked. */
    private readonly onDone: (graph: Int8Hnsw) => void,
    private readonly sliceMs = BUILD_SLICE_MS,
    /** The first slot to consider (a catch-up starts at the first one written unlinked). */
    private cursor = 0,
  ) {
    this.done = new Promise((resolve) => (this.resolve = resolve));
  }

  /** Runs the first slice now and schedules the rest. */
  start(): this {
    this.slice();
    return this;
  }

  /** Runs the first slice at the next turn of the event loop. */
  schedule(): this {
    setImmediate(() => this.slice());
    return this;
  }

  /** The next slot to consider: every slot below it with a vector is linked. */
  get cursorAt(): number {
    return this.cursor;
  }

  /** Whether the graph holds every slot up to end(). */
  get complete(): boolean {
    return this.finished;
  }

  /** Stops after the current slice; `done` resolves without onDone. */
  cancel(): void {
    if (this.finished || this.cancelled) return;
    this.cancelled = true;
    this.resolve();
  }

  /** Share of the slots up to end() already walked. */
  get progress(): number {
    const end = this.end();
    return end === 0 ? 1 : Math.min(1, this.cursor / end);
  }

  private slice(): void {
    if (this.cancelled) return;
    const started = performance.now();
    const deadline = started + this.sliceMs;
    const store = this.graph.store;
    let end = this.end();
    while (this.cursor < end) {
      const slot = this.cursor++;
      if (!store.has(slot) || this.graph.holds(slot)) continue;
      this.graph.insert(slot);
      if (performance.now() >= deadline) break;
      end = this.end();
    }
    this.longestSliceMs = Math.max(this.longestSliceMs, performance.now() - started);
    if (this.cursor >= this.end()) {
      this.finished = true;
      this.onDone(this.graph);
      this.resolve();
      return;
    }
    setImmediate(() => this.slice());
  }
}
