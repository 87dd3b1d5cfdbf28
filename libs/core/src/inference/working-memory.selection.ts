// Which memories make the working memory, and how it is rendered (pure; ADR 0402).
// The order rendered is stable, not by heat: memories keep their place from the previous
// generation and newcomers are appended (oldest first), so a change rewrites the text only
// from the first memory that left or changed, and the chained chunk keys let a rebuild
// reuse every chunk before it.

export const WORKING_MEMORY_HEADER = 'Working memory:';

export interface WorkingMemoryCandidate {
  id: string;
  text: string;
  pinned: boolean;
  createdAt: Date;
  heat: number;
}

export interface WorkingMemorySelection {
  memories: WorkingMemoryCandidate[];
  text: string;
}

export function renderWorkingMemory(memories: readonly Pick<WorkingMemoryCandidate, 'text'>[]): string {
  return [WORKING_MEMORY_HEADER, ...memories.map((m) => `- ${m.text.replace(/\s*\n\s*/g, ' ')}`)].join('\n');
}

/** Survivors of the previous generation in their old order, then newcomers by age. */
function stableOrder(previous: ReadonlyMap<string, number>): (a: WorkingMemoryCandidate, b: WorkingMemoryCandidate) => number {
  return (a, b) => {
    const pa = previous.get(a.id) ?? Number.MAX_SAFE_INTEGER;
    const pb = previous.get(b.id) ?? Number.MAX_SAFE_INTEGER;
    return pa - pb || a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id);
  };
}

/**
 * Pinned memories, then the hottest, while the rendered prefix stays within `maxTokens`
 * (`prefixTokens` counts the text as the model's memory prefix: template included). A
 * memory too long to fit is skipped, and a shorter, colder one may take its place.
 * `candidates` come pinned first, then by heat, as WorkingMemoryRepository.candidates gives them;
 * `previousOrder` is the previous generation's memories, in the order rendered.
 */
export function selectWorkingMemory(
  candidates: readonly WorkingMemoryCandidate[],
  maxTokens: number,
  countTokens: (text: string) => number,
  prefixTokens: (text: string) => number,
  previousOrder: readonly string[] = [],
): WorkingMemorySelection | null {
  const overhead = prefixTokens(renderWorkingMemory([])) - countTokens(WORKING_MEMORY_HEADER);
  let used = overhead + countTokens(WORKING_MEMORY_HEADER);
  const chosen: WorkingMemoryCandidate[] = [];
  for (const c of candidates) {
    const cost = countTokens(`- ${c.text}`) + 1;
    if (used + cost > maxTokens) continue;
    chosen.push(c);
    used += cost;
  }
  // Counted line by line, the joined text can tokenize a little longer: drop the coldest until it fits.
  const order = stableOrder(new Map(previousOrder.map((id, i) => [id, i])));
  let memories = [...chosen].sort(order);
  while (memories.length > 0 && prefixTokens(renderWorkingMemory(memories)) > maxTokens) {
    const coldest = chosen.pop()!;
    memories = memories.filter((m) => m !== coldest);
  }
  if (memories.length === 0) return null;
  return { memories, text: renderWorkingMemory(memories) };
}
