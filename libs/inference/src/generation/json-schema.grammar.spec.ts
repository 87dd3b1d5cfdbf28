import { shortestCompletion } from './json-schema.completion';
import { advance, compileSchema, initialStacks, SchemaError, Stack } from './json-schema.grammar';
import { mulberry32 } from '../tiny/seeded-random';

const PAIR = {
  type: 'object',
  additionalProperties: false,
  required: ['relation', 'merged_text'],
  properties: { relation: { type: 'string', enum: ['duplicate', 'update', 'contradiction', 'independent'] }, merged_text: { type: ['string', 'null'] } },
};
const FACTS = {
  type: 'object',
  additionalProperties: false,
  required: ['facts'],
  properties: {
    facts: {
      type: 'array',
      maxItems: 3,
      items: { type: 'object', additionalProperties: false, required: ['text', 'subject'], properties: { text: { type: 'string' }, subject: { type: 'string', minLength: 2 }, score: { type: 'number' } } },
    },
  },
};

const accepts = (schema: unknown, text: string) => {
  const stacks = advance(initialStacks(compileSchema(schema)), text);
  return stacks !== null && shortestCompletion(stacks) === '';
};
const prefixOk = (schema: unknown, text: string) => advance(initialStacks(compileSchema(schema)), text) !== null;

/** A structural check of a parsed value against the (test) schemas above. */
function conforms(schema: Record<string, unknown>, value: unknown): boolean {
  if (schema.enum) return (schema.enum as unknown[]).includes(value);
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  return types.some((t) => {
    if (t === 'null') return value === null;
    if (t === 'string') return typeof value === 'string' && value.length >= ((schema.minLength as number) ?? 0);
    if (t === 'number') return typeof value === 'number';
    if (t === 'integer') return Number.isInteger(value);
    if (t === 'boolean') return typeof value === 'boolean';
    if (t === 'array') return Array.isArray(value) && value.length <= ((schema.maxItems as number) ?? Infinity) && value.every((v) => conforms(schema.items as Record<string, unknown>, v));
    if (t === 'object') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
      const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
      const extra = schema.additionalProperties as Record<string, unknown> | false | undefined;
      const keys = Object.keys(value);
      const valueSchema = (k: string) => props[k] ?? (extra || null);
      return ((schema.required as string[] | undefined) ?? []).every((r) => keys.includes(r)) && keys.every((k) => valueSchema(k) !== null && conforms(valueSchema(k)!, (value as Record<string, unknown>)[k]));
    }
    return false;
  });
}

describe('JSON schema grammar', () => {
  it('never lengthens the shortest completion by more than one character per character written (the budget relies on it)', () => {
    // Free keys beside a required property: the completion inside a key may grow the key into the property.
    const alphabet = [...'{}[]",:0123456789-xyzab'];
    for (const schema of [{ type: 'object', properties: { x: { type: 'integer' } }, required: ['x'] }, { type: 'object', properties: { xy: { type: 'array', minItems: 2, items: { type: 'integer' } } }, required: ['xy'], additionalProperties: { type: 'string' } }]) {
      const random = mulberry32(11);
      for (let walk = 0; walk < 60; walk++) {
        let stacks: Stack[] = initialStacks(compileSchema(schema));
        let text = '';
        for (let step = 0; step < 40; step++) {
          const before = shortestCompletion(stacks);
          if (before === '') break;
          // Its first character leads to a state whose completion is the rest of it.
          const first = advance(stacks, before[0]);
          expect([text, first !== null && shortestCompletion(first).length <= before.length - 1]).toEqual([text, true]);
          const options = alphabet.filter((c) => advance(stacks, c) !== null);
          if (!options.length) break;
          const c = options[Math.floor(random() * options.length)];
          stacks = advance(stacks, c)!;
          text += c;
        }
      }
    }
  });

  it('accepts documents of the schema and refuses what it forbids', () => {
    expect(accepts(PAIR, '{"relation":"update","merged_text":null}')).toBe(true);
    expect(accepts(PAIR, '{"merged_text":"Kai likes \\"green\\" tea \\u00e9","relation":"duplicate"}')).toBe(true);
    expect(prefixOk(PAIR, '{"relation":"updated"')).toBe(false); // not in the enum
    expect(prefixOk(PAIR, '{"relation":"update","extra"')).toBe(false); // additionalProperties false
    expect(prefixOk(PAIR, '{"relation":"update"}')).toBe(false); // merged_text is required
    expect(prefixOk(PAIR, '{ "relation"')).toBe(false); // compact: no whitespace between tokens
    expect(prefixOk(PAIR, '{"relation":"update","relation"')).toBe(false); // a key once
    expect(accepts(FACTS, '{"facts":[{"text":"a","subject":"Kai","score":-1.5e+3}]}')).toBe(true);
    expect(prefixOk(FACTS, '{"facts":[{"text":"a","subject":"K"}')).toBe(false); // minLength 2
    expect(prefixOk(FACTS, '{"facts":[{"text":"","subject":"ab","score":01')).toBe(false); // leading zero
    expect(prefixOk(FACTS, `{"facts":[${Array(4).fill('{"text":"","subject":"ab"}').join(',')}`)).toBe(false); // maxItems 3
    expect(accepts({ type: 'object' }, '{"any":[1,{"x":null}],"b":"c"}')).toBe(true); // json_object mode
    expect(accepts({ type: 'integer' }, '-120')).toBe(true);
    expect(prefixOk({ type: 'integer' }, '1.5')).toBe(false);
  });

  it('names the unsupported keyword or bad value, with its path', () => {
    expect(() => compileSchema({ type: 'object', properties: { a: { type: 'string', pattern: '^x' } } })).toThrow(new SchemaError('schema.properties.a.pattern', 'the keyword "pattern" is not supported for structured output'));
    expect(() => compileSchema({ type: 'fish' })).toThrow(/schema.type: unknown type "fish"/);
    expect(() => compileSchema({ type: 'object', required: ['x'], additionalProperties: false })).toThrow(/"x" is required but not a property/);
    expect(() => compileSchema({ type: 'array', minItems: 3, maxItems: 1 })).toThrow(/maxItems: is below minItems/);
  });

  it('finishes any prefix with its shortest completion into a valid document', () => {
    const alphabet = [...'{}[]",:0123456789-.eE+ntrufalsebdxyzKai\\'];
    for (const schema of [PAIR, FACTS, { type: 'object', additionalProperties: { type: 'array', items: { type: ['integer', 'boolean'] } } }]) {
      const random = mulberry32(7);
      for (let walk = 0; walk < 60; walk++) {
        let stacks: Stack[] = initialStacks(compileSchema(schema));
        let text = '';
        for (let step = 0; step < 80; step++) {
          // A random character the grammar allows (or stop when none of the alphabet does).
          const options = alphabet.filter((c) => advance(stacks, c) !== null);
          if (!options.length) break;
          const c = options[Math.floor(random() * options.length)];
          stacks = advance(stacks, c)!;
          text += c;
          const done = text + shortestCompletion(stacks);
          const parsed: unknown = JSON.parse(done);
          expect([done, conforms(schema, parsed)]).toEqual([done, true]);
          if (shortestCompletion(stacks) === '') break;
        }
      }
    }
  });
});
