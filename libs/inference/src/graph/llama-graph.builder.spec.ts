import * as ort from 'onnxruntime-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModelDirectory, loadModelWeights } from '../model/model-directory';
import { encodeOnnxModel } from '../onnx/onnx-model.encoder';
import { referenceForward, ReferenceKv, ReferenceMemory } from '../reference/llama.reference';
import { createTinyModel, TinyModelOptions } from '../tiny/tiny-model.generator';
import { gaussian, mulberry32 } from '../tiny/seeded-random';
import { concatMemoryBlocks, memoryFeeds, type MemoryBlock } from '../runtime/memory-feeds';
import { buildLlamaGraph, DEFAULT_MEMORY_SLOTS, LlamaGraphOptions, pastKeyName, pastValueName, presentKeyName, presentValueName } from './llama-graph.builder';

const root = mkdtempSync(join(tmpdir(), 'engram-graph-'));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function randomMemory(L: number, R: number, d: number, seed: number): ReferenceMemory {
  const n = gaussian(mulberry32(seed));
  const fill = (len: number): Float32Array => Float32Array.from({ length: len }, () => 0.3 * n());
  return { rank: R, gate: fill(L * R * d), up: fill(L * R * d), down: fill(L * d * R) };
}

// Head dimensions that are multiples of 8 get one GroupQueryAttention node per layer unless
// `fusedAttention: false`; others (head dimension 6 below) the standard-op form.
const configs: [string, Partial<TinyModelOptions>, LlamaGraphOptions?][] = [
  ['MHA, untied', { layers: 2, hidden: 32, heads: 4 }],
  ['GQA with q/k/v bias (Qwen2-style)', { layers: 2, hidden: 48, heads: 6, kvHeads: 2, qkvBias: true, ropeTheta: 1e6 }],
  ['tied embeddings, one KV head', { layers: 3, hidden: 32, heads: 4, kvHeads: 1, tieEmbeddings: true, intermediate: 40 }],
  ['bf16 weights', { layers: 1, hidden: 32, heads: 2, dtype: 'BF16' }],
  ['GQA, standard-op attention', { layers: 2, hidden: 48, heads: 6, kvHeads: 2, qkvBias: true }, { fusedAttention: false }],
  ['head dimension 6 (standard-op attention)', { layers: 2, hidden: 24, heads: 4, kvHeads: 2 }],
];

describe.each(configs)('Llama graph vs TypeScript reference: %s', (label, opts, graphOptions) => {
  const dir = join(root, label.replace(/\W+/g, '-'));
  createTinyModel({ outDir: dir, vocab: 300, seed: 7, ...opts });
  const model = openModelDirectory(dir);
  const weights = loadModelWeights(model);
  const c = model.config;
  let session: ort.InferenceSession;

  beforeAll(async () => {
    session = await ort.InferenceSession.create(encodeOnnxModel(buildLlamaGraph(c, weights, graphOptions).model()));
  });
  afterAll(async () => session.release());

  const feeds = (ids: number[], past: ReferenceKv | undefined, mem: ReferenceMemory | readonly MemoryBlock[] | undefined): Record<string, ort.Tensor> => {
    const P = past?.seq ?? 0;
    const S = ids.length;
    const f: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, S]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(P + S).fill(1n), [1, P + S]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: S }, (_, i) => BigInt(P + i)), [1, S]),
    };
    for (let l = 0; l < c.numLayers; l++) {
      f[pastKeyName(l)] = new ort.Tensor('float32', past ? past.keys[l] : new Float32Array(0), [1, c.numKvHeads, P, c.headDim]);
      f[pastValueName(l)] = new ort.Tensor('float32', past ? past.values[l] : new Float32Array(0), [1, c.numKvHeads, P, c.headDim]);
    }
    for (const [name, t] of Object.entries(memoryFeeds(mem, DEFAULT_MEMORY_SLOTS, c.numLayers, c.hiddenSize))) {
      f[name] = new ort.Tensor('float32', t.data as Float32Array, t.dims as number[]);
    }
    return f;
  };

  const prompt = [5, 77, 120, 3, 250, 18, 42, 9];
  const cont = [100, 7, 61];

  it.each([
    ['without memory', undefined],
    ['with memory inputs (R = 5)', 5],
  ])('matches logits and present KV within 1e-4, prefill then decode with past KV, %s', async (_m, rank) => {
    const mem = rank ? randomMemory(c.numLayers, rank, c.hiddenSize, 3) : undefined;
    const ref1 = referenceForward(c, weights, { inputIds: prompt, memory: mem });
    const out1 = await session.run(feeds(prompt, undefined, mem));
    expect(out1.logits.dims).toEqual([1, prompt.length, c.vocabSize]);
    expect(maxAbsDiff(out1.logits.data as Float32Array, ref1.logits)).toBeLessThan(1e-4);
    for (let l = 0; l < c.numLayers; l++) {
      expect(maxAbsDiff(out1[presentKeyName(l)].data as Float32Array, ref1.present.keys[l])).toBeLessThan(1e-4);
      expect(maxAbsDiff(out1[presentValueName(l)].data as Float32Array, ref1.present.values[l])).toBeLessThan(1e-4);
    }
    const ref2 = referenceForward(c, weights, { inputIds: cont, past: ref1.present, memory: mem });
    const out2 = await session.run(feeds(cont, ref1.present, mem));
    expect(maxAbsDiff(out2.logits.data as Float32Array, ref2.logits)).toBeLessThan(1e-4);
    // Past KV is exact: the decode step equals the tail of a full prefill.
    const full = referenceForward(c, weights, { inputIds: [...prompt, ...cont], memory: mem });
    expect(maxAbsDiff(ref2.logits, full.logits.subarray(prompt.length * c.vocabSize))).toBeLessThan(1e-4);
  });

  it('honours attention_mask padding and explicit position_ids like the reference', async () => {
    const mask = [0, 0, 1, 1, 1, 1, 1, 1];
    const positions = [0, 0, 0, 1, 2, 3, 4, 5];
    const f = feeds(prompt, undefined, undefined);
    f.attention_mask = new ort.Tensor('int64', BigInt64Array.from(mask.map(BigInt)), [1, 8]);
    f.position_ids = new ort.Tensor('int64', BigInt64Array.from(positions.map(BigInt)), [1, 8]);
    const out = (await session.run(f)).logits.data as Float32Array;
    const ref = referenceForward(c, weights, { inputIds: prompt, attentionMask: mask, positionIds: positions });
    const V = c.vocabSize;
    expect(maxAbsDiff(out.subarray(2 * V), ref.logits.subarray(2 * V))).toBeLessThan(1e-4);
    // Padding is not ignored: the unpadded sequence of the same tokens differs.
    const unpadded = referenceForward(c, weights, { inputIds: prompt });
    expect(maxAbsDiff(out.subarray(7 * V), unpadded.logits.subarray(7 * V))).toBeGreaterThan(1e-3);
  });

  it.each([
    ['one block per level (three slots)', [3, 5, 2]],
    ['a zero-rank level among them', [4, 0, 6]],
    ['more levels than slots (the last slot takes a concatenation)', [2, 3, 1, 4, 2, 3]],
  ])('sums per-level blocks like the reference with the blocks concatenated along R: %s', async (_m, ranks) => {
    const blocks = ranks.map((r, i) => randomMemory(c.numLayers, r, c.hiddenSize, 20 + i));
    const concatenated = concatMemoryBlocks(blocks, c.hiddenSize, c.numLayers);
    const ref1 = referenceForward(c, weights, { inputIds: prompt, memory: concatenated });
    const out1 = await session.run(feeds(prompt, undefined, blocks));
    expect(maxAbsDiff(out1.logits.data as Float32Array, ref1.logits)).toBeLessThan(1e-4);
    const ref2 = referenceForward(c, weights, { inputIds: cont, past: ref1.present, memory: concatenated });
    const out2 = await session.run(feeds(cont, ref1.present, blocks));
    expect(maxAbsDiff(out2.logits.data as Float32Array, ref2.logits)).toBeLessThan(1e-4);
    // And it is not the same as one of the levels alone.
    const first = await session.run(feeds(prompt, undefined, blocks.slice(0, 1)));
    expect(maxAbsDiff(first.logits.data as Float32Array, ref1.logits)).toBeGreaterThan(1e-3);
  });

  it('memory inputs change the logits, and R = 0 or zero blocks give exactly the base model', async () => {
    const base = await session.run(feeds(prompt, undefined, undefined));
    const zeros: ReferenceMemory = { rank: 4, gate: randomMemory(c.numLayers, 4, c.hiddenSize, 1).gate, up: randomMemory(c.numLayers, 4, c.hiddenSize, 2).up, down: new Float32Array(c.numLayers * c.hiddenSize * 4) };
    const zeroed = await session.run(feeds(prompt, undefined, zeros));
    expect(Array.from(zeroed.logits.data as Float32Array)).toEqual(Array.from(base.logits.data as Float32Array));
    const withMem = await session.run(feeds(prompt, undefined, randomMemory(c.numLayers, 4, c.hiddenSize, 9)));
    expect(maxAbsDiff(withMem.logits.data as Float32Array, base.logits.data as Float32Array)).toBeGreaterThan(1e-3);
  });
});

describe('attention form', () => {
  const dir = join(root, 'attention-form');
  createTinyModel({ outDir: dir, vocab: 300, seed: 3, layers: 3, hidden: 32, heads: 4, kvHeads: 2 });
  const model = openModelDirectory(dir);
  const weights = loadModelWeights(model);
  const count = (g: ReturnType<typeof buildLlamaGraph>, op: string): number => g.nodes.filter((n) => n.opType === op).length;

  it('is one GroupQueryAttention node per layer by default, the standard ops when turned off', () => {
    const fused = buildLlamaGraph(model.config, weights, { pastPositions: true });
    const standard = buildLlamaGraph(model.config, weights, { pastPositions: true, fusedAttention: false });
    expect(count(fused, 'GroupQueryAttention')).toBe(3);
    expect(count(fused, 'Softmax')).toBe(0);
    expect(count(standard, 'GroupQueryAttention')).toBe(0);
    expect(count(standard, 'Softmax')).toBe(3);
    expect(fused.nodes.length).toBeLessThan(standard.nodes.length - 3 * 10);
  });

  it('refuses fusedAttention for a head dimension the operator cannot take', () => {
    const odd = join(root, 'attention-form-hd6');
    createTinyModel({ outDir: odd, vocab: 300, seed: 3, layers: 1, hidden: 24, heads: 4 });
    const m = openModelDirectory(odd);
    expect(() => buildLlamaGraph(m.config, loadModelWeights(m), { fusedAttention: true })).toThrow(/multiple of 8 \(got 6\)/);
    expect(buildLlamaGraph(m.config, loadModelWeights(m)).nodes.some((n) => n.opType === 'GroupQueryAttention')).toBe(false);
  });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));
