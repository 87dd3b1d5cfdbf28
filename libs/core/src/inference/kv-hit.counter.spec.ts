import { KvHitCounter } from './kv-hit.counter';

describe('KvHitCounter', () => {
  it('counts hits per tier and misses per cube, apart from other cubes', () => {
    const counter = new KvHitCounter();
    counter.record('cube-a', ['ram', 'ram', 'disk'], 1);
    counter.record('cube-a', [], 3);
    counter.record('cube-b', ['object'], 0);
    expect(counter.of('cube-a')).toMatchObject({ hits: { ram: 2, disk: 1, object: 0 }, misses: 4 });
    expect(counter.of('cube-b')).toMatchObject({ hits: { ram: 0, disk: 0, object: 1 }, misses: 0 });
    expect(counter.of('cube-c')).toMatchObject({ hits: { ram: 0, disk: 0, object: 0 }, misses: 0 });
  });

  it('ignores tiers it does not know and negative misses', () => {
    const counter = new KvHitCounter();
    counter.record('cube-a', ['missing', 'ram'], -2);
    expect(counter.of('cube-a')).toMatchObject({ hits: { ram: 1, disk: 0, object: 0 }, misses: 0 });
  });

  it('hands out copies, not its own counters', () => {
    const counter = new KvHitCounter();
    counter.record('cube-a', ['ram'], 0);
    counter.of('cube-a').hits.ram = 99;
    expect(counter.of('cube-a').hits.ram).toBe(1);
  });
});
