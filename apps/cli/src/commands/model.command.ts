import { resolve } from 'node:path';
import { Command } from 'commander';
import { EngramConfig } from '@engram/config';
import { ImportModelDto, ModelService } from '@engram/core';
import { registerModelCommands } from '@engram/inference';
import { CLI_CONTEXT, validated, withCore } from './admin.command';

/**
 * `engram model …`: the file-level tools of @engram/inference (create-tiny, inspect,
 * generate) and the registry in PostgreSQL (import, list).
 */
export function registerModelRegistryCommands(program: Command, config: () => EngramConfig): void {
  const model = registerModelCommands(program);

  model
    .command('import <dir>')
    .description('register a model directory (fingerprint = hash of config + weights + tokenizer); served under --name')
    .option('--name <name>', 'name clients use as `model` (default: the directory name)')
    .action(async (dir: string, options: { name?: string }) => {
      // On the command line a relative path means the shell's directory (the API resolves it under ENGRAM_MODELS_DIR).
      const dto = await validated(ImportModelDto, { path: resolve(dir), name: options.name });
      const imported = await withCore(config(), (get) => get(ModelService).import(CLI_CONTEXT, dto));
      process.stdout.write(`${JSON.stringify(imported)}\n`);
    });

  model
    .command('list')
    .description('the registered models')
    .action(async () => {
      const { items } = await withCore(config(), (get) => get(ModelService).list(CLI_CONTEXT));
      for (const m of items) process.stdout.write(`${JSON.stringify(m)}\n`);
    });
}
