import { Command } from 'commander';

/** What the tenant commands read from the environment (main.ts reads it, once). */
export interface ClientEnv {
  url?: string;
  key?: string;
}

/** `--url` and `--key` for commands that talk to a running engram over HTTP. */
export function remoteOptions(command: Command): Command {
  return command.option('--url <url>', 'engram server URL (or ENGRAM_URL)').option('--key <key>', 'API key (or ENGRAM_API_KEY)');
}
