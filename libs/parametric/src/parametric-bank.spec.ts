import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLlamaGraph, DEFAULT_MEMORY_SLOTS, encodeOnnxModel, floatTensor, memoryFeeds, int64Tensor, OnnxSessionRegistry, pastKeyName, pastValueName } from '@engram/inference';
import { HashEmbedder } from '@engram/plaintext';
import { BANK_FILE, ParametricBank, PROVENANCE_FILE, TREE_FILE, type BankText } from './parametric-bank';
import { placementKey } from './tree/cluster-tree';
import { ParametricErrorCode } from './parametric.error';
import { forwardBackward, toLlamaWeights, type Memory64 } from './training/llama-backprop';
import { initParams64, tinyLlamaConfig } from './training/llama-init';
import type { AnchorModel } from './training/block-trainer';

const PEOPLE = [
  ['zorvan', 'keltt', 'lisbon'],
  ['mabeli', 'tusar', 'oslo'],
  ['pirado', 'venmo', 'kyoto'],
  ['sulani', 'grede', 'lima'],
  ['fodrik', 'amsel', 'dakar'],
  ['nitera', 'bolum', 'quito'],
];
const words = ['<bos>', 'lives', 'in', 'the', 'home', 'of', 'is', '.', ...PEOPLE.flat()];
const vocab = new Map(words.map((w, i) => [w, i]));
const tokenize = (t: string) => [0, ...t.split(' ').map((w) => vocab.get(w)!)];
const config = tinyLlamaConfig({ vocab: words.length, hidden: 16, layers: 1, heads: 2, intermediate: 32, maxPositions: 32 });
const anchor: AnchorModel = { config, params: initParams64(config, 3), fingerprint: 'tiny-anchor', tokenize, segment: (t) => t.split(' | ') };
const texts: BankText[] = PEOPLE.map(([a, b, c], i) => ({ id: `m${i}`, text: `${a} ${b} lives in ${c} . | the home of ${a} ${b} is ${c} .` }));
const question = (i: number) => `${PEOPLE[i][0]} ${PEOPLE[i][1]} lives in`;
const embedder = new HashEmbedder({ dimension: 64 });

const toMem = (b: { rank: number; gate: Float32Array; up: Float32Array; down: Float32Array }): Memory64 => ({
  rank: b.rank,
  gate: Float64Array.from(b.gate),
  up: Float64Array.from(b.up),
  down: Float64Array.from(b.down),
});

function answer(bank: ParametricBank | null, i: number, path?: number[]): { hit: boolean; nll: number } {
  const ids = tokenize(question(i));
  const target = vocab.get(PEOPLE[i][2])!;
  const mem = bank ? toMem(bank.fetchConcatenated(path ?? bank.tree.pathOf(`m${i}`)!)) : undefined;
  const out = forwardBackward(config, anchor.params, [...ids, target], mem, { keepLogits: true, forwardOnly: true });
  const V = config.vocabSize;
  const row = out.logits!.subarray((ids.length - 1) * V, ids.length * V);
  const max = Math.max(...row);
  const lse = Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0)) + max;
  return { hit: row.indexOf(max) === target, nll: lse - row[target] };
}

describe('ParametricBank', () => {
  let dir: string;
  let bank: ParametricBank;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pbank-'));
    bank = await ParametricBank.build({ dir, modelFingerprint: 'tiny-anchor', hidden: 16, layers: 1, embedder, texts, levels: 2, branching: 2, ranks: [4, 8], seed: 1 });
    bank.write(anchor, texts.map((t) => t.id), texts, { epochs: 100, batch: 4, lr: 0.03, seed: 2 });
  });
  afterAll(() => {
    bank.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes a question about a person to the leaf holding their memory', async () => {
    for (let i = 0; i < PEOPLE.length; i++) expect(await bank.route(embedder, question(i))).toEqual(bank.tree.pathOf(`m${i}`));
  });

  it('abstains on text the bank holds nothing about', async () => {
    expect(await bank.routeOrAbstain(embedder, 'a green garden is near the quiet river', 0.3)).toBeNull();
    expect((await bank.routeOrAbstain(embedder, question(4), 0.3))?.path).toEqual(bank.tree.pathOf('m4'));
  });

  it('recalls written facts with the routed block and not without it', () => {
    const withBlock = PEOPLE.filter((_, i) => answer(bank, i).hit).length;
    const alone = PEOPLE.filter((_, i) => answer(null, i).hit).length;
    expect(withBlock).toBeGreaterThanOrEqual(5);
    expect(alone).toBeLessThanOrEqual(1);
  });

  it('records which memories were written into each block', () => {
    const path = bank.tree.pathOf('m2')!;
    expect(bank.provenance.get(2, path[1])!.memoryIds).toContain('m2');
    expect(bank.provenance.get(1, path[0])!.memoryIds).toContain('m2');
    expect(bank.inspect().levels.map((l) => l.writtenBlocks).reduce((a, b) => a + b)).toBeGreaterThan(2);
  });

  it('feeds the fetched blocks, one per level, to the ONNX graph with the same result as the TypeScript pass', async () => {
    const registry = new OnnxSessionRegistry();
    try {
      const session = await registry.acquire({ key: 'pbank-spec', build: () => encodeOnnxModel(buildLlamaGraph(config, toLlamaWeights(config, anchor.params)).model()) });
      const ids = tokenize(question(1));
      const blocks = bank.fetch(bank.tree.pathOf('m1')!);
      expect(blocks.map((b) => b.rank)).toEqual([4, 8]);
      const out = await session.run({
        input_ids: int64Tensor(ids, [1, ids.length]),
        attention_mask: int64Tensor(ids.map(() => 1), [1, ids.length]),
        position_ids: int64Tensor(ids.map((_, i) => i), [1, ids.length]),
        [pastKeyName(0)]: floatTensor(new Float32Array(0), [1, 2, 0, 8]),
        [pastValueName(0)]: floatTensor(new Float32Array(0), [1, 2, 0, 8]),
        ...memoryFeeds(blocks, DEFAULT_MEMORY_SLOTS, 1, 16),
      });
      const ts = forwardBackward(config, anchor.params, ids, toMem(bank.fetchConcatenated(bank.tree.pathOf('m1')!)), { keepLogits: true, forwardOnly: true }).logits!;
      const ort = out.logits.data as Float32Array;
      for (let i = 0; i < ort.length; i++) expect(ort[i]).toBeCloseTo(ts[i], 3);
    } finally {
      await registry.disposeAll();
    }
  });

  it('refuses to reopen for another model and to write with another anchor', () => {
    expect(() => ParametricBank.open(dir, { modelFingerprint: 'other' })).toThrow(expect.objectContaining({ code: ParametricErrorCode.ModelMismatch }));
    expect(() => bank.write({ ...anchor, fingerprint: 'other' }, ['m0'], texts)).toThrow(expect.objectContaining({ code: ParametricErrorCode.ModelMismatch }));
  });

  it('forgets a deleted memory after the rewrite while its neighbours keep theirs', () => {
    const victim = 0;
    const before = answer(bank, victim);
    expect(before.hit).toBe(true);
    const stale = bank.deleteMemories(['m0']);
    expect(stale.length).toBe(2);
    bank.rewriteStale(anchor, texts, { epochs: 60, batch: 4, lr: 0.03, seed: 3 });
    const after = answer(bank, victim);
    expect(after.hit).toBe(false);
    expect(after.nll).toBeGreaterThan(before.nll + 1);
    expect(bank.provenance.staleBlocks()).toHaveLength(0);
    expect(bank.provenance.holding('m0')).toHaveLength(0);
    const neighbours = PEOPLE.map((_, i) => i).filter((i) => i !== victim && bank.tree.pathOf(`m${i}`)![0] === bank.tree.pathOf('m0')![0]);
    for (const i of neighbours) expect(answer(bank, i).hit).toBe(true);
  });

  it('trains the same way with gradients from the ONNX gradient graph on ONNX Runtime', async () => {
    const make = async (name: string) =>
      ParametricBank.build({ dir: join(dir, name), modelFingerprint: 'tiny-anchor', hidden: 16, layers: 1, embedder, texts, levels: 2, branching: 2, ranks: [4, 8], seed: 1 });
    const a = await make('ts');
    const b = await make('onnx');
    const ts = a.write(anchor, ['m1', 'm4'], texts, { steps: 12, batch: 4, lr: 0.03, seed: 5 });
    const ort = await b.writeAsync(anchor, ['m1', 'm4'], texts, { steps: 12, batch: 4, lr: 0.03, seed: 5, gradient: 'onnx' });
    expect(ort.gradient).toBe('onnx');
    expect(ort.firstLoss).toBeCloseTo(ts.firstLoss, 4);
    expect(Math.abs(ort.finalLoss - ts.finalLoss)).toBeLessThan(0.05 * ts.finalLoss);
    expect(ort.finalLoss).toBeLessThan(ort.firstLoss);
    a.close();
    b.close();
  });

  it('does not shift the prediction made from the BOS alone, which every text pays for, unless told to score it', async () => {
    // The first prediction of any text is made from the BOS alone, the same for every text:
    // a block's effect there reaches all text. Replay of unrelated text pulls it back toward
    // the anchor; scoring the facts there pushes it toward the cluster's names.
    const replay = ['the home is in lisbon .', 'oslo is the home of lima .', 'the home of the home is kyoto .', 'lives in the home .', 'in quito is the home .', 'the home of dakar .'];
    const bosShift = async (name: string, factsFirstTarget?: number) => {
      const b = await ParametricBank.build({ dir: join(dir, name), modelFingerprint: 'tiny-anchor', hidden: 16, layers: 1, embedder, texts, levels: 2, branching: 2, ranks: [4, 8], seed: 1 });
      b.write(anchor, texts.map((t) => t.id), texts, { epochs: 100, batch: 4, lr: 0.03, seed: 2, factsFirstTarget, replay, replayTarget: 'anchor', replayPerStep: 2, replayWeight: 4 });
      const V = config.vocabSize;
      const dist = (mem?: Memory64) => {
        const row = forwardBackward(config, anchor.params, [0], mem, { keepLogits: true, forwardOnly: true }).logits!.subarray(0, V);
        const max = Math.max(...row);
        const z = row.reduce((a, x) => a + Math.exp(x - max), 0);
        return Array.from(row, (x) => Math.exp(x - max) / z);
      };
      const p = dist();
      let kl = 0;
      for (let i = 0; i < PEOPLE.length; i++) {
        const q = dist(toMem(b.fetchConcatenated(b.tree.pathOf(`m${i}`)!)));
        kl += p.reduce((a, pj, j) => a + pj * Math.log(pj / q[j]), 0) / PEOPLE.length;
      }
      const recalled = PEOPLE.filter((_, i) => answer(b, i).hit).length;
      b.close();
      return { kl, recalled };
    };
    const scored = await bosShift('bos-scored', 1);
    const left = await bosShift('bos-left-out');
    expect(left.kl).toBeLessThan(0.1 * scored.kl);
    expect(left.recalled).toBeGreaterThanOrEqual(5);
  });

  it('zeroes a block so it has no effect, and a locked block is not retrained', () => {
    const path = bank.tree.pathOf('m3')!;
    bank.lock(2, path[1]);
    const locked = bank.store.block(2, path[1]);
    const parent = bank.store.block(1, path[0]);
    bank.write(anchor, ['m3'], texts, { steps: 3, lr: 0.05 });
    expect(bank.store.block(2, path[1])).toEqual(locked);
    expect(bank.store.block(1, path[0]).down).not.toEqual(parent.down);
    expect(bank.isLocked(2, path[1])).toBe(true);
    bank.zero(2, path[1]);
    bank.zero(1, path[0]);
    const z = bank.fetchConcatenated(path);
    expect(z.down.every((v) => v === 0)).toBe(true);
    const reopened = ParametricBank.open(dir, { modelFingerprint: 'tiny-anchor', embedderFingerprint: embedder.fingerprint });
    expect(reopened.fetch(path).every((b) => b.down.every((v) => v === 0))).toBe(true);
    expect(reopened.provenance.get(2, path[1])!.memoryIds).toEqual([]);
    reopened.close();
  });

  it('routes and fetches with a damaged provenance sidecar; only what reads provenance fails, clearly', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'pbank-copy-'));
    try {
      for (const f of [BANK_FILE, TREE_FILE]) copyFileSync(join(dir, f), join(copy, f));
      writeFileSync(join(copy, PROVENANCE_FILE), '{"format":"engram-bank-prov');
      const damaged = ParametricBank.open(copy, { modelFingerprint: 'tiny-anchor', embedderFingerprint: embedder.fingerprint });
      try {
        const path = await damaged.route(embedder, texts[1].text);
        expect(path).toEqual(await bank.route(embedder, texts[1].text));
        expect(damaged.fetchConcatenated(path)).toEqual(bank.fetchConcatenated(path));
        expect(() => damaged.provenance).toThrow(expect.objectContaining({ code: ParametricErrorCode.BankCorrupt }));
      } finally {
        damaged.close();
      }
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('ParametricBank.changedSince (what a server copies into its own record after a commit)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pbank-changed-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const open = () => ParametricBank.open(dir, { modelFingerprint: 'tiny-anchor', embedderFingerprint: embedder.fingerprint });
  const nodesOf = (b: ParametricBank, id: string) => b.tree.pathOf(id)!.map((node, i) => ({ level: i + 1, node }));

  it('reports the blocks a commit wrote with their sidecar records, and nothing for the generation it is at', async () => {
    const bank = await ParametricBank.build({ dir, modelFingerprint: 'tiny-anchor', hidden: 16, layers: 1, embedder, texts, levels: 2, branching: 2, ranks: [4, 8], seed: 1 });
    const before = bank.file.generation;
    const report = bank.write(anchor, ['m0'], texts, { steps: 2 });
    const changed = bank.changedSince(before);
    expect(changed.map(({ level, node }) => ({ level, node }))).toEqual(nodesOf(bank, 'm0'));
    for (const c of changed) expect(c).toMatchObject({ known: true, stale: false, locked: false, generation: report.generation, memoryIds: bank.provenance.get(c.level, c.node)!.memoryIds });
    expect(bank.changedSince(report.generation)).toEqual([]);
    bank.lock(1, nodesOf(bank, 'm0')[0].node);
    expect(bank.changedSince(report.generation)).toEqual([expect.objectContaining({ level: 1, known: true, locked: true, memoryIds: changed[0].memoryIds })]);
    bank.close();
  });

  it('reports a block committed without its sidecar record (a crash between the two) as stale, holding every text of its cluster', async () => {
    const bank = await ParametricBank.build({ dir, modelFingerprint: 'tiny-anchor', hidden: 16, layers: 1, embedder, texts, levels: 2, branching: 2, ranks: [4, 8], seed: 1 });
    const before = bank.file.generation;
    copyFileSync(join(dir, PROVENANCE_FILE), join(dir, 'provenance.before'));
    bank.write(anchor, ['m1'], texts, { steps: 2 });
    bank.close();
    copyFileSync(join(dir, 'provenance.before'), join(dir, PROVENANCE_FILE)); // the sidecar of the previous generation
    const reopened = open();
    const changed = reopened.changedSince(before);
    expect(changed.map(({ level, node }) => ({ level, node }))).toEqual(nodesOf(reopened, 'm1'));
    for (const c of changed) {
      const cluster = texts.filter((t) => reopened.tree.contains(c.level, c.node, reopened.tree.leaves.get(t.id)!)).map((t) => t.id);
      expect(c).toMatchObject({ known: false, stale: true, generation: reopened.file.generation });
      expect(c.memoryIds.sort()).toEqual(cluster.sort());
      expect(c.memoryIds).toContain('m1');
    }
    reopened.close();
  });
});

describe('ParametricBank.reassign', () => {
  it('re-places an edited text by its current words, leaves unchanged and unknown texts alone, and keeps the move on disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pbank-reassign-'));
    try {
      const bank = await ParametricBank.build({ dir, modelFingerprint: 'tiny-anchor', hidden: 16, layers: 1, embedder, texts, levels: 2, branching: 2, ranks: [4, 8], seed: 1 });
      // m0 edited to words like those of a memory in another leaf.
      const other = texts.findIndex((t) => bank.tree.pathOf(t.id)!.at(-1) !== bank.tree.pathOf('m0')!.at(-1));
      expect(other).toBeGreaterThan(0);
      const before = bank.tree.pathOf('m0')!;
      const edited = { id: 'm0', text: texts[other].text };
      const moved = await bank.reassign(embedder, [edited, ...texts.slice(1), { id: 'never-placed', text: texts[2].text }]);
      expect(moved).toEqual([{ id: 'm0', from: before, to: bank.tree.pathOf(`m${other}`) }]);
      expect(bank.tree.pathOf('m0')).toEqual(bank.tree.pathOf(`m${other}`));
      expect(bank.tree.pathOf('never-placed')).toBeUndefined();
      expect(await bank.reassign(embedder, [edited])).toEqual([]);
      // A text placed by an older tree (no fingerprint) moves only when the caller knows it changed.
      const far = texts.findIndex((t) => bank.tree.pathOf(t.id)!.at(-1) !== bank.tree.pathOf('m1')!.at(-1));
      bank.tree.placedBy.delete('m1');
      expect(await bank.reassign(embedder, [{ id: 'm1', text: texts[far].text }])).toEqual([]);
      bank.tree.placedBy.delete('m1');
      const forced = await bank.reassign(embedder, [{ id: 'm1', text: texts[far].text }], new Set(['m1']));
      expect(forced.map((m) => m.id)).toEqual(['m1']);
      expect(bank.tree.pathOf('m1')!.at(-1)).toBe(bank.tree.pathOf(`m${far}`)!.at(-1));
      bank.close();
      const reopened = ParametricBank.open(dir);
      expect(reopened.tree.pathOf('m0')).toEqual(moved[0].to);
      expect(reopened.tree.pathOf('m1')).toEqual(forced[0].to);
      expect(reopened.tree.placedBy.get('m0')).toBe(placementKey(texts[other].text));
      reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
