import { initParams64, tinyLlamaConfig } from './llama-init';
import { forwardBackward, paramArrays } from './llama-backprop';
import { ANCHOR_TRAIN_LENGTH_STEP, trainAnchor, trainAnchorOnnx } from './anchor-trainer';

const config = tinyLlamaConfig({ vocab: 17, hidden: 8, layers: 1, heads: 2, intermediate: 16 });
const data = [
  [1, 2, 3, 4, 5, 6],
  [1, 2, 3, 7, 8],
  [9, 10, 11, 12, 13, 14, 15],
  [16, 2, 3, 4],
];
const meanLoss = (p: ReturnType<typeof initParams64>) => data.reduce((a, s) => a + forwardBackward(config, p, s, undefined, { forwardOnly: true }).loss, 0) / data.length;

describe('trainAnchor', () => {
  it('lowers the loss, and the ONNX Runtime gradients take the same steps as the TypeScript ones', async () => {
    const a = initParams64(config, 4);
    const b = initParams64(config, 4);
    const before = meanLoss(a);
    const options = { steps: 30, batch: 4, lr: 1e-2, seed: 3 };
    trainAnchor(config, a, data, options);
    await trainAnchorOnnx(config, b, data, options);
    expect(meanLoss(a)).toBeLessThan(before - 0.5);
    expect(Math.abs(meanLoss(b) - meanLoss(a))).toBeLessThan(0.05);
    const pa = paramArrays(a);
    const pb = paramArrays(b);
    let maxDiff = 0;
    pa.forEach((x, i) => x.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - pb[i][j])))));
    expect(maxDiff).toBeLessThan(0.05);
  });
});

describe('trainAnchor with loss masks and sequences of several graph lengths', () => {
  // One sequence longer than ANCHOR_TRAIN_LENGTH_STEP: the ONNX trainer runs it in a longer
  // graph than the others, and padding must change nothing.
  const long = Array.from({ length: ANCHOR_TRAIN_LENGTH_STEP + 9 }, (_, i) => 1 + ((i * 5) % 16));
  const seqs = [...data, long];
  // Score only the last target of each sequence (an answer after its context).
  const masks = seqs.map((s) => s.map((_, i) => i === s.length - 1));
  const lastLoss = (p: ReturnType<typeof initParams64>) => seqs.reduce((a, s, i) => a + forwardBackward(config, p, s, undefined, { forwardOnly: true, lossMask: masks[i] }).loss, 0) / seqs.length;

  it('scores only the masked targets, and the ONNX Runtime gradients take the same steps as the TypeScript ones', async () => {
    const a = initParams64(config, 5);
    const b = initParams64(config, 5);
    const c = initParams64(config, 5);
    const before = lastLoss(a);
    const options = { steps: 30, batch: 4, lr: 1e-2, seed: 9, lossMasks: masks };
    const reported = trainAnchor(config, a, seqs, options);
    const reportedOnnx = await trainAnchorOnnx(config, b, seqs, options);
    expect(lastLoss(a)).toBeLessThan(before - 0.5);
    expect(Math.abs(reportedOnnx - reported)).toBeLessThan(0.05);
    const pa = paramArrays(a);
    const pb = paramArrays(b);
    let maxDiff = 0;
    pa.forEach((x, i) => x.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - pb[i][j])))));
    expect(maxDiff).toBeLessThan(0.05);
    // Without masks the same steps go elsewhere: the mask is what the loss saw.
    trainAnchor(config, c, seqs, { ...options, lossMasks: undefined });
    const pc = paramArrays(c);
    let maskedVsAll = 0;
    pa.forEach((x, i) => x.forEach((v, j) => (maskedVsAll = Math.max(maskedVsAll, Math.abs(v - pc[i][j])))));
    expect(maskedVsAll).toBeGreaterThan(0.1);
  });
});
