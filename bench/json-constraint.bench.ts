// Structured output (ADR 0205): what one constrained decoding step costs on a large vocabulary,
// before (every token's text fed to the recogniser) and after (the vocabulary's trie walked
// once, a refused character refusing its subtree), on the same parse states in one process.
// Synthetic vocabularies (bench/support/synthetic-vocabulary.ts); a seeded random walk picks
// the next token among those allowed, so the answer goes through keys, strings, numbers,
// arrays and nulls of the schema. Table, then ONE JSON line.
//   npm run bench:json-constraint -- [--sizes 32000,131072] [--tokens 120] [--seed 1] [--budget N: tokens left each step; default near the end, so the budget check runs]
import { performance } from 'node:perf_hooks';
import { buildVocabTrie, compileSchema, JsonSchemaConstraint, mulberry32 } from '@engram/inference';
import { textArg } from './support/args';
import { syntheticVocabulary } from './support/synthetic-vocabulary';

const SIZES = textArg('sizes', '32000,131072').split(',').map(Number);
const TOKENS = Number(textArg('tokens', '120'));
const SEED = Number(textArg('seed', '1'));
const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['facts', 'relation'],
  properties: {
    relation: { type: 'string', enum: ['duplicate', 'update', 'contradiction', 'independent'] },
    facts: {
      type: 'array',
      maxItems: 4,
      items: { type: 'object', additionalProperties: false, required: ['subject', 'text'], properties: { subject: { type: 'string', maxLength: 24 }, text: { type: 'string', maxLength: 60 }, year: { type: ['integer', 'null'] } } },
    },
  },
};

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const ms = (x: number) => Math.round(x * 1000) / 1000;

interface Row {
  vocab: number;
  trieNodes: number;
  buildMs: number;
  steps: number;
  scanMs: number;
  trieMs: number;
  scanP99Ms: number;
  trieP99Ms: number;
  structuralSpeedup: number;
  freeTextSpeedup: number;
  speedup: number;
}

function run(size: number): Row {
  const texts = syntheticVocabulary(size, SEED);
  const t0 = performance.now();
  const trie = buildVocabTrie(texts);
  const buildMs = performance.now() - t0;
  const constraint = new JsonSchemaConstraint({ texts, trie }, compileSchema(SCHEMA));
  const rand = mulberry32(SEED + size);
  const scan: number[] = [];
  const walk: number[] = [];
  const structural: [number, number][] = [];
  const freeText: [number, number][] = [];
  for (let step = 0; step < TOKENS && !constraint.complete; step++) {
    const logits = new Float32Array(size);
    const tokensLeft = Number(textArg('budget', '0')) || TOKENS - step + 40;
    const a = logits.slice();
    let t = performance.now();
    constraint.maskByScan(a, tokensLeft);
    scan.push(performance.now() - t);
    const b = logits.slice();
    t = performance.now();
    constraint.mask(b, tokensLeft);
    walk.push(performance.now() - t);
    const allowed = [...b.keys()].filter((id) => b[id] !== -Infinity);
    if (allowed.length !== a.filter((x) => x !== -Infinity).length || allowed.some((id) => a[id] === -Infinity)) throw new Error(`step ${step}: the trie and the scan disagree`);
    (allowed.length > size / 2 ? freeText : structural).push([scan.at(-1)!, walk.at(-1)!]);
    // Prefer closing a free-text string now and then, so the answer moves through the schema.
    const closing = allowed.filter((id) => texts[id].includes('"'));
    const choice = closing.length && rand() < 0.3 ? closing : allowed;
    constraint.accept(choice[Math.floor(rand() * choice.length)]);
  }
  const ratio = (pairs: [number, number][]) => (pairs.length ? mean(pairs.map((p) => p[0])) / Math.max(1e-9, mean(pairs.map((p) => p[1]))) : 0);
  return {
    vocab: size,
    trieNodes: trie.chars.length,
    buildMs: ms(buildMs),
    steps: scan.length,
    scanMs: ms(mean(scan)),
    trieMs: ms(mean(walk)),
    scanP99Ms: ms(quantile(scan, 0.99)),
    trieP99Ms: ms(quantile(walk, 0.99)),
    structuralSpeedup: Math.round(ratio(structural) * 10) / 10,
    freeTextSpeedup: Math.round(ratio(freeText) * 10) / 10,
    speedup: Math.round((mean(scan) / Math.max(1e-9, mean(walk))) * 10) / 10,
  };
}

const rows = SIZES.map(run);
console.log('vocab    trie nodes  build ms  steps  scan ms/token  trie ms/token  scan p99  trie p99  speedup (structural / free text / all)');
for (const r of rows) {
  console.log(
    `${String(r.vocab).padEnd(8)} ${String(r.trieNodes).padEnd(11)} ${String(r.buildMs).padEnd(9)} ${String(r.steps).padEnd(6)} ${String(r.scanMs).padEnd(14)} ${String(r.trieMs).padEnd(14)} ${String(r.scanP99Ms).padEnd(9)} ${String(r.trieP99Ms).padEnd(9)} ×${r.structuralSpeedup} / ×${r.freeTextSpeedup} / ×${r.speedup}`,
  );
}
console.log(JSON.stringify({ bench: 'json-constraint', tokens: TOKENS, seed: SEED, rows }));
