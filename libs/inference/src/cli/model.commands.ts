// `engram model …` commands owned by the inference library; apps/cli mounts them.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { generateChat } from '../generation/generate';
import { openModelDirectory } from '../model/model-directory';
import { EXECUTION_PROVIDER_NAMES } from '../runtime/execution-providers';
import { ModelHost } from '../runtime/model-host';
import { createTinyModel } from '../tiny/tiny-model.generator';

const int = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return n;
};

export function registerModelCommands(program: Command): Command {
  const model = program.commands.find((c) => c.name() === 'model') ?? program.command('model').description('model tools');
  model
    .command('create-tiny')
    .description('write a tiny random Llama-style model directory (config, safetensors, BPE tokenizer, chat template)')
    .requiredOption('--out <dir>', 'output directory: a new or empty one, or an earlier create-tiny output (nothing else in it is touched)')
    .option('--layers <n>', 'decoder layers', int('layers'), 2)
    .option('--hidden <n>', 'hidden size', int('hidden'), 64)
    .option('--heads <n>', 'attention heads', int('heads'), 4)
    .option('--kv-heads <n>', 'key/value heads (GQA)', int('kv-heads'))
    .option('--intermediate <n>', 'FFN width', int('intermediate'))
    .option('--vocab <n>', 'vocabulary size (>= 260)', int('vocab'), 384)
    .option('--max-positions <n>', 'max_position_embeddings', int('max-positions'), 2048)
    .option('--seed <n>', 'weight seed', int('seed'), 1)
    .option('--tie-embeddings', 'tie input and output embeddings', false)
    .option('--qkv-bias', 'Qwen2-style q/k/v bias', false)
    .action((o: Record<string, unknown>) => {
      const out = resolve(String(o.out));
      createTinyModel({
        outDir: out,
        layers: o.layers as number,
        hidden: o.hidden as number,
        heads: o.heads as number,
        kvHeads: o.kvHeads as number | undefined,
        intermediate: o.intermediate as number | undefined,
        vocab: o.vocab as number,
        maxPositionEmbeddings: o.maxPositions as number,
        seed: o.seed as number,
        tieEmbeddings: o.tieEmbeddings as boolean,
        qkvBias: o.qkvBias as boolean,
      });
      const dir = openModelDirectory(out);
      process.stdout.write(`${JSON.stringify({ dir: out, fingerprint: dir.fingerprint, config: dir.rawConfig })}\n`);
    });
  model
    .command('inspect <dir>')
    .description('validate a model directory and print its fingerprint and normalised config')
    .action((dir: string) => {
      const m = openModelDirectory(resolve(dir));
      process.stdout.write(`${JSON.stringify({ dir: m.dir, format: m.format, fingerprint: m.fingerprint, config: m.config })}\n`);
    });
  model
    .command('generate <dir>')
    .description('chat with a model directory (smoke test): streams the reply to stdout')
    .requiredOption('--prompt <text>', 'user message')
    .option('--system <text>', 'system message')
    .option('--max-tokens <n>', 'tokens to generate', int('max-tokens'), 64)
    .option('--temperature <t>', 'sampling temperature (0 = greedy)', Number, 0)
    .option('--top-p <p>', 'nucleus sampling mass', Number, 1)
    .option('--seed <n>', 'sampling seed', int('seed'))
    .option('--provider <name>', 'execution provider: cpu | cuda | webgpu', 'cpu')
    .action(async (dir: string, o: Record<string, unknown>) => {
      const provider = EXECUTION_PROVIDER_NAMES.find((p) => p === o.provider);
      if (!provider) throw new Error(`--provider must be one of ${EXECUTION_PROVIDER_NAMES.join(', ')}, got "${String(o.provider)}"`);
      const host = new ModelHost({ provider });
      try {
        const lm = await host.load(resolve(dir));
        const messages = [...(o.system ? [{ role: 'system', content: String(o.system) }] : []), { role: 'user', content: String(o.prompt) }];
        const result = await generateChat(lm, messages, {
          maxTokens: o.maxTokens as number,
          temperature: o.temperature as number,
          topP: o.topP as number,
          seed: o.seed as number | undefined,
          onToken: (e) => process.stdout.write(e.text),
        });
        process.stdout.write(`\n${JSON.stringify({ finishReason: result.finishReason, usage: result.usage, timings: result.timings })}\n`);
      } finally {
        await host.dispose();
      }
    });
  return model;
}
