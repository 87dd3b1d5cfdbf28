// bench:kv, multi-cache reuse (ADR 0204): a prompt of several memory texts, each with its
// own KV cache built alone (as clients build them), then a question. Against a full prefill
// of the same prompt, in the same process: time to first token (prefill/blend + the first
// token's logits) and quality by fraction recomputed: greedy-token agreement and KL of the
// next-token distributions over the answer (teacher-forced on the full prefill's greedy
// continuation), plus today's behaviour (first cache as a prefix, the rest prefilled).
import { performance } from 'node:perf_hooks';
import { chatPromptTokens, memoryPrefixTokens, placeCaches } from '@engram/activation';
import { argmax, blendPrefill, KvState, LanguageModel, mulberry32, sliceKv, type BlendSegment } from '@engram/inference';
import { ATTRIBUTES, makePeople, question } from './parametric-world';
import { shortBio } from './trained-tiny-model';

export interface BlendRow {
  mode: string;
  recompute: number | null;
  ttftMs: number;
  speedup: number;
  reusedTokens: number;
  recomputedTokens: number;
  prefilledTokens: number;
  greedyAgreement: number;
  meanKl: number;
  maxKl: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(logits, (v) => v - lse);
}

/** KL(p || q) of two logit rows. */
function kl(p: Float32Array, q: Float32Array): number {
  const lp = logSoftmax(p);
  const lq = logSoftmax(q);
  let d = 0;
  for (let i = 0; i < lp.length; i++) d += Math.exp(lp[i]) * (lp[i] - lq[i]);
  return Math.max(0, d);
}

/** Logit rows of the first answer token and the teacher-forced continuation after a prefilled prompt. */
async function answerLogits(model: LanguageModel, first: Float32Array, present: KvState, continuation: number[]): Promise<Float32Array[]> {
  const V = model.config.vocabSize;
  const rows = [first];
  if (continuation.length > 0) {
    const out = await model.forward({ inputIds: continuation, past: present, allLogits: true });
    for (let i = 0; i < continuation.length; i++) rows.push(out.logits.slice(i * V, (i + 1) * V));
  }
  return rows;
}

export async function measureBlend(model: LanguageModel, o: { segments: number; prompts: number; reps: number; answerTokens: number; fractions: number[]; selectLayer?: number; seed?: number }): Promise<{ rows: BlendRow[]; promptTokens: number }> {
  const rnd = mulberry32(o.seed ?? 11);
  const fractions = o.fractions;
  const stats = new Map<string, { ttft: number[]; agree: number; total: number; kl: number[]; reused: number; recomputed: number; prefilled: number }>();
  const stat = (mode: string) => stats.get(mode) ?? (stats.set(mode, { ttft: [], agree: 0, total: 0, kl: [], reused: 0, recomputed: 0, prefilled: 0 }), stats.get(mode)!);
  let promptTokens = 0;
  for (let n = 0; n < o.prompts; n++) {
    const people = makePeople(o.segments, rnd, new Set());
    const texts = people.map((p) => shortBio(p, rnd));
    const asked = people[Math.floor(rnd() * people.length)];
    const messages = [...texts.map((content) => ({ role: 'system', content })), { role: 'user', content: question(asked, Math.floor(rnd() * ATTRIBUTES.length)) }];
    const prompt = chatPromptTokens(model.tokenizer, messages);
    promptTokens = prompt.length;
    // Each cache is built alone, as a client builds it: the text as a leading system message.
    const cacheTokens = texts.map((t) => memoryPrefixTokens(model.tokenizer, t));
    const caches = await Promise.all(cacheTokens.map(async (t) => (await model.prefill(t)).present));
    const segments: BlendSegment[] = placeCaches(prompt, cacheTokens).map((p) => ({ start: p.start, builtAt: p.builtAt, kv: sliceKv(caches[p.index], p.builtAt, p.builtAt + p.length) }));

    // Reference: full prefill, its greedy answer.
    let full = await model.prefill(prompt);
    const greedy: number[] = [argmax(full.logits)];
    for (let pres = full.present, last = full.logits; greedy.length < o.answerTokens; ) {
      const step = await model.forward({ inputIds: [greedy[greedy.length - 1]], past: pres });
      pres = step.present;
      last = step.logits;
      greedy.push(argmax(last));
    }
    const reference = await answerLogits(model, full.logits, full.present, greedy.slice(0, -1));
    const score = (mode: string, rows: Float32Array[]): void => {
      const s = stat(mode);
      rows.forEach((r, i) => {
        s.total++;
        if (argmax(r) === greedy[i]) s.agree++;
        s.kl.push(kl(reference[i], r));
      });
    };
    for (let rep = 0; rep < o.reps; rep++) {
      // Modes alternate within a repetition so machine load hits them alike.
      let t = performance.now();
      full = await model.prefill(prompt);
      stat('full prefill').ttft.push(performance.now() - t);
      t = performance.now();
      const first = segments[0];
      const today = await model.prefill(prompt.slice(first.kv.seq), { past: first.kv });
      stat('prefix only (first cache)').ttft.push(performance.now() - t);
      if (rep === 0) {
        score('prefix only (first cache)', await answerLogits(model, today.logits, today.present, greedy.slice(0, -1)));
        Object.assign(stat('prefix only (first cache)'), { reused: first.kv.seq, prefilled: prompt.length - first.kv.seq });
      }
      for (const f of fractions) {
        const mode = `blend ${Math.round(f * 100)}%`;
        t = performance.now();
        const b = await blendPrefill(model, prompt, segments, { recompute: f, selectLayer: o.selectLayer });
        stat(mode).ttft.push(performance.now() - t);
        if (rep === 0) {
          score(mode, await answerLogits(model, b.logits, b.present, greedy.slice(0, -1)));
          Object.assign(stat(mode), { reused: b.exactTokens + b.reusedTokens, recomputed: b.recomputedTokens, prefilled: b.prefilledTokens });
        }
      }
    }
    score('full prefill', reference);
    Object.assign(stat('full prefill'), { prefilled: prompt.length });
  }
  const base = median(stat('full prefill').ttft);
  const rows = [...stats.entries()].map(([mode, s]) => {
    const f = /blend (\d+)%/.exec(mode);
    return {
      mode,
      recompute: f ? Number(f[1]) / 100 : null,
      ttftMs: r3(median(s.ttft)),
      speedup: r3(base / median(s.ttft)),
      reusedTokens: s.reused,
      recomputedTokens: s.recomputed,
      prefilledTokens: s.prefilled,
      greedyAgreement: r3(s.agree / s.total),
      meanKl: Number((s.kl.reduce((a, b) => a + b, 0) / s.kl.length).toExponential(2)),
      maxKl: Number(Math.max(...s.kl).toExponential(2)),
    };
  });
  return { rows, promptTokens };
}
