import { Command } from 'commander';
import type { Cube } from '@engram/client';
import { print } from '../output/table';
import { ClientEnv } from './remote.options';
import { clientFor, RemoteCommandOptions, tenantCommand } from './tenant-client';

const CUBE_COLUMNS = ['id', 'name', 'createdAt', 'description'];

/** `engram cubes list|get|create|stats|delete` over @engram/client. */
export function registerCubesCommands(program: Command, env: () => ClientEnv): void {
  const cubes = program.command('cubes').description("a tenant's cubes, over the HTTP API (--url/--key or ENGRAM_URL/ENGRAM_API_KEY)");

  tenantCommand(cubes, 'list', 'list the cubes this key reaches').action(async (options: RemoteCommandOptions) => {
    const all: Cube[] = [];
    for await (const cube of clientFor(options, env()).cubes.iterate({ limit: 200 })) all.push(cube);
    print(options, all, all, CUBE_COLUMNS);
  });

  tenantCommand(cubes, 'get <cube>', 'show a cube (id or name) with its memory counts').action(async (cube: string, options: RemoteCommandOptions) => {
    const stats = await clientFor(options, env()).cubes.stats(cube);
    const rows = [
      { field: 'id', value: stats.cube.id },
      { field: 'name', value: stats.cube.name },
      { field: 'description', value: stats.cube.description },
      { field: 'settings', value: stats.cube.settings },
      { field: 'memories', value: stats.memories.total },
      ...Object.entries(stats.memories.byKind).map(([kind, n]) => ({ field: `kind ${kind}`, value: n })),
      ...Object.entries(stats.memories.byState).map(([state, n]) => ({ field: `state ${state}`, value: n })),
    ];
    print(options, stats, rows, ['field', 'value']);
  });

  tenantCommand(cubes, 'create <name>', 'create a cube, or answer the existing one with --if-exists')
    .option('--description <text>', 'what the cube holds')
    .option('--embedder <name>', 'the cube\'s embedder (settings.embedder), e.g. hash')
    .option('--if-exists', 'answer the live cube of that name instead of failing')
    .action(async (name: string, options: RemoteCommandOptions & { description?: string; embedder?: string; ifExists?: boolean }) => {
      const body = { name, description: options.description, settings: options.embedder ? { embedder: options.embedder } : undefined };
      const client = clientFor(options, env());
      const cube = options.ifExists ? await client.cubes.getOrCreate(name, body) : await client.cubes.create(body);
      print(options, cube, [cube], CUBE_COLUMNS);
    });

  tenantCommand(cubes, 'delete <cube>', 'delete a cube (id or name) and everything in it').action(async (cube: string, options: RemoteCommandOptions) => {
    const result = await clientFor(options, env()).cubes.delete(cube);
    print(options, result, [{ cube, purgeJobId: result.purgeJobId }], ['cube', 'purgeJobId']);
  });
}
