import { initParams64, tinyLlamaConfig } from './llama-init';
import { forwardBackward, paramArrays } from './llama-backprop';
import { trainAnchor, trainAnchorOnnx } from './anchor-trainer';

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
