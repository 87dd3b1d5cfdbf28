import { timeOrderedIds } from './time-ordered-id';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const millis = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('timeOrderedIds', () => {
  it('makes version-7 UUIDs that carry the time in milliseconds', () => {
    const now = Date.UTC(2026, 10, 29, 17, 30, 0, 123);
    const ids = timeOrderedIds(500, now);
    expect(ids).toHaveLength(500);
    for (const id of ids) {
      expect(id).toMatch(V7);
      expect(millis(id)).toBeGreaterThanOrEqual(now);
    }
    expect(new Set(ids).size).toBe(500);
  });

  it('sorts a later batch after an earlier one', () => {
    const first = timeOrderedIds(100, Date.UTC(2027, 0, 1));
    const second = timeOrderedIds(100, Date.UTC(2027, 0, 1) + 1);
    expect(Math.max(...first.map(millis))).toBeLessThan(Math.min(...second.map(millis)));
    expect([...first].sort()[first.length - 1] < [...second].sort()[0]).toBe(true);
  });

  it('does not go back in time when the clock does', () => {
    const ahead = timeOrderedIds(1, Date.UTC(2028, 0, 1))[0];
    const behind = timeOrderedIds(1, Date.UTC(2027, 6, 1))[0];
    expect(millis(behind)).toBe(millis(ahead));
  });

  it('fills the random part (no two batches alike)', () => {
    const a = timeOrderedIds(1, Date.UTC(2029, 0, 1))[0];
    const b = timeOrderedIds(1, Date.UTC(2029, 0, 1))[0];
    expect(a).not.toBe(b);
  });
});
