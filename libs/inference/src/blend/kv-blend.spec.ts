import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLlamaGraph } from '../graph/llama-graph.builder';
import { InferenceErrorCode } from '../inference.error';
import { loadModelWeights, openModelDirectory } from '../model/model-directory';
import { writeOnnxModel } from '../onnx/onnx-model.writer';
import { concatKv, KvState, sliceKv } from '../runtime/kv-state';
import { LanguageModel, loadLanguageModel } from '../runtime/language-model';
import { OnnxSessionRegistry } from '../runtime/onnx-session.registry';
import { createTinyModel } from '../tiny/tiny-model.generator';
import { mulberry32 } from '../tiny/seeded-random';
import { blendPrefill, recomputeCount } from './kv-blend';
import { rerotateKv } from './rerotate';

const root = mkdtempSync(join(tmpdir(), 'engram-blend-'));
const dir = join(root, 'tiny');
// GQA + q/k/v bias + a large RoPE base: every path of the attention maths is exercised.
createTinyModel({ outDir: dir, layers: 3, hidden: 48, heads: 6, kvHeads: 2, qkvBias: true, ropeTheta: 1e4, vocab: 300, seed: 5, maxPositionEmbeddings: 256 });
const registry = new OnnxSessionRegistry();
let model: LanguageModel;

beforeAll(async () => {
  model = await loadLanguageModel(dir, registry);
});
afterAll(async () => {
  await registry.disposeAll();
  rmSync(root, { recursive: true, force: true });
});

const rand = mulberry32(3);
const tokens = (n: number): number[] => Array.from({ length: n }, () => 1 + Math.floor(rand() * 250));

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function kvDiff(a: KvState, b: KvState): number {
  expect(a.seq).toBe(b.seq);
  return Math.max(...a.layers.map((l, i) => Math.max(maxDiff(l.key, b.layers[i].key), maxDiff(l.value, b.layers[i].value))));
}

/** A cache as a client builds one: the text prefilled on its own, from position 0. */
const cacheOf = async (text: number[]): Promise<KvState> => (await model.prefill(text)).present;

describe('rerotateKv', () => {
  it.each([7, 60, 181])('moves a cache built at 0 to offset %i: equals a prefill at that offset within 1e-4 at every layer', async (offset) => {
    const text = tokens(24);
    const at0 = await cacheOf(text);
    const atOffset = (await model.forward({ inputIds: text, positionIds: text.map((_, i) => offset + i) })).present;
    const moved = rerotateKv(at0, model.config, 0, offset);
    expect(kvDiff(moved, atOffset)).toBeLessThan(1e-4);
    expect(kvDiff(at0, atOffset)).toBeGreaterThan(1e-2); // without the rotation the keys are wrong
    // and back again
    expect(kvDiff(rerotateKv(atOffset, model.config, offset, 0), at0)).toBeLessThan(1e-4);
  });
});

describe('blendPrefill', () => {
  const system = tokens(6);
  const a = tokens(30);
  const b = tokens(40);
  const question = tokens(9);
  const prompt = [...system, ...a, ...b, ...question];

  it('recomputing every re-placed token equals a full prefill of the prompt (logits and KV within 1e-4)', async () => {
    const full = await model.prefill(prompt);
    const blended = await blendPrefill(model, prompt, [{ start: 0, kv: await cacheOf([...system, ...a]) }, { start: system.length + a.length, kv: await cacheOf(b) }], { recompute: 1 });
    expect(blended).toMatchObject({ exactTokens: 36, recomputedTokens: 40, reusedTokens: 0, prefilledTokens: 9 });
    expect(maxDiff(blended.logits, full.logits)).toBeLessThan(1e-4);
    expect(kvDiff(blended.present, full.present)).toBeLessThan(1e-4);
  });

  it.each([0.1, 0.35, 0.8])(
    'with exact KV in a re-placed segment, any recomputed subset (%f) gives the full prefill: the position mask keeps causality for scattered tokens',
    async (fraction) => {
      const full = await model.prefill(prompt);
      const split = system.length + a.length;
      // Segment 2's KV as computed in this very prompt, handed over as a segment built at its place.
      const segments = [
        { start: 0, kv: sliceKv(full.present, 0, 10) },
        { start: 10, builtAt: 10, kv: sliceKv(full.present, 10, split) },
        { start: split, builtAt: split, kv: sliceKv(full.present, split, split + b.length) },
      ];
      const blended = await blendPrefill(model, prompt, segments, { recompute: fraction });
      expect(blended.recomputedTokens).toBe(recomputeCount(fraction, split - 10 + b.length));
      expect(new Set(blended.recomputed).size).toBe(blended.recomputedTokens);
      expect(maxDiff(blended.logits, full.logits)).toBeLessThan(1e-4);
      expect(kvDiff(blended.present, full.present)).toBeLessThan(1e-4);
    },
  );

  it('with nothing recomputed, equals a forward of the uncovered tokens over the re-rotated caches', async () => {
    const first = await cacheOf([...system, ...a]);
    const second = await cacheOf(b);
    const blended = await blendPrefill(model, prompt, [{ start: 0, kv: first }, { start: 36, kv: second }], { recompute: 0 });
    expect(blended).toMatchObject({ exactTokens: 36, reusedTokens: 40, recomputedTokens: 0, prefilledTokens: 9, recomputed: [] });
    const past = concatKv([first, rerotateKv(second, model.config, 0, 36)]);
    const manual = await model.forward({ inputIds: question, past });
    expect(maxDiff(blended.logits, manual.logits)).toBeLessThan(1e-4);
    expect(kvDiff(sliceKv(blended.present, 0, 76), past)).toBe(0);
  });

  it('recomputes the tokens whose KV deviates most at the selection layer, and recomputing them all restores the full prefill', async () => {
    const full = await model.prefill(prompt);
    const segments = [
      { start: 0, kv: await cacheOf([...system, ...a]) },
      { start: 36, kv: await cacheOf(b) },
    ];
    const err = async (fraction: number): Promise<number> => maxDiff((await blendPrefill(model, prompt, segments, { recompute: fraction })).logits, full.logits);
    const e0 = await err(0);
    const e1 = await err(1);
    expect(e0).toBeGreaterThan(1e-3); // segment b never saw the text before it
    expect(e1).toBeLessThan(1e-4);
    const half = await blendPrefill(model, prompt, segments, { recompute: 0.5 });
    expect(half.recomputedTokens).toBe(20);
    expect(half.recomputed.every((p) => p >= 36 && p < 76)).toBe(true);
    // The first layer's KV is exact after re-rotation (no attention before it); the
    // selection layer's deviation is what picks tokens: the chosen ones deviate at least
    // as much as any token left out.
    const fresh = await model.probe(prompt.slice(36, 76), 1, { past: sliceKv(full.present, 0, 36) });
    const moved = rerotateKv(segments[1].kv, model.config, 0, 36);
    const dev = (t: number): number => {
      let d = 0;
      const { kvHeads: H, headDim: hd } = moved;
      for (let h = 0; h < H; h++)
        for (let i = 0; i < hd; i++) {
          const o = (h * 40 + t) * hd + i;
          d += (fresh.key[o] - moved.layers[1].key[o]) ** 2 + (fresh.value[o] - moved.layers[1].value[o]) ** 2;
        }
      return d;
    };
    const chosen = new Set(half.recomputed.map((p) => p - 36));
    const minChosen = Math.min(...[...chosen].map(dev));
    const maxLeft = Math.max(...Array.from({ length: 40 }, (_, t) => t).filter((t) => !chosen.has(t)).map(dev));
    expect(minChosen).toBeGreaterThanOrEqual(maxLeft);
    // The probe's fresh keys of layer 1 equal a full prefill's.
    const fullLayer1 = sliceKv(full.present, 36, 76).layers[1];
    expect(maxDiff(fresh.key, fullLayer1.key)).toBeLessThan(1e-4);
  });

  it('refuses bad input with the reason', async () => {
    const kv = await cacheOf(a);
    await expect(blendPrefill(model, prompt, [{ start: 0, kv }], { recompute: 1.5 })).rejects.toMatchObject({ code: InferenceErrorCode.InputMismatch, message: expect.stringMatching(/recompute fraction 1.5/) });
    await expect(blendPrefill(model, prompt, [{ start: 0, kv }, { start: 10, kv }], { recompute: 0 })).rejects.toThrow(/overlaps/);
    await expect(blendPrefill(model, prompt, [{ start: 0, kv: sliceKv(kv, 0, 5) }], { recompute: 0.5, selectLayer: 3 })).rejects.toThrow(/selectLayer 3/);
  });

  it('is refused by a model without past positions (an ONNX export), which prefills instead', async () => {
    const exportDir = join(root, 'export');
    createTinyModel({ outDir: exportDir, layers: 1, hidden: 16, heads: 2, vocab: 300, seed: 2 });
    const src = openModelDirectory(exportDir);
    writeOnnxModel(buildLlamaGraph(src.config, loadModelWeights(src), { memoryInputs: false }).model(), join(exportDir, 'model.onnx'));
    rmSync(join(exportDir, 'model.safetensors'));
    const exported = await loadLanguageModel(exportDir, registry);
    expect(exported.supportsPastPositions).toBe(false);
    await expect(blendPrefill(exported, [1, 2, 3], [], { recompute: 0 })).rejects.toThrow(/cannot re-place KV/);
  });
});
