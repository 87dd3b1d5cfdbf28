import { Command } from 'commander';
import { EngramClient } from '@engram/client';
import { resolveRemote } from './mcp.command';
import { ClientEnv, remoteOptions } from './remote.options';

export interface RemoteCommandOptions {
  url?: string;
  key?: string;
  json?: boolean;
}

/** --url, --key and --json on a tenant command. */
export function tenantCommand(parent: Command, spec: string, description: string): Command {
  return remoteOptions(parent.command(spec).description(description)).option('--json', 'print JSON instead of a table');
}

export function clientFor(options: RemoteCommandOptions, env: ClientEnv): EngramClient {
  const { url, key } = resolveRemote(options, env);
  return new EngramClient({ url, apiKey: key });
}
