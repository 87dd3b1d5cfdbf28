// Routing a chat through a bank by memory, not by text (issue 14, ADR 0403): the memory
// retrieval ranked best decides the path (the tree leaf its text was assigned to), and a
// level's block is attached only when it holds that memory, is fresh, and no retrieved
// memory it holds changed after it was written. A question whose answer the bank does not
// hold at its current value gets no block: the text in the prompt answers it. Pure, so the
// server (rows from PostgreSQL) and bench:memory-os (the sidecar's records) share it.

/** What routing needs to know of the block at one level of the best memory's path. */
export interface RouteBlockState {
  /** 1-based level. */
  level: number;
  /** The block was written (a provenance record exists). */
  written: boolean;
  /** The block holds the best retrieved memory. */
  holds: boolean;
  stale: boolean;
  /** A retrieved memory the block holds changed after the block was written. */
  newer: boolean;
}

/** Why a level's block is not attached. */
export type LeftOutReason = 'unwritten' | 'not-holding' | 'stale' | 'memory-newer';

export interface MemoryRouteDecision {
  /** Per level (index level - 1): attach the block. */
  attach: boolean[];
  leftOut: Array<{ level: number; why: LeftOutReason }>;
  /** When nothing is attached: why the bank does not speak ('not-consolidated' when no block of the path holds the memory). */
  reason: 'not-consolidated' | 'stale' | null;
}

export function memoryRoute(levels: number, states: readonly RouteBlockState[]): MemoryRouteDecision {
  const byLevel = new Map(states.map((s) => [s.level, s]));
  const attach: boolean[] = [];
  const leftOut: MemoryRouteDecision['leftOut'] = [];
  for (let level = 1; level <= levels; level++) {
    const s = byLevel.get(level);
    const why: LeftOutReason | null = !s?.written ? 'unwritten' : !s.holds ? 'not-holding' : s.stale ? 'stale' : s.newer ? 'memory-newer' : null;
    attach.push(why === null);
    if (why) leftOut.push({ level, why });
  }
  if (attach.some(Boolean)) return { attach, leftOut, reason: null };
  const holds = states.some((s) => s.written && s.holds);
  return { attach, leftOut, reason: holds ? 'stale' : 'not-consolidated' };
}
