import { memoryRoute, type RouteBlockState } from './memory-route';

const state = (level: number, fields: Partial<RouteBlockState> = {}): RouteBlockState => ({ level, written: true, holds: true, stale: false, newer: false, ...fields });

describe('memoryRoute', () => {
  it('attaches every level whose block holds the memory, fresh', () => {
    expect(memoryRoute(2, [state(1), state(2)])).toEqual({ attach: [true, true], leftOut: [], reason: null });
  });

  it('leaves out, level by level, a block that is unwritten, holds other memories, is stale, or is older than a retrieved memory it holds', () => {
    const decision = memoryRoute(4, [state(1, { stale: true }), state(2, { newer: true }), state(3, { holds: false }), state(4)]);
    expect(decision).toEqual({ attach: [false, false, false, true], leftOut: [{ level: 1, why: 'stale' }, { level: 2, why: 'memory-newer' }, { level: 3, why: 'not-holding' }], reason: null });
    expect(memoryRoute(2, [state(1)]).leftOut).toEqual([{ level: 2, why: 'unwritten' }]);
  });

  it('says why the bank stays silent: no block holds the memory, or every one that does is stale', () => {
    expect(memoryRoute(2, [state(1, { holds: false }), state(2, { written: false, holds: false })]).reason).toBe('not-consolidated');
    expect(memoryRoute(2, []).reason).toBe('not-consolidated');
    expect(memoryRoute(2, [state(1, { stale: true }), state(2, { holds: false })]).reason).toBe('stale');
  });
});
