import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '@engram/inference';
import { HashEmbedder } from '@engram/plaintext';
import { ParametricBank, type BankText } from './parametric-bank';
import { ParametricErrorCode } from './parametric.error';
import { sampleAnchorSequences } from './training/anchor-replay';
import { trainAnchor } from './training/anchor-trainer';
import { freshBlock, trainBlocksWith, type AnchorModel } from './training/block-trainer';
import type { MemoryGradientEngine } from './training/memory-gradient.engine';
import { forwardBackward, type Memory64 } from './training/llama-backprop';
import { initParams64, tinyLlamaConfig } from './training/llama-init';
import { ANCHOR_REPLAY_FILE, DEFAULT_REPLAY, type ReplaySettings } from './write-replay';

// A tiny anchor trained here on generic sentences, a bank over people it never saw, and
// the server's write (write-replay + writeAsync on the ONNX gradient graph, as BankJobs
// runs it) with and without replay sampled from the anchor.
const NOUNS = ['cat', 'dog', 'river', 'market', 'teacher', 'train', 'garden', 'letter'];
const ADJ = ['small', 'old', 'green', 'quiet', 'busy', 'bright'];
const VERBS = ['sees', 'finds', 'likes', 'follows', 'paints', 'opens'];
const CITIES = ['lisbon', 'oslo', 'kyoto', 'lima', 'dakar', 'quito', 'hanoi', 'perth'];
const PEOPLE = ['zorvan', 'mabeli', 'pirado', 'sulani', 'fodrik', 'nitera', 'belona', 'karstu'];
/** People the anchor learns about, so it knows the phrasing (not the long tail). */
const FAMOUS = ['tadeko', 'rumila', 'gosvin', 'lepata'];
const words = ['<bos>', 'the', 'a', 'is', 'near', 'in', 'lives', '.', ...NOUNS, ...ADJ, ...VERBS, ...CITIES, ...PEOPLE, ...FAMOUS];
const vocab = new Map(words.map((w, i) => [w, i]));
const tokenize = (t: string) => [0, ...t.split(' ').filter(Boolean).map((w) => vocab.get(w)!)];

function generic(rnd: () => number): string {
  const pick = (xs: string[]) => xs[Math.floor(rnd() * xs.length)];
  return rnd() < 0.5
    ? `the ${pick(ADJ)} ${pick(NOUNS)} ${pick(VERBS)} a ${pick(NOUNS)} .`
    : `a ${pick(NOUNS)} in ${pick(CITIES)} is near the ${pick(ADJ)} ${pick(NOUNS)} .`;
}

const config = tinyLlamaConfig({ vocab: words.length, hidden: 24, layers: 1, heads: 2, intermediate: 48, maxPositions: 24 });
const rnd = mulberry32(5);
const train = [...Array.from({ length: 400 }, () => generic(rnd)), ...FAMOUS.flatMap((p, i) => new Array<string>(10).fill(`${p} lives in ${CITIES[i]} .`))];
const heldOut = Array.from({ length: 60 }, () => generic(rnd)).map(tokenize);
const params = initParams64(config, 7);
trainAnchor(config, params, train.map(tokenize), { steps: 250, batch: 8, lr: 1e-2, seed: 3 });
const anchor: AnchorModel = { config, params, fingerprint: 'tiny-trained-anchor', tokenize };
const facts: BankText[] = PEOPLE.map((p, i) => ({ id: `m${i}`, text: `${p} lives in ${CITIES[(i * 3) % CITIES.length]} .` }));
const embedder = new HashEmbedder({ dimension: 64 });

const toMem = (b: { rank: number; gate: Float32Array; up: Float32Array; down: Float32Array }): Memory64 => ({ rank: b.rank, gate: Float64Array.from(b.gate), up: Float64Array.from(b.up), down: Float64Array.from(b.down) });

function perplexity(bank: ParametricBank | null, paths: number[][]): number {
  let nll = 0;
  let n = 0;
  heldOut.forEach((ids, i) => {
    const r = forwardBackward(config, params, ids, bank ? toMem(bank.fetchConcatenated(paths[i])) : undefined, { forwardOnly: true });
    nll += r.loss * r.count;
    n += r.count;
  });
  return Math.exp(nll / n);
}

function recalled(bank: ParametricBank): number {
  return PEOPLE.filter((p, i) => {
    const ids = tokenize(`${p} lives in`);
    const out = forwardBackward(config, params, ids, toMem(bank.fetchConcatenated(bank.tree.pathOf(`m${i}`)!)), { keepLogits: true, forwardOnly: true });
    const row = out.logits!.subarray((ids.length - 1) * config.vocabSize, ids.length * config.vocabSize);
    return row.indexOf(Math.max(...row)) === vocab.get(CITIES[(i * 3) % CITIES.length]);
  }).length;
}

/** Builds a bank, writes every fact through the server's path with `replay`, returns locality and recall. */
async function serverWrite(dir: string, replay: ReplaySettings, cubeTexts: readonly BankText[] = facts) {
  const bank = await ParametricBank.build({ dir, modelFingerprint: anchor.fingerprint, hidden: 24, layers: 1, embedder, texts: facts, levels: 2, branching: 2, ranks: [4, 8], seed: 1 });
  try {
    const paths = await Promise.all(heldOut.map((ids) => bank.route(embedder, ids.slice(1).map((i) => words[i]).join(' '))));
    const before = perplexity(bank, paths);
    const plan = await bank.replayFor(anchor, replay, { embedder, texts: cubeTexts });
    await bank.writeAsync(anchor, facts.map((t) => t.id), facts, { epochs: 200, gradient: 'onnx', ...plan.options });
    return { pplChange: perplexity(bank, paths) / before - 1, recalled: recalled(bank), plan };
  } finally {
    bank.close();
  }
}

describe('replay for server writes', () => {
  let root: string;
  beforeAll(() => (root = mkdtempSync(join(tmpdir(), 'pbank-replay-'))));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('samples the same sequences from the anchor for a seed, starting at the BOS and within the model’s positions', () => {
    const a = sampleAnchorSequences(anchor, { count: 5, maxTokens: 12, seed: 4 });
    expect(sampleAnchorSequences(anchor, { count: 5, maxTokens: 12, seed: 4 })).toEqual(a);
    expect(sampleAnchorSequences(anchor, { count: 5, maxTokens: 12, seed: 5 })).not.toEqual(a);
    for (const s of a) {
      expect(s[0]).toBe(0);
      expect(s.length).toBe(12);
    }
    // The anchor learnt how its sentences start (the, a, a famous name: 8 of 57 words); so do most samples.
    const starts = new Set(['the', 'a', ...FAMOUS].map((w) => vocab.get(w)));
    const many = sampleAnchorSequences(anchor, { count: 40, maxTokens: 3, seed: 6 });
    expect(many.filter((s) => starts.has(s[1])).length).toBeGreaterThanOrEqual(32);
  });

  it('changes held-out perplexity far less with anchor replay than without, and still recalls the facts', async () => {
    const without = await serverWrite(join(root, 'none'), { ...DEFAULT_REPLAY, source: 'none' });
    const withReplay = await serverWrite(join(root, 'anchor'), DEFAULT_REPLAY);
    expect(withReplay.plan.sequences).toBe(DEFAULT_REPLAY.samples);
    // Measured: +35.6% without replay, +0.6% with it (other data seeds: 34.9/0.4%, 39.9/0.3%).
    expect(without.pplChange).toBeGreaterThan(0.1);
    expect(withReplay.pplChange).toBeLessThan(without.pplChange / 10);
    expect(without.recalled).toBeGreaterThanOrEqual(6);
    expect(withReplay.recalled).toBeGreaterThanOrEqual(6);
  });

  it('caches the anchor samples in the bank directory and reuses them for the same model', async () => {
    const dir = join(root, 'cache');
    const bank = await ParametricBank.build({ dir, modelFingerprint: anchor.fingerprint, hidden: 24, layers: 1, embedder, texts: facts, levels: 2, branching: 2, ranks: [4, 8], seed: 1 });
    try {
      const first = await bank.replayFor(anchor, { ...DEFAULT_REPLAY, samples: 6 });
      expect(first.cached).toBe(false);
      expect(existsSync(join(dir, ANCHOR_REPLAY_FILE))).toBe(true);
      const again = await bank.replayFor(anchor, { ...DEFAULT_REPLAY, samples: 6 });
      expect(again).toMatchObject({ cached: true, sequences: 6 });
      expect(again.options.replaySequences).toEqual(first.options.replaySequences);
      expect((await bank.replayFor({ ...anchor, fingerprint: 'other' }, { ...DEFAULT_REPLAY, samples: 6 })).cached).toBe(false);
    } finally {
      bank.close();
    }
  });

  it('replays other memories of the cube, each tagged with its leaf, and leaves deleted ones out', async () => {
    const dir = join(root, 'memories');
    const bank = await ParametricBank.build({ dir, modelFingerprint: anchor.fingerprint, hidden: 24, layers: 1, embedder, texts: facts, levels: 2, branching: 2, ranks: [4, 8], seed: 1 });
    try {
      bank.deleteMemories(['m0']);
      const extra = { id: 'new', text: 'zorvan lives in oslo .' };
      const plan = await bank.replayFor(anchor, { ...DEFAULT_REPLAY, source: 'memories' }, { embedder, texts: [...facts, extra] });
      expect(plan.sequences).toBe(facts.length);
      expect(plan.options.replayLeaves).toHaveLength(facts.length);
      expect(plan.options.replaySequences).not.toContainEqual(tokenize(facts[0].text));
      expect(plan.options.replaySequences).toContainEqual(tokenize(extra.text));
      expect(bank.tree.leaves.has('new')).toBe(false); // routed for replay, not assigned
      await expect(bank.replayFor(anchor, { ...DEFAULT_REPLAY, source: 'memories' }, { texts: [extra] })).rejects.toMatchObject({ code: ParametricErrorCode.InvalidConfig });
    } finally {
      bank.close();
    }
  });

  it('never replays text of the step’s own level-1 cluster when replay sequences carry leaves', async () => {
    // Leaves 0,1 under level-1 node 0; leaves 2,3 under node 1. Replay: one sequence per leaf and one without a leaf.
    const pathOf = (leaf: number) => [leaf < 2 ? 0 : 1, leaf];
    const replay = [[0, 1], [0, 2], [0, 3], [0, 4], [0, 5]];
    const replayLeaves = [0, 1, 2, 3, null];
    const seen: Array<{ top: number; replayed: number[] }> = [];
    let current: { top: number; replayed: number[] } | null = null;
    const engine: MemoryGradientEngine = {
      kind: 'typescript',
      accumulate: async (ids, _memory, _grad, _scale, soft, firstTarget) => {
        if (firstTarget !== undefined) {
          current = { top: ids[1] < 20 ? 0 : 1, replayed: [] }; // facts of leaves 0,1 use token 10, leaves 2,3 token 30
          seen.push(current);
        } else if (soft) current!.replayed.push(replay.indexOf(ids as number[]));
        return 1;
      },
      dispose: async () => undefined,
    };
    const trainable = new Map([['1:0', freshBlock(1, 0, 2, 24, 1, 1)], ['1:1', freshBlock(1, 1, 2, 24, 1, 2)]]);
    const leaves = new Map([[0, [[0, 10, 11]]], [1, [[0, 10, 12]]], [2, [[0, 30, 31]]], [3, [[0, 30, 32]]]]);
    const soft = replay.map(() => new Float64Array(1));
    await trainBlocksWith(engine, anchor, trainable, (level, node) => freshBlock(level, node, level === 1 ? 2 : 0, 24, 1, 3), { leaves, pathOf, replay, replayTargets: soft, replayLeaves }, { steps: 40, replayPerStep: 3 });
    expect(seen).toHaveLength(40);
    for (const step of seen) {
      expect(step.replayed).toHaveLength(3);
      for (const i of step.replayed) expect(replayLeaves[i] === null || pathOf(replayLeaves[i]!)[0] !== step.top).toBe(true);
    }
    expect(new Set(seen.flatMap((s) => s.replayed))).toEqual(new Set([0, 1, 2, 3, 4]));
  });

  it('refuses settings out of range', async () => {
    const dir = join(root, 'bad');
    const bank = await ParametricBank.build({ dir, modelFingerprint: anchor.fingerprint, hidden: 24, layers: 1, embedder, texts: facts, levels: 2, branching: 2, ranks: [4, 8], seed: 1 });
    try {
      for (const bad of [{ perStep: 0 }, { weight: -1 }, { samples: 1.5 }, { source: 'web' as never }]) {
        await expect(bank.replayFor(anchor, { ...DEFAULT_REPLAY, ...bad })).rejects.toMatchObject({ code: ParametricErrorCode.InvalidConfig });
      }
    } finally {
      bank.close();
    }
  });
});
