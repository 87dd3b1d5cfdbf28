// Where a write's replay text comes from when the caller has no generic corpus (ADR 0304):
// 'anchor' — sequences sampled from the frozen anchor, generated once per bank and model
// and cached in the bank directory; 'memories' — other memories of the cube, each step
// drawing only those routed outside its own level-1 cluster; 'none'. Either way the
// replay is scored against the anchor's own distributions (replayTarget 'anchor').
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './bank/atomic-file';
import { ParametricError, ParametricErrorCode } from './parametric.error';
import { DEFAULT_SAMPLE_TOKENS, sampleAnchorSequences } from './training/anchor-replay';
import { mulberry32 } from '@engram/inference';
import type { BankText, ParametricBank, WriteOptions } from './parametric-bank';
import type { AnchorModel } from './training/block-trainer';
import type { TextEmbedder } from './tree/cluster-tree';

export type ReplaySource = 'anchor' | 'memories' | 'none';
export const REPLAY_SOURCES: readonly ReplaySource[] = ['anchor', 'memories', 'none'];

export interface ReplaySettings {
  source: ReplaySource;
  /** Replay sequences per training step. */
  perStep: number;
  /** Weight of the replay loss relative to the facts' loss. */
  weight: number;
  /** Size of the replay pool: sequences sampled from the anchor, or memories drawn from the cube. */
  samples: number;
}

/** On by default: the bench's replay (8 per step, weight 20) over 128 anchor samples. */
export const DEFAULT_REPLAY: Readonly<ReplaySettings> = Object.freeze({ source: 'anchor', perStep: 8, weight: 20, samples: 128 });

export const REPLAY_LIMITS = Object.freeze({ perStep: { min: 1, max: 64 }, weight: { min: 0, max: 1000 }, samples: { min: 1, max: 4096 } });

export const ANCHOR_REPLAY_FILE = 'replay.json';

interface AnchorReplayCache {
  modelFingerprint: string;
  samples: number;
  maxTokens: number;
  seed: number;
  sequences: number[][];
}

/** Anchor samples for a bank: read from the bank directory when they match the model and count, else sampled and saved. */
export function anchorReplaySequences(dir: string, anchor: AnchorModel, samples: number, seed = 1): { sequences: number[][]; cached: boolean } {
  const path = join(dir, ANCHOR_REPLAY_FILE);
  const maxTokens = Math.min(DEFAULT_SAMPLE_TOKENS, anchor.config.maxPositionEmbeddings);
  if (existsSync(path)) {
    try {
      const cache = JSON.parse(readFileSync(path, 'utf8')) as AnchorReplayCache;
      if (cache.modelFingerprint === anchor.fingerprint && cache.samples === samples && cache.maxTokens === maxTokens && cache.seed === seed) {
        return { sequences: cache.sequences, cached: true };
      }
    } catch {
      // A damaged cache is regenerated below.
    }
  }
  const sequences = sampleAnchorSequences(anchor, { count: samples, maxTokens, seed });
  const cache: AnchorReplayCache = { modelFingerprint: anchor.fingerprint, samples, maxTokens, seed, sequences };
  writeFileAtomic(path, JSON.stringify(cache));
  return { sequences, cached: false };
}

/** Checks settings that did not come through the API's validation (CLI, library callers). */
export function checkReplaySettings(s: ReplaySettings): void {
  const bad = (msg: string): never => {
    throw new ParametricError(ParametricErrorCode.InvalidConfig, `replay: ${msg}`);
  };
  if (!REPLAY_SOURCES.includes(s.source)) bad(`source must be one of ${REPLAY_SOURCES.join(', ')}`);
  for (const key of ['perStep', 'weight', 'samples'] as const) {
    const { min, max } = REPLAY_LIMITS[key];
    const v = s[key];
    if (!Number.isFinite(v) || v < min || v > max || (key !== 'weight' && !Number.isInteger(v))) bad(`${key} must be ${key === 'weight' ? 'a number' : 'an integer'} in [${min}, ${max}]`);
  }
}

/**
 * The replay part of a write's options for a source that needs no generic corpus
 * (`write-replay.ts`): anchor samples (cached in the bank directory) or other memories of
 * the cube (`texts`, routed with `embedder`; deleted ones left out), always scored against
 * the anchor's own distributions.
 */
export async function replayFor(
  bank: ParametricBank,
  anchor: AnchorModel,
  settings: ReplaySettings,
  cube: { embedder?: TextEmbedder; texts?: readonly BankText[] } = {},
): Promise<{ options: Pick<WriteOptions, 'replaySequences' | 'replayLeaves' | 'replayPerStep' | 'replayWeight' | 'replayTarget'>; sequences: number; cached: boolean }> {
  checkReplaySettings(settings);
  const base = { replayPerStep: settings.perStep, replayWeight: settings.weight, replayTarget: 'anchor' as const };
  if (settings.source === 'none') return { options: {}, sequences: 0, cached: false };
  if (settings.source === 'anchor') {
    const { sequences, cached } = anchorReplaySequences(bank.dir, anchor, settings.samples, bank.file.header.config.seed === undefined ? 1 : Number(bank.file.header.config.seed));
    return { options: { ...base, replaySequences: sequences }, sequences: sequences.length, cached };
  }
  const rnd = mulberry32(settings.samples);
  const pool = (cube.texts ?? []).filter((t) => !bank.provenance.deleted.has(t.id));
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  const picked = pool.slice(0, settings.samples);
  const unrouted = picked.filter((t) => !bank.tree.leaves.has(t.id));
  if (unrouted.length && !cube.embedder) throw new ParametricError(ParametricErrorCode.InvalidConfig, 'replay from memories needs the embedder to route memories that are not in the tree');
  if (unrouted.length) bank.checkEmbedder(cube.embedder!);
  const embedded = unrouted.length ? await cube.embedder!.embed(unrouted.map((t) => t.text)) : [];
  const routed = new Map(unrouted.map((t, i) => [t.id, bank.tree.route(embedded[i]).at(-1)!]));
  const maxLen = anchor.config.maxPositionEmbeddings;
  const replaySequences: number[][] = [];
  const replayLeaves: number[] = [];
  for (const t of picked) {
    const leaf = bank.tree.leaves.get(t.id) ?? routed.get(t.id)!;
    for (const part of anchor.segment ? anchor.segment(t.text) : [t.text]) {
      const ids = anchor.tokenize(part).slice(0, maxLen);
      if (ids.length < 2) continue;
      replaySequences.push(ids);
      replayLeaves.push(leaf);
    }
  }
  return { options: { ...base, replaySequences, replayLeaves }, sequences: replaySequences.length, cached: false };
}
