import { CubeIndex } from './cube-index';
import { HashEmbedder } from './embedding/hash.embedder';
import { compileFilter, MemoryFilter } from './filter/memory-filter';

/** Metadata filters start from attribute lists; they must admit exactly what the predicate admits. */
describe('metadata filters over attribute lists', () => {
  const embedder = new HashEmbedder({ dimension: 32 });
  const long = 'x'.repeat(300);
  const values: unknown[] = [1, '1', 2, true, false, null, 'red', 'blue', long, [1], { a: 1 }];
  const index = new CubeIndex({ dimension: 32 });
  const docs = Array.from({ length: 400 }, (_, i) => {
    const metadata: Record<string, unknown> = {};
    if (i % 5 !== 0) metadata.colour = values[i % values.length];
    if (i % 3 === 0) metadata.level = values[(i * 7) % values.length];
    return { label: i + 1, text: `memory number ${i} about ${i % 2 ? 'cats' : 'dogs'}`, metadata };
  });
  for (const d of docs) index.upsert({ ...d, vector: embedder.embedOne(d.text) });
  // Removed documents must not come back through a stale list entry.
  for (let label = 1; label <= 400; label += 11) index.remove(label);
  const live = docs.filter((d) => (d.label - 1) % 11 !== 0);

  const filters: MemoryFilter[] = [
    { metadata: { colour: 1 } },
    { metadata: { colour: '1' } },
    { metadata: { colour: null } },
    { metadata: { colour: { in: ['red', true, null] } } },
    { metadata: { colour: long } },
    { metadata: { colour: 'red', level: { in: [2, 'blue'] } } },
    { metadata: { missing: 'x' } },
  ];

  it.each(filters.map((f) => [JSON.stringify(f).slice(0, 60), f]))('%s admits exactly the matching memories', (_name, filter) => {
    const predicate = compileFilter(filter as MemoryFilter);
    const expected = live.filter((d) => predicate({ metadata: d.metadata })).map((d) => d.label).sort((a, b) => a - b);
    const got = index
      .search('memory cats dogs', embedder.embedOne('memory cats dogs'), { topK: 500, filter: filter as MemoryFilter })
      .map((h) => h.label)
      .sort((a, b) => a - b);
    expect(got).toEqual(expected);
  });
});
