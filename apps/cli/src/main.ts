#!/usr/bin/env node
// First: tracing must patch http, express and pg before anything loads them.
import './tracing.preload';
import 'reflect-metadata';
import { Command } from 'commander';
import { ConfigError, EngramConfig, loadConfig } from '@engram/config';
import { asEngramError, EngramError } from '@engram/core';
import { registerAdminCommands } from './commands/admin.command';
import { registerMigrateCommands } from './commands/migrate.command';
import { registerModelRegistryCommands } from './commands/model.command';
import { registerServeCommands } from './commands/serve.command';
import { registerMcpCommand } from './commands/mcp.command';
import { registerCubeArchiveCommands } from './commands/cube-archive.command';
import { ClientEnv } from './commands/remote.options';
import { registerCubesCommands } from './commands/cubes.command';
import { registerMemoriesCommands } from './commands/memories.command';
import { registerChatCommand } from './commands/chat.command';
import { EngramApiError } from '@engram/client';
import { ActivationError } from '@engram/activation';
import { InferenceError, SafetensorsError } from '@engram/inference';
import { ParametricError, registerBankCommands } from '@engram/parametric';
import { ServerUnreachableError, UNREACHABLE_HINT } from './commands/server-unreachable.error';

/** The only reader of process.env: the configuration is validated once, here. */
function config(): EngramConfig {
  return loadConfig(process.env);
}

/** The tenant commands' connection (`engram mcp`, `engram memories` …): env defaults for --url/--key. */
function clientEnv(): ClientEnv {
  return { url: process.env.ENGRAM_URL || undefined, key: process.env.ENGRAM_API_KEY || undefined };
}

function explain(thrown: unknown): string {
  // A database that cannot be reached at start: the raw cause says where, and what to do is not "retry shortly".
  const raw = thrown instanceof Error ? thrown.message : '';
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(raw) && !(thrown instanceof ServerUnreachableError) && !(thrown instanceof EngramApiError)) {
    return `${raw}\nis PostgreSQL running at DATABASE_URL? unset DATABASE_URL to use the embedded one.`;
  }
  if (thrown instanceof ServerUnreachableError) return `${thrown.message}\n${UNREACHABLE_HINT}`;
  if (thrown instanceof EngramApiError && thrown.code === 'network_error') return `${thrown.code}: ${thrown.message}\n${UNREACHABLE_HINT}`;
  // The libraries' own errors, from files on this machine (engram bank, engram model): the
  // server's mapper would hide some as internal errors, which is right for an API only.
  if (thrown instanceof ParametricError || thrown instanceof InferenceError || thrown instanceof ActivationError) return `${thrown.code}: ${thrown.message}`;
  if (thrown instanceof SafetensorsError) return thrown.message;
  const error = asEngramError(thrown);
  if (error instanceof ConfigError) return `${error.message}\nfix the variables above and start again.`;
  if (error instanceof EngramError) return `${error.code}: ${error.message}`;
  if (error instanceof EngramApiError) return `${error.code}: ${error.message}${error.details ? `\n${JSON.stringify(error.details)}` : ''}`;
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === '28P01' || code === '28000') return `${message}\ncheck the user and password in DATABASE_URL.`;
  if (code === '3D000') return `${message}\ncreate that database (createdb NAME), or point DATABASE_URL at an existing one.`;
  if (code === 'EADDRINUSE') return `${message}\nanother process listens on that port: stop it, or set PORT (and HOST) to a free one.`;
  return message;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('engram').description('engram: a memory operating system for LLM agents').showHelpAfterError();
  registerServeCommands(program, config);
  registerMigrateCommands(program, config);
  registerAdminCommands(program, config);
  registerModelRegistryCommands(program, config);
  registerBankCommands(program);
  registerMcpCommand(program, clientEnv);
  registerCubesCommands(program, clientEnv);
  registerMemoriesCommands(program, clientEnv);
  registerChatCommand(program, clientEnv);
  registerCubeArchiveCommands(program, clientEnv);
  await program.parseAsync(argv);
}

main(process.argv).catch((error: unknown) => {
  process.stderr.write(`engram: ${explain(error)}\n`);
  process.exit(1);
});
