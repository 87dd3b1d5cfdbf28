import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HashEmbedder } from '@engram/plaintext';
import { ParametricBank, type BankText } from './parametric-bank';
import { initParams64, tinyLlamaConfig } from './training/llama-init';
import { sampleAnchorSequences } from './training/anchor-replay';
import type { AnchorModel } from './training/block-trainer';
import type { WriteVerification } from './training/write-verification';

const PEOPLE = [
  ['zorvan', 'keltt', 'lisbon'],
  ['mabeli', 'tusar', 'oslo'],
  ['pirado', 'venmo', 'kyoto'],
  ['sulani', 'grede', 'lima'],
];
const words = ['<bos>', 'lives', 'in', 'the', 'home', 'of', 'is', '.', 'riga', ...PEOPLE.flat()];
const vocab = new Map(words.map((w, i) => [w, i]));
const tokenize = (t: string) => [0, ...t.split(' ').filter(Boolean).map((w) => vocab.get(w)!)];
const config = tinyLlamaConfig({ vocab: words.length, hidden: 16, layers: 1, heads: 2, intermediate: 32, maxPositions: 32 });
const anchor: AnchorModel = { config, params: initParams64(config, 3), fingerprint: 'tiny-anchor', tokenize };
const texts: BankText[] = PEOPLE.map(([a, b, c], i) => ({ id: `m${i}`, text: `${a} ${b} lives in ${c} .` }));
const embedder = new HashEmbedder({ dimension: 64 });
const heldOut = sampleAnchorSequences(anchor, { count: 6, maxTokens: 8, seed: 99 });
const options = { epochs: 60, batch: 4, lr: 0.03, seed: 2 };

describe('ParametricBank.consolidateAsync (verified writes)', () => {
  let dir: string;
  let bank: ParametricBank;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pbank-consolidate-'));
    bank = await ParametricBank.build({ dir, modelFingerprint: 'tiny-anchor', hidden: 16, layers: 1, embedder, texts, levels: 2, branching: 2, ranks: [4, 8], seed: 1 });
  });
  afterEach(() => {
    bank.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits an accepted write with the recall and perplexity it was judged on', async () => {
    const g0 = bank.file.generation;
    const seen: WriteVerification[] = [];
    const report = await bank.consolidateAsync(anchor, ['m0', 'm1'], texts, { ...options, verify: { heldOut, memoryIds: ['m0', 'm1'], accept: (v) => (seen.push(v), null) } });
    expect(report.rejected).toBeUndefined();
    expect(report.generation).toBe(g0 + 1);
    expect(bank.file.generation).toBe(g0 + 1);
    expect(seen).toHaveLength(1);
    const v = report.verification!;
    expect(v.facts).toBe(2);
    expect(v.recall).toBeGreaterThan(v.anchorRecall);
    expect(v.recall).toBeGreaterThanOrEqual(0.75);
    expect(v.perplexityAnchor).toBeGreaterThan(1);
    expect(v.perplexityIncrease).toBeCloseTo(v.perplexityWithMemory / v.perplexityAnchor - 1, 10);
    expect(bank.provenance.get(1, bank.tree.pathOf('m0')![0])!.memoryIds).toContain('m0');
  });

  it('commits nothing when the verification rejects the write: the bank keeps its previous generation and blocks', async () => {
    const g1 = (await bank.consolidateAsync(anchor, ['m0'], texts, options)).generation;
    const path = bank.tree.pathOf('m0')!;
    const before = bank.fetchConcatenated(path);
    const report = await bank.consolidateAsync(anchor, ['m0', 'm2'], texts, { ...options, seed: 5, verify: { heldOut, accept: () => 'recall below the policy' } });
    expect(report).toMatchObject({ rejected: 'recall below the policy', blocks: [], generation: g1 });
    expect(bank.file.generation).toBe(g1);
    expect(bank.fetchConcatenated(path)).toEqual(before);
    expect(bank.provenance.get(1, bank.tree.pathOf('m2')![0])?.memoryIds ?? []).not.toContain('m2');
  });

  it('re-initialises stale blocks and trains new paths in one generation, without a deleted memory', async () => {
    const g1 = (await bank.consolidateAsync(anchor, ['m0', 'm1', 'm2', 'm3'], texts, options)).generation;
    const stale = bank.deleteMemories(['m1']);
    expect(stale.length).toBeGreaterThanOrEqual(1);
    const edited = texts.map((t) => (t.id === 'm0' ? { ...t, text: 'zorvan keltt lives in riga .' } : t));
    const report = await bank.consolidateAsync(anchor, [], edited, { ...options, verify: { heldOut, accept: () => null } });
    expect(report.generation).toBe(g1 + 1);
    expect(report.blocks.map((b) => `${b.level}:${b.node}`).sort()).toEqual(stale.map((b) => `${b.level}:${b.node}`).sort());
    for (const b of stale) expect(bank.provenance.get(b.level, b.node)).toMatchObject({ stale: false, generation: g1 + 1 });
    for (const b of stale) expect(bank.provenance.get(b.level, b.node)!.memoryIds).not.toContain('m1');
  });
});
