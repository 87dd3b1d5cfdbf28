import { MAX_JSON_DEPTH, unstorableInput } from './validation.pipe';

function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) value = { a: value };
  return value;
}

describe('unstorableInput', () => {
  it('finds nothing in ordinary input', () => {
    expect(unstorableInput({ items: [{ text: 'Alice 👩‍🔬 likes tea', metadata: { n: 1, tags: ['x'], deep: { ok: null } } }] })).toEqual([]);
  });

  it('names reserved keys and the NUL character in document order', () => {
    const body = JSON.parse('{"items":[{"text":"ok"},{"text":"a\\u0000b"},{"metadata":{"k\\u0000":1,"__proto__":2,"note":"x\\u0000"}}]}');
    expect(unstorableInput(body)).toEqual([
      { field: 'items.1.text', problems: [expect.stringMatching(/NUL character/)] },
      { field: 'items.2.metadata.k\u0000', problems: [expect.stringMatching(/^key must not contain the NUL character/)] },
      { field: 'items.2.metadata.__proto__', problems: [expect.stringMatching(/reserved/)] },
      { field: 'items.2.metadata.note', problems: [expect.stringMatching(/NUL character/)] },
    ]);
  });

  it.each([
    ['a lone high surrogate', 'lone \ud800 surrogate'],
    ['a lone low surrogate', 'lone \udc00 surrogate'],
    ['a high surrogate at the end', 'end \ud83d'],
    ['a reversed pair', '\ude00\ud83d'],
  ])('names %s in a string', (_name, text) => {
    expect(unstorableInput({ items: [{ text }] })).toEqual([{ field: 'items.0.text', problems: [expect.stringMatching(/lone UTF-16 surrogate/)] }]);
  });

  it('names a lone surrogate in a key', () => {
    expect(unstorableInput({ metadata: { ['k\udfff']: 1 } })).toEqual([{ field: 'metadata.k\udfff', problems: [expect.stringMatching(/^key must not contain a lone UTF-16 surrogate/)] }]);
  });

  it('accepts surrogate pairs (emoji and other astral characters)', () => {
    expect(unstorableInput({ text: '\ud83d\ude00 𝄞 \u{10ffff}' })).toEqual([]);
  });

  it(`accepts nesting of ${MAX_JSON_DEPTH} levels and refuses one more, naming the field by its first segments`, () => {
    expect(unstorableInput(nested(MAX_JSON_DEPTH))).toEqual([]);
    expect(unstorableInput({ items: [{ metadata: nested(MAX_JSON_DEPTH - 3) }] })).toEqual([]);
    expect(unstorableInput({ items: [{ metadata: nested(MAX_JSON_DEPTH - 2) }] })).toEqual([
      { field: 'items.0.metadata.a.a.a.a.a', problems: [`nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep (from the body)`] },
    ]);
  });

  it('walks very deep input without overflowing the stack', () => {
    expect(unstorableInput({ metadata: nested(200_000) })).toEqual([{ field: 'metadata.a.a.a.a.a.a.a', problems: [expect.stringMatching(/more than/)] }]);
    let list: unknown[] = [];
    for (let i = 0; i < 200_000; i++) list = [list];
    expect(unstorableInput({ filters: list })).toHaveLength(1);
  });

  it('stops at 20 problems', () => {
    expect(unstorableInput({ items: Array.from({ length: 50 }, () => ({ text: '\u0000' })) })).toHaveLength(20);
  });
});
