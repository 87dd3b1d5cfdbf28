import { referenceForward, mulberry32, gaussian } from '@engram/inference';
import { forwardBackward, Memory64, nextTokenDistributions, paramArrays, toLlamaWeights, zerosLike } from './llama-backprop';
import { initParams64, tinyLlamaConfig } from './llama-init';

const config = tinyLlamaConfig({ vocab: 23, hidden: 8, layers: 2, heads: 2, kvHeads: 1, intermediate: 12 });
const ids = [3, 7, 1, 22, 5, 9, 0];

function memory(rank: number, seed: number): Memory64 {
  const normal = gaussian(mulberry32(seed));
  const n = config.numLayers * rank * config.hiddenSize;
  const r = () => Float64Array.from({ length: n }, () => 0.5 * normal());
  return { rank, gate: r(), up: r(), down: r() };
}

/** Central differences on a few coordinates of `target`; returns [analytic, numeric] pairs. */
function finiteDifferences(target: Float64Array, analytic: Float64Array, loss: () => number, picks: number[]): Array<[number, number]> {
  const h = 1e-5;
  return picks.map((i) => {
    const keep = target[i];
    target[i] = keep + h;
    const up = loss();
    target[i] = keep - h;
    const down = loss();
    target[i] = keep;
    return [analytic[i], (up - down) / (2 * h)];
  });
}

describe('forwardBackward', () => {
  it('matches the inference reference forward pass, memory included', () => {
    const p = initParams64(config, 3, { normJitter: 0.1 });
    const mem = memory(3, 4);
    const out = forwardBackward(config, p, ids, mem, { keepLogits: true, forwardOnly: true });
    const ref = referenceForward(config, toLlamaWeights(config, p), {
      inputIds: ids,
      memory: { rank: 3, gate: Float32Array.from(mem.gate), up: Float32Array.from(mem.up), down: Float32Array.from(mem.down) },
    });
    for (let i = 0; i < ref.logits.length; i++) expect(out.logits![i]).toBeCloseTo(ref.logits[i], 3);
  });

  it('gives memory gradients that agree with finite differences while the anchor stays frozen', () => {
    const p = initParams64(config, 5, { normJitter: 0.1 });
    const before = paramArrays(p).map((a) => Float64Array.from(a));
    const mem = memory(3, 6);
    const grad: Memory64 = { rank: 3, gate: new Float64Array(mem.gate.length), up: new Float64Array(mem.up.length), down: new Float64Array(mem.down.length) };
    forwardBackward(config, p, ids, mem, { memoryGrad: grad });
    const loss = () => forwardBackward(config, p, ids, mem, { forwardOnly: true }).loss;
    const picks = [0, 5, 17, 30, 47];
    for (const key of ['gate', 'up', 'down'] as const) {
      for (const [a, n] of finiteDifferences(mem[key], grad[key], loss, picks)) {
        expect(Math.abs(a - n)).toBeLessThan(1e-6 + 1e-4 * Math.abs(n));
      }
    }
    // Some gradient is not zero (a check that cannot pass vacuously).
    expect(Math.max(...grad.gate.map(Math.abs))).toBeGreaterThan(1e-4);
    paramArrays(p).forEach((a, i) => expect(a).toEqual(before[i]));
  });

  it('gives memory gradients for soft targets that agree with finite differences, and zero loss gradient at the model\'s own distribution without memory', () => {
    const p = initParams64(config, 12, { normJitter: 0.1 });
    const soft = nextTokenDistributions(config, p, ids);
    const mem = memory(2, 13);
    const grad: Memory64 = { rank: 2, gate: new Float64Array(mem.gate.length), up: new Float64Array(mem.up.length), down: new Float64Array(mem.down.length) };
    forwardBackward(config, p, ids, mem, { memoryGrad: grad, softTargets: soft });
    const loss = () => forwardBackward(config, p, ids, mem, { forwardOnly: true, softTargets: soft }).loss;
    for (const [a, n] of finiteDifferences(mem.down, grad.down, loss, [1, 9, 20])) expect(Math.abs(a - n)).toBeLessThan(1e-6 + 1e-4 * Math.abs(n));
    expect(Math.max(...grad.down.map(Math.abs))).toBeGreaterThan(1e-5);
    // A zero block leaves the distribution unchanged: the down-gradient vanishes there.
    const zero: Memory64 = { rank: 2, gate: mem.gate, up: mem.up, down: new Float64Array(mem.down.length) };
    const g0: Memory64 = { rank: 2, gate: new Float64Array(mem.gate.length), up: new Float64Array(mem.up.length), down: new Float64Array(mem.down.length) };
    forwardBackward(config, p, ids, zero, { memoryGrad: g0, softTargets: soft });
    expect(Math.max(...g0.down.map(Math.abs))).toBeLessThan(1e-10);
  });

  it('gives anchor gradients that agree with finite differences for every tensor kind', () => {
    const tied = tinyLlamaConfig({ vocab: 23, hidden: 8, layers: 2, heads: 2, kvHeads: 1, intermediate: 12, tie: true });
    const p = initParams64(tied, 7, { normJitter: 0.1 });
    p.layers[0].qBias = Float64Array.from({ length: 8 }, (_, i) => 0.1 * i);
    const mem = memory(2, 8);
    const grad = zerosLike(p);
    forwardBackward(tied, p, ids, mem, { anchorGrad: grad });
    const loss = () => forwardBackward(tied, p, ids, mem, { forwardOnly: true }).loss;
    const rnd = mulberry32(11);
    const arrays = paramArrays(p);
    const grads = paramArrays(grad);
    expect(arrays.length).toBe(grads.length);
    let checked = 0;
    arrays.forEach((arr, n) => {
      const picks = Array.from({ length: 3 }, () => Math.floor(rnd() * arr.length));
      // Embedding rows of tokens in the sequence carry both the input and the tied-head gradient.
      if (n === 0) picks.push(ids[2] * 8 + 1);
      for (const [a, num] of finiteDifferences(arr, grads[n], loss, picks)) {
        expect(Math.abs(a - num)).toBeLessThan(1e-6 + 1e-4 * Math.abs(num));
        checked++;
      }
    });
    expect(checked).toBeGreaterThan(40);
  });
});
