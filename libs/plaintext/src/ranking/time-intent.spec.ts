import { parseTimeIntent } from './time-intent';

const REF = Date.UTC(2024, 4, 15, 12); // Wednesday 15 May 2024
const DAY = 86_400_000;

describe('parseTimeIntent', () => {
  it('reads "latest" and "first" as directions', () => {
    expect(parseTimeIntent('What is my latest score?').direction).toBe('recent');
    expect(parseTimeIntent('Which car did I buy first?').direction).toBe('earliest');
    expect(parseTimeIntent('Tips for my garden').direction).toBeUndefined();
  });

  it('turns "N weeks ago" into a window around that day', () => {
    const w = parseTimeIntent('What did I cook two weeks ago?', REF).window!;
    expect(w.start).toBeLessThan(REF - 14 * DAY);
    expect(w.end).toBeGreaterThan(REF - 14 * DAY);
    expect(w.end).toBeLessThan(REF);
  });

  it('resolves "last Saturday" relative to the reference time', () => {
    const w = parseTimeIntent('Where did I go last Saturday?', REF).window!;
    const saturday = REF - 4 * DAY;
    expect(w.start).toBeLessThanOrEqual(saturday);
    expect(w.end).toBeGreaterThan(saturday);
  });

  it('puts a named month in the past year', () => {
    const w = parseTimeIntent('What did I read in August?', REF).window!;
    expect(new Date(w.start + 5 * DAY).getUTCFullYear()).toBe(2023);
  });

  it('leaves plans ("this weekend") and queries without a reference time alone', () => {
    expect(parseTimeIntent('What should I cook this weekend?', REF).window).toBeUndefined();
    expect(parseTimeIntent('What did I do yesterday?').window).toBeUndefined();
  });
});
