// A tiny decoder trained here (a few hundred AdamW steps on CPU) so that its attention is
// not random: bios of synthetic people (the world of bench:parametric), each followed by a
// question about that person and its answer, so predicting the answer means attending
// back to the bio. Written as a normal model directory (safetensors + tokenizer).
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createTinyModel, mulberry32, writeSafetensors, type TensorToWrite } from '@engram/inference';
import { loadAnchorModel, toLlamaWeights, trainAnchorOnnx } from '@engram/parametric';
import { ATTRIBUTES, makePeople, question, type Person } from './parametric-world';

export interface TrainedTinyModelOptions {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  steps: number;
  maxPositions: number;
  seed?: number;
}

/** One phrasing per attribute, shuffled: "<n> lives in <v> . <n> works for <v> . …" */
export function shortBio(p: Person, rnd: () => number): string {
  const s = ATTRIBUTES.map((a, i) => a.templates[Math.floor(rnd() * a.templates.length)].replace('{n}', p.name).replace('{v}', p.values[i]));
  for (let i = s.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [s[i], s[j]] = [s[j], s[i]];
  }
  return s.join(' ');
}

/** "<bio> <question> <answer> ." */
export const qaText = (p: Person, rnd: () => number, attr = Math.floor(rnd() * ATTRIBUTES.length)): string => `${shortBio(p, rnd)} ${question(p, attr)} ${p.values[attr]} .`;

export async function createTrainedTinyModel(dir: string, o: TrainedTinyModelOptions): Promise<{ loss: number; trainMs: number }> {
  const seed = o.seed ?? 3;
  createTinyModel({ outDir: dir, layers: o.layers, hidden: o.hidden, heads: o.heads, kvHeads: o.kvHeads, intermediate: o.hidden * 3, vocab: 512, seed, maxPositionEmbeddings: o.maxPositions });
  const anchor = loadAnchorModel(dir);
  const rnd = mulberry32(seed);
  const people = makePeople(400, rnd, new Set());
  const sequences = people.map((p) => anchor.tokenize(`${qaText(makePeople(1, rnd, new Set())[0], rnd)} ${qaText(p, rnd)}`));
  const start = performance.now();
  const loss = await trainAnchorOnnx(anchor.config, anchor.params, sequences, { steps: o.steps, batch: 8, lr: 3e-3, seed });
  const w = toLlamaWeights(anchor.config, anchor.params);
  const tensors: Record<string, TensorToWrite> = {};
  const put = (name: string, shape: number[], data: Float32Array): void => void (tensors[name] = { shape, data, dtype: 'F32' });
  put('model.embed_tokens.weight', [w.embed.rows, w.embed.cols], w.embed.data);
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}`;
    put(`${p}.input_layernorm.weight`, [l.inputNorm.length], l.inputNorm);
    for (const [name, m] of [['self_attn.q_proj', l.q], ['self_attn.k_proj', l.k], ['self_attn.v_proj', l.v], ['self_attn.o_proj', l.o], ['mlp.gate_proj', l.gate], ['mlp.up_proj', l.up], ['mlp.down_proj', l.down]] as const) {
      put(`${p}.${name}.weight`, [m.rows, m.cols], m.data);
    }
    put(`${p}.post_attention_layernorm.weight`, [l.postNorm.length], l.postNorm);
  });
  put('model.norm.weight', [w.finalNorm.length], w.finalNorm);
  put('lm_head.weight', [w.lmHead.rows, w.lmHead.cols], w.lmHead.data);
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  return { loss, trainMs: performance.now() - start };
}
