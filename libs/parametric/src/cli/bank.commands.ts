// `engram bank build|write|inspect|forget`: parametric memory banks on files (a model
// directory + a JSONL of {"id","text"}). Results go to stdout as one JSON line; progress
// bars go to stderr.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { HashEmbedder } from '@engram/plaintext';
import { openModelDirectory } from '@engram/inference';
import { DEFAULT_WRITE_EPOCHS, ParametricBank, type BankText } from '../parametric-bank';
import { ParametricError, ParametricErrorCode } from '../parametric.error';
import { loadAnchorModel } from '../training/anchor-model';
import type { BankDtype } from '../bank/bank-layout';
import { DEFAULT_REPLAY, type ReplaySettings, type ReplaySource } from '../write-replay';

const int = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
  return n;
};
const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

export function readTextsJsonl(path: string): BankText[] {
  const out: BankText[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let row: { id?: unknown; text?: unknown };
      try {
        row = JSON.parse(line) as { id?: unknown; text?: unknown };
      } catch {
        throw new ParametricError(ParametricErrorCode.InvalidConfig, `${path}:${i + 1} is not JSON`);
      }
      if (typeof row.id !== 'string' || typeof row.text !== 'string') throw new ParametricError(ParametricErrorCode.InvalidConfig, `${path}:${i + 1} needs string "id" and "text"`);
      out.push({ id: row.id, text: row.text });
    });
  return out;
}

/** One progress bar on stderr, redrawn in place. */
export function progressBar(label: string): (done: number, total: number, note?: string) => void {
  let last = -1;
  return (done, total, note) => {
    const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
    if (pct === last && done !== total) return;
    last = pct;
    const width = 30;
    const fill = Math.round((width * pct) / 100);
    process.stderr.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total}${note ? ` ${note}` : ''}${done >= total ? '\n' : ''}`);
  };
}

const embedderFor = (dim: number) => new HashEmbedder({ dimension: dim });

/** The replay options of write and forget --rewrite (ADR 0304); `replayFor` checks the ranges. */
function withReplayOptions(command: Command): Command {
  return command
    .option('--replay <source>', 'replay while writing: anchor (text sampled from the model) | memories (the other texts) | none', DEFAULT_REPLAY.source)
    .option('--replay-per-step <n>', 'replay sequences per step', Number, DEFAULT_REPLAY.perStep)
    .option('--replay-weight <x>', 'weight of the replay loss', Number, DEFAULT_REPLAY.weight)
    .option('--replay-samples <n>', 'replay pool size', Number, DEFAULT_REPLAY.samples);
}

const replaySettings = (o: Record<string, unknown>): ReplaySettings => ({
  source: String(o.replay) as ReplaySource,
  perStep: Number(o.replayPerStep),
  weight: Number(o.replayWeight),
  samples: Number(o.replaySamples),
});

function parseNode(v: string): { level: number; node: number } {
  const [level, node] = v.split(':').map(Number);
  if (!Number.isInteger(level) || !Number.isInteger(node)) throw new Error(`expected level:node, got ${v}`);
  return { level, node };
}

export function registerBankCommands(program: Command): Command {
  const bank = program.commands.find((c) => c.name() === 'bank') ?? program.command('bank').description('parametric memory banks (hierarchical FFN memory)');
  bank
    .command('build')
    .description('cluster texts into a tree and create an empty bank for a model')
    .requiredOption('--model <dir>', 'anchor model directory')
    .requiredOption('--texts <jsonl>', 'JSONL of {"id","text"}')
    .requiredOption('--out <dir>', 'bank directory')
    .option('--levels <n>', 'tree depth p', int('levels'), 4)
    .option('--branching <n>', 'branching k', int('branching'), 16)
    .option('--ranks <list>', 'block rank per level, comma-separated (default 16 each)')
    .option('--dtype <f32|f16>', 'block dtype', 'f32')
    .option('--embedding-dim <n>', 'hash embedder dimension', int('embedding-dim'), 256)
    .option('--seed <n>', 'k-means seed', int('seed'), 1)
    .action(async (o: Record<string, string | number>) => {
      const model = openModelDirectory(resolve(String(o.model)));
      const texts = readTextsJsonl(resolve(String(o.texts)));
      const levels = Number(o.levels);
      const bar = progressBar('bank build');
      const b = await ParametricBank.build({
        dir: resolve(String(o.out)),
        modelFingerprint: model.fingerprint,
        hidden: model.config.hiddenSize,
        layers: model.config.numLayers,
        embedder: embedderFor(Number(o.embeddingDim)),
        texts,
        levels,
        branching: Number(o.branching),
        ranks: o.ranks ? list(String(o.ranks)).map(Number) : new Array<number>(levels).fill(16),
        dtype: String(o.dtype) as BankDtype,
        seed: Number(o.seed),
        onProgress: (phase, done, total) => bar(done, total, phase),
      });
      process.stdout.write(`${JSON.stringify({ dir: b.dir, ...b.inspect() })}\n`);
      b.close();
    });
  withReplayOptions(bank.command('write <bankDir>'))
    .description('train the routed blocks (anchor frozen) on the texts; new texts are assigned to leaves first')
    .requiredOption('--model <dir>', 'anchor model directory')
    .requiredOption('--texts <jsonl>', 'JSONL of {"id","text"}: the corpus of the bank')
    .option('--ids <list>', 'memory ids to write (default: every text in the file)')
    .option('--epochs <n>', 'passes over the cluster texts', int('epochs'), DEFAULT_WRITE_EPOCHS)
    .option('--batch <n>', 'sequences per step', int('batch'), 8)
    .option('--lr <x>', 'AdamW learning rate', Number, 1e-2)
    .option('--gradient <engine>', 'typescript | onnx (the ONNX gradient graph on ONNX Runtime)', 'onnx')
    .option('--embedding-dim <n>', 'hash embedder dimension', int('embedding-dim'), 256)
    .action(async (dir: string, o: Record<string, string | number>) => {
      const anchor = loadAnchorModel(resolve(String(o.model)));
      const b = ParametricBank.open(resolve(dir), { modelFingerprint: anchor.fingerprint });
      try {
        const texts = readTextsJsonl(resolve(String(o.texts)));
        await b.assign(embedderFor(Number(o.embeddingDim)), texts);
        const ids = o.ids ? list(String(o.ids)) : texts.map((t) => t.id).filter((id) => !b.provenance.deleted.has(id));
        const bar = progressBar('bank write');
        const gradient = String(o.gradient) === 'typescript' ? 'typescript' : 'onnx';
        const settings = replaySettings(o);
        const replay = await b.replayFor(anchor, settings, { embedder: embedderFor(Number(o.embeddingDim)), texts });
        const report = await b.writeAsync(anchor, ids, texts, { epochs: Number(o.epochs), batch: Number(o.batch), lr: Number(o.lr), gradient, ...replay.options, onProgress: (s, n, loss) => bar(s, n, `loss ${loss.toFixed(3)}`) });
        process.stdout.write(`${JSON.stringify({ ...report, replay: { ...settings, sequences: replay.sequences, cached: replay.cached } })}\n`);
      } finally {
        b.close();
      }
    });
  bank
    .command('inspect <bankDir>')
    .description('header, occupancy per level, and the provenance of one block')
    .option('--block <level:node>', 'show the provenance of this block')
    .action((dir: string, o: { block?: string }) => {
      const b = ParametricBank.open(resolve(dir));
      try {
        const out: Record<string, unknown> = { dir: b.dir, header: b.file.header, ...b.inspect() };
        if (o.block) {
          const { level, node } = parseNode(o.block);
          out.block = { level, node, locked: b.isLocked(level, node), provenance: b.provenance.get(level, node) ?? null };
        }
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } finally {
        b.close();
      }
    });
  withReplayOptions(bank.command('forget <bankDir>'))
    .description('delete memories (marks their blocks stale; --rewrite retrains them without), or zero / lock / unlock a block')
    .option('--ids <list>', 'memory ids to delete')
    .option('--rewrite', 'retrain the stale blocks now (needs --model and --texts)', false)
    .option('--model <dir>', 'anchor model directory (for --rewrite)')
    .option('--texts <jsonl>', 'corpus JSONL (for --rewrite)')
    .option('--epochs <n>', 'passes over the cluster texts', int('epochs'), DEFAULT_WRITE_EPOCHS)
    .option('--embedding-dim <n>', 'hash embedder dimension (routes texts for --replay memories)', int('embedding-dim'), 256)
    .option('--zero <level:node>', 'zero a block')
    .option('--lock <level:node>', 'lock a block against writes')
    .option('--unlock <level:node>', 'unlock a block')
    .action(async (dir: string, o: Record<string, string | boolean | number | undefined>) => {
      const b = ParametricBank.open(resolve(dir));
      try {
        const out: Record<string, unknown> = {};
        if (o.ids) out.stale = b.deleteMemories(list(String(o.ids)));
        if (o.zero) out.zeroed = { ...parseNode(String(o.zero)), generation: b.zero(parseNode(String(o.zero)).level, parseNode(String(o.zero)).node) };
        if (o.lock) out.locked = { ...parseNode(String(o.lock)), generation: b.lock(parseNode(String(o.lock)).level, parseNode(String(o.lock)).node, true) };
        if (o.unlock) out.unlocked = { ...parseNode(String(o.unlock)), generation: b.lock(parseNode(String(o.unlock)).level, parseNode(String(o.unlock)).node, false) };
        if (o.rewrite) {
          if (!o.model || !o.texts) throw new Error('--rewrite needs --model and --texts');
          const anchor = loadAnchorModel(resolve(String(o.model)));
          const bar = progressBar('bank rewrite');
          const texts = readTextsJsonl(resolve(String(o.texts)));
          const replay = await b.replayFor(anchor, replaySettings(o), { embedder: embedderFor(Number(o.embeddingDim)), texts });
          out.rewrite = b.rewriteStale(anchor, texts, { epochs: Number(o.epochs), ...replay.options, onProgress: (s, n, loss) => bar(s, n, `loss ${loss.toFixed(3)}`) });
        }
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } finally {
        b.close();
      }
    });
  return bank;
}
