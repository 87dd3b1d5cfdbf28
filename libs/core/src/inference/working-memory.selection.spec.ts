import { renderWorkingMemory, selectWorkingMemory, WorkingMemoryCandidate, WORKING_MEMORY_HEADER } from './working-memory.selection';

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;
/** A template adding 3 tokens around the text. */
const prefix = (text: string) => words(text) + 3;
const day = (n: number) => new Date(Date.UTC(2026, 0, n));
const candidate = (id: string, text: string, heat: number, created: number, pinned = false): WorkingMemoryCandidate => ({ id, text, heat, pinned, createdAt: day(created) });

describe('working memory selection', () => {
  it('takes pinned memories, then the hottest that fit, and renders a first generation oldest first', () => {
    const picked = selectWorkingMemory(
      [candidate('p', 'pinned fact', 0.1, 9, true), candidate('hot', 'hot fact here', 5, 3), candidate('warm', 'warm fact', 2, 1), candidate('cold', 'cold fact', 0.5, 2)],
      3 + 2 + 4 + 5 + 4, // template, header, and the pinned, hot and warm lines (each: its words and a newline)
      words,
      prefix,
    );
    expect(picked?.memories.map((m) => m.id)).toEqual(['warm', 'hot', 'p']);
    expect(picked?.text).toBe(`${WORKING_MEMORY_HEADER}\n- warm fact\n- hot fact here\n- pinned fact`);
    expect(prefix(picked!.text)).toBeLessThanOrEqual(18);
    expect(selectWorkingMemory([candidate('hot', 'hot fact here', 5, 3), candidate('warm', 'warm fact', 2, 1)], 3 + 2 + 5, words, prefix)?.memories.map((m) => m.id)).toEqual(['hot']);
  });

  it('skips a memory too long for the room left and takes a shorter, colder one', () => {
    const picked = selectWorkingMemory([candidate('long', 'a b c d e f g h i j', 9, 1), candidate('short', 'tiny', 1, 2)], 10, words, prefix);
    expect(picked?.memories.map((m) => m.id)).toEqual(['short']);
  });

  it('keeps the rendering stable when a memory turns hot: only the text after its place changes', () => {
    const a = candidate('a', 'first', 1, 1);
    const b = candidate('b', 'second', 1, 2);
    const c = candidate('c', 'third', 1, 3);
    const before = selectWorkingMemory([a, b, c], 100, words, prefix)!.text;
    const after = selectWorkingMemory([{ ...c, heat: 9 }, a, b], 100, words, prefix)!.text;
    expect(after).toBe(before);
  });

  it('keeps the previous generation\'s order and appends newcomers, so a change rewrites only from its own place', () => {
    const a = candidate('a', 'first', 1, 5);
    const b = candidate('b', 'second', 1, 6);
    const old = candidate('old', 'an older one', 0.5, 1);
    const picked = selectWorkingMemory([b, a, old], 100, words, prefix, ['b', 'gone', 'a']);
    expect(picked?.memories.map((m) => m.id)).toEqual(['b', 'a', 'old']);
  });

  it('drops the coldest when the joined text counts longer than its lines', () => {
    const joinedCostsMore = (text: string) => prefix(text) + (text.includes('\n- ') ? text.split('\n- ').length : 0);
    const picked = selectWorkingMemory([candidate('a', 'one', 3, 1), candidate('b', 'two', 2, 2), candidate('c', 'three', 1, 3)], 11, words, joinedCostsMore);
    expect(joinedCostsMore(picked!.text)).toBeLessThanOrEqual(11);
    expect(picked!.memories.map((m) => m.id)).toEqual(['a']);
  });

  it('is null when nothing fits', () => {
    expect(selectWorkingMemory([candidate('a', 'a b c d e f', 1, 1)], 6, words, prefix)).toBeNull();
    expect(renderWorkingMemory([])).toBe(WORKING_MEMORY_HEADER);
  });
});
