import { mulberry32 } from '../tiny/seeded-random';
import { JsonSchemaConstraint } from './json-constraint';
import { shortestCompletion } from './json-schema.completion';
import { advance, compileSchema, initialStacks, Stack } from './json-schema.grammar';
import { buildVocabTrie } from './vocab-trie';

/** A vocabulary with what makes JSON hard: shared prefixes, quotes and escapes inside tokens, digits, unicode, empty and duplicate texts. */
function syntheticVocabulary(size: number, seed: number): string[] {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const letters = 'abcdefghijklmnopqrstuvwxyzAEKT';
  const word = (n: number) => Array.from({ length: n }, () => pick([...letters])).join('');
  const punct = ['"', '{', '}', '[', ']', ',', ':', '\\', '\\"', '\\u00', 'n', '-', '.', 'e', '+', '0', '\n', ' '];
  const texts = ['', '', ...'{}[]",:\\-.0123456789eE+ntrufalsabcdxyz'.split(''), '{"', '":"', '","', '"}', '"]', '"}]', 'null', 'true', 'false', 'é', '日本', '😀', '"relation', 'relation', '"facts":[', 'duplicate'];
  while (texts.length < size) {
    const r = rand();
    if (r < 0.3) texts.push(` ${word(1 + Math.floor(rand() * 8))}`);
    else if (r < 0.55) texts.push(word(1 + Math.floor(rand() * 6)));
    else if (r < 0.7) texts.push(String(Math.floor(rand() * 10 ** (1 + Math.floor(rand() * 4)))));
    else if (r < 0.9) texts.push(Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(punct)).join(''));
    else texts.push(pick(['é', 'ü', '日', '😀', 'ß']) + word(Math.floor(rand() * 3)));
  }
  return texts;
}

const SCHEMAS: unknown[] = [
  {
    type: 'object',
    additionalProperties: false,
    required: ['relation', 'merged_text'],
    properties: { relation: { type: 'string', enum: ['duplicate', 'update', 'contradiction', 'independent'] }, merged_text: { type: ['string', 'null'] } },
  },
  {
    type: 'object',
    additionalProperties: false,
    required: ['facts'],
    properties: { facts: { type: 'array', maxItems: 3, items: { type: 'object', additionalProperties: false, required: ['text', 'who'], properties: { text: { type: 'string', maxLength: 12 }, who: { type: 'string', minLength: 4 }, n: { type: 'integer' }, score: { type: 'number' } } } } },
  },
  { type: 'object' },
  { type: 'array', minItems: 2, items: { anyOf: [{ type: 'integer' }, { const: 'x' }] } },
];

/** The decoding step as it was before the trie: every token's text fed from the stacks. */
function scanAllowed(stacks: Stack[], texts: readonly string[], logits: Float32Array, tokensLeft: number): number[] {
  const allowed: number[] = [];
  for (let id = 0; id < logits.length; id++) {
    if (logits[id] === -Infinity) continue;
    const next = texts[id] ? advance(stacks, texts[id]) : null;
    if (next && !(tokensLeft < 1024 && shortestCompletion(next).length > tokensLeft)) allowed.push(id);
  }
  return allowed;
}

describe('VocabTrie', () => {
  it('numbers nodes in preorder: a subtree is a contiguous range of nodes and of tokens', () => {
    const texts = ['ab', 'a', '', 'abc', 'b', 'ab', '😀x'];
    const trie = buildVocabTrie(texts);
    expect(Array.from(trie.empty)).toEqual([2]);
    const nodeOf = (text: string) => {
      let node = 0;
      for (const c of text) {
        let child = node + 1;
        while (child < trie.end[node] && trie.chars[child] !== c) child = trie.end[child];
        node = child;
      }
      return node;
    };
    const at = (node: number) => Array.from(trie.tokens.slice(trie.tokenStart[node], trie.tokenStart[node + 1])).sort();
    const under = (node: number) => Array.from(trie.tokens.slice(trie.tokenStart[node], trie.tokenStart[trie.end[node]])).sort();
    expect(at(nodeOf('ab'))).toEqual([0, 5]);
    expect(under(nodeOf('a'))).toEqual([0, 1, 3, 5]);
    expect(under(nodeOf('😀'))).toEqual([6]); // one node per code point, not per UTF-16 unit
    expect(under(0)).toEqual([0, 1, 3, 4, 5, 6]);
    expect(trie.chars.length).toBe(1 + 3 + 1 + 2); // root, a-b-c, b, 😀-x
  });

  it('masks exactly the tokens a scan of every token text allows, step by step, for any schema, budget and pre-masked logits', () => {
    const texts = syntheticVocabulary(3000, 11);
    const vocab = { texts, trie: buildVocabTrie(texts) };
    const rand = mulberry32(5);
    let steps = 0;
    for (const [i, schema] of SCHEMAS.entries()) {
      for (let run = 0; run < 4; run++) {
        const root = compileSchema(schema);
        const constraint = new JsonSchemaConstraint(vocab, root);
        let stacks: Stack[] = initialStacks(root);
        let budget = run % 2 ? 40 + Math.floor(rand() * 30) : 2000;
        for (let step = 0; step < 45 && !constraint.complete; step++, budget--, steps++) {
          const logits = new Float32Array(texts.length + 3); // three ids past the vocabulary: never allowed
          for (let id = 0; id < logits.length; id++) if (rand() < 0.05) logits[id] = -Infinity;
          const expected = scanAllowed(stacks, texts, logits, budget);
          if (expected.length === 0) {
            expect(() => constraint.mask(logits, budget)).toThrow(/response_format cannot be met/);
            break;
          }
          constraint.mask(logits, budget);
          const got = [...logits.keys()].filter((id) => logits[id] !== -Infinity);
          expect({ schema: i, step, allowed: got }).toEqual({ schema: i, step, allowed: expected });
          const chosen = expected[Math.floor(rand() * expected.length)];
          constraint.accept(chosen);
          stacks = advance(stacks, texts[chosen])!;
        }
      }
    }
    expect(steps).toBeGreaterThan(200);
  });
});
