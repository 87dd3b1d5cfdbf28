import { EngramError } from '../errors/engram.error';
import { parseMemoryFilter } from './memory-filter.parser';

describe('parseMemoryFilter', () => {
  it('parses every known filter', () => {
    const parsed = parseMemoryFilter({
      kind: 'fact',
      tags: { any: ['a'], all: ['b', 'c'] },
      metadata: { project: 'x', level: { in: [1, 2] } },
      state: ['active', 'archived'],
      observedAfter: '2024-01-01T00:00:00Z',
      validAt: '2024-06-01T00:00:00Z',
      sessionId: 's1',
    });
    expect(parsed).toMatchObject({
      kinds: ['fact'],
      tagsAny: ['a'],
      tagsAll: ['b', 'c'],
      metadata: { project: 'x', level: { in: [1, 2] } },
      states: ['active', 'archived'],
      sessionIds: ['s1'],
    });
    expect(parsed.observedAfter?.toISOString()).toBe('2024-01-01T00:00:00.000Z');
  });

  it('treats a plain tag list as "any"', () => {
    expect(parseMemoryFilter({ tags: ['x', 'y'] })).toEqual({ tagsAny: ['x', 'y'] });
  });

  it('refuses tags: {} (it filtered nothing, so every memory came back)', () => {
    expect(() => parseMemoryFilter({ tags: {} })).toThrow(EngramError);
    try {
      parseMemoryFilter({ tags: {} });
    } catch (e) {
      expect((e as EngramError).details).toEqual([{ field: 'filters.tags', problems: ['tags takes { any: [...] } and/or { all: [...] }: give at least one'] }]);
    }
  });

  it('names an unknown filter key, a bad date and a bad kind together', () => {
    let error: EngramError | undefined;
    try {
      parseMemoryFilter({ colour: 'red', observedBefore: 'yesterday', kind: 'rumour' });
    } catch (e) {
      error = e as EngramError;
    }
    const fields = (error?.details as { field: string }[]).map((d) => d.field);
    expect(fields.sort()).toEqual(['filters.colour', 'filters.kind', 'filters.observedBefore']);
  });

  it('does not admit deleted memories to search', () => {
    expect(() => parseMemoryFilter({ state: 'deleted' })).toThrow(EngramError);
    expect(parseMemoryFilter({ state: 'deleted' }, { allowDeleted: true })).toEqual({ states: ['deleted'] });
  });

  it('refuses more metadata conditions than the index can intersect, naming the limit', () => {
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]));
    expect(() => parseMemoryFilter({ metadata: many })).toThrow(/at most 64 keys \(got 300\)/);
    expect(Object.keys(parseMemoryFilter({ metadata: Object.fromEntries(Object.entries(many).slice(0, 64)) }).metadata ?? {})).toHaveLength(64);
  });

  it('keeps a metadata condition on a key named __proto__', () => {
    const parsed = parseMemoryFilter(JSON.parse('{"metadata": {"__proto__": "x", "a": 1}}'));
    expect(Object.entries(parsed.metadata ?? {})).toEqual([['__proto__', 'x'], ['a', 1]]);
  });
});
