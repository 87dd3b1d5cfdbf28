import { encodeOnnxModel, floatTensor, gaussian, int64Tensor, mulberry32, OnnxSessionRegistry, type DecoderSession } from '@engram/inference';
import { forwardBackward, paramArrays, toLlamaWeights, zerosLike, type Memory64 } from './llama-backprop';
import { initParams64, tinyLlamaConfig } from './llama-init';
import { anchorWeightInputs, buildMemoryGradientGraph } from './memory-gradient.graph';
import { OnnxMemoryGradient, typescriptGradient } from './memory-gradient.engine';

const config = tinyLlamaConfig({ vocab: 19, hidden: 8, layers: 2, heads: 2, kvHeads: 1, intermediate: 12 });
const ids = [3, 7, 1, 18, 5, 9, 0];
const lossMask = [false, true, true, false, true, true, true];
const R = 3;

describe('buildMemoryGradientGraph (ONNX Runtime backward to the memory inputs)', () => {
  const registry = new OnnxSessionRegistry();
  const params = initParams64(config, 5, { normJitter: 0.1 });
  params.layers[1].qBias = Float64Array.from({ length: 8 }, (_, i) => 0.05 * i);
  const normal = gaussian(mulberry32(9));
  const n = config.numLayers * R * config.hiddenSize;
  const mem: Memory64 = { rank: R, gate: Float64Array.from({ length: n }, () => 0.5 * normal()), up: Float64Array.from({ length: n }, () => 0.5 * normal()), down: Float64Array.from({ length: n }, () => 0.5 * normal()) };
  let session: DecoderSession;
  const onehot = new Float32Array(ids.length * config.vocabSize);
  ids.forEach((_, s) => {
    if (s + 1 < ids.length && lossMask[s + 1]) onehot[s * config.vocabSize + ids[s + 1]] = 1;
  });
  const run = async (m: Memory64) =>
    session.run({
      input_ids: int64Tensor(ids, [ids.length]),
      target_onehot: floatTensor(onehot, [ids.length, config.vocabSize]),
      mem_gate: floatTensor(Float32Array.from(m.gate), [2, R, 8]),
      mem_up: floatTensor(Float32Array.from(m.up), [2, R, 8]),
      mem_down: floatTensor(Float32Array.from(m.down), [2, 8, R]),
    });

  beforeAll(async () => {
    const graph = buildMemoryGradientGraph(config, toLlamaWeights(config, params), { seqLen: ids.length, rank: R });
    session = await registry.acquire({ key: 'memory-gradient-spec', build: () => encodeOnnxModel(graph.model()) });
  });
  afterAll(() => registry.disposeAll());

  it('gives the same loss and memory gradients as the finite-difference-checked TypeScript pass', async () => {
    const grad: Memory64 = { rank: R, gate: new Float64Array(n), up: new Float64Array(n), down: new Float64Array(n) };
    const ts = forwardBackward(config, params, ids, mem, { memoryGrad: grad, lossMask });
    const out = await run(mem);
    expect((out.loss.data as Float32Array)[0]).toBeCloseTo(ts.loss, 4);
    for (const [name, ref] of [['grad_mem_gate', grad.gate], ['grad_mem_up', grad.up], ['grad_mem_down', grad.down]] as const) {
      const got = out[name].data as Float32Array;
      expect(got.length).toBe(ref.length);
      let scale = 0;
      for (const v of ref) scale = Math.max(scale, Math.abs(v));
      expect(scale).toBeGreaterThan(1e-3);
      for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i] - ref[i])).toBeLessThan(1e-4 + 1e-3 * scale);
    }
  });

  it('agrees with finite differences of its own loss output', async () => {
    const out = await run(mem);
    const g = out.grad_mem_down.data as Float32Array;
    const h = 1e-2;
    for (const i of [0, 7, 20, 33]) {
      const keep = mem.down[i];
      mem.down[i] = keep + h;
      const up = ((await run(mem)).loss.data as Float32Array)[0];
      mem.down[i] = keep - h;
      const down = ((await run(mem)).loss.data as Float32Array)[0];
      mem.down[i] = keep;
      expect(Math.abs((up - down) / (2 * h) - g[i])).toBeLessThan(2e-3 + 0.02 * Math.abs(g[i]));
    }
  });
});

describe('buildMemoryGradientGraph with anchorGradients (full-parameter training on ONNX Runtime)', () => {
  for (const tie of [false, true]) {
    it(`gives every anchor-weight gradient of the TypeScript pass (${tie ? 'tied' : 'untied'} head, q/k/v/o biases)`, async () => {
      const cfg = tinyLlamaConfig({ vocab: 19, hidden: 8, layers: 2, heads: 2, kvHeads: 1, intermediate: 12, tie });
      const params = initParams64(cfg, 21, { normJitter: 0.1 });
      for (const l of params.layers) {
        l.qBias = Float64Array.from({ length: 8 }, (_, i) => 0.03 * i);
        l.kBias = Float64Array.from({ length: 4 }, (_, i) => -0.02 * i);
        l.vBias = Float64Array.from({ length: 4 }, (_, i) => 0.01 * i);
        l.oBias = Float64Array.from({ length: 8 }, (_, i) => 0.02 * i);
      }
      const rank = 2;
      const normal = gaussian(mulberry32(22));
      const nm = cfg.numLayers * rank * 8;
      const mem: Memory64 = { rank, gate: Float64Array.from({ length: nm }, () => 0.5 * normal()), up: Float64Array.from({ length: nm }, () => 0.5 * normal()), down: Float64Array.from({ length: nm }, () => 0.5 * normal()) };
      const weights = toLlamaWeights(cfg, params);
      const registry = new OnnxSessionRegistry();
      try {
        const session = await registry.acquire({ key: `anchor-grad-${tie}`, build: () => encodeOnnxModel(buildMemoryGradientGraph(cfg, weights, { seqLen: ids.length, rank, anchorGradients: true }).model()) });
        const oh = new Float32Array(ids.length * cfg.vocabSize);
        for (let s = 0; s + 1 < ids.length; s++) oh[s * cfg.vocabSize + ids[s + 1]] = 1;
        const inputs = anchorWeightInputs(weights);
        const feeds: Record<string, ReturnType<typeof floatTensor>> = {
          input_ids: int64Tensor(ids, [ids.length]),
          target_onehot: floatTensor(oh, [ids.length, cfg.vocabSize]),
          mem_gate: floatTensor(Float32Array.from(mem.gate), [2, rank, 8]),
          mem_up: floatTensor(Float32Array.from(mem.up), [2, rank, 8]),
          mem_down: floatTensor(Float32Array.from(mem.down), [2, 8, rank]),
        };
        for (const w of inputs) feeds[w.name] = floatTensor(w.data, w.dims);
        const out = await session.run(feeds);
        const grad = zerosLike(params);
        const ts = forwardBackward(cfg, params, ids, mem, { anchorGrad: grad });
        expect((out.loss.data as Float32Array)[0]).toBeCloseTo(ts.loss, 4);
        // anchorWeightInputs lists tensors in the order paramArrays does.
        const refs = paramArrays(grad);
        expect(refs.length).toBe(inputs.length);
        inputs.forEach((w, i) => {
          const got = out[`grad.${w.name}`].data as Float32Array;
          const ref = refs[i];
          let scale = 0;
          for (const v of ref) scale = Math.max(scale, Math.abs(v));
          expect(scale).toBeGreaterThan(0);
          for (let j = 0; j < ref.length; j++) expect(Math.abs(got[j] - ref[j])).toBeLessThan(1e-5 + 1e-3 * scale);
        });
      } finally {
        await registry.disposeAll();
      }
    });
  }
});

describe('memory-gradient engines with a first scored token', () => {
  const cfg = tinyLlamaConfig({ vocab: 19, hidden: 8, layers: 2, heads: 2, kvHeads: 1, intermediate: 12 });
  const anchor = { config: cfg, params: initParams64(cfg, 5), fingerprint: 'engine-spec', tokenize: () => [] };
  const rank = 2;
  const normal = gaussian(mulberry32(31));
  const nm = cfg.numLayers * rank * cfg.hiddenSize;
  const mem: Memory64 = { rank, gate: Float64Array.from({ length: nm }, () => 0.5 * normal()), up: Float64Array.from({ length: nm }, () => 0.5 * normal()), down: Float64Array.from({ length: nm }, () => 0.5 * normal()) };
  const zero = (): Memory64 => ({ rank, gate: new Float64Array(nm), up: new Float64Array(nm), down: new Float64Array(nm) });

  it('leaves out the predictions before it in both engines alike, and scores nothing past the end', async () => {
    const onnx = await OnnxMemoryGradient.create(anchor, { maxSeq: ids.length, rank });
    try {
      const ts = typescriptGradient(anchor);
      const [gTs, gOrt, gAll] = [zero(), zero(), zero()];
      const lossTs = await ts.accumulate(ids, mem, gTs, 1, undefined, 3);
      const lossOrt = await onnx.accumulate(ids, mem, gOrt, 1, undefined, 3);
      expect(lossOrt).toBeCloseTo(lossTs, 4);
      for (let i = 0; i < nm; i++) expect(Math.abs(gOrt.down[i] - gTs.down[i])).toBeLessThan(1e-5);
      // The same as an explicit loss mask over targets 3.., and not the full loss.
      const masked = forwardBackward(cfg, anchor.params, ids, mem, { lossMask: ids.map((_, i) => i >= 3) });
      expect(lossTs).toBeCloseTo(masked.loss, 10);
      expect(await ts.accumulate(ids, mem, gAll, 1)).not.toBeCloseTo(lossTs, 3);
      const untouched = zero();
      expect(await onnx.accumulate(ids.slice(0, 2), mem, untouched, 1, undefined, 2)).toBe(0);
      expect(untouched.down.every((v) => v === 0)).toBe(true);
    } finally {
      await onnx.dispose();
    }
  });
});
