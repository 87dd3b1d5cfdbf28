import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { Command, InvalidArgumentError } from 'commander';
import { EngramValidationError, type EngramClient, type Memory, type MemoryInput } from '@engram/client';
import { utf8Chunks } from '@engram/core';
import { numberIn, positiveInt } from './number.options';
import { countProgress, print } from '../output/table';
import { ClientEnv } from './remote.options';
import { clientFor, RemoteCommandOptions, tenantCommand } from './tenant-client';

const MEMORY_COLUMNS = ['id', 'kind', 'state', 'createdAt', 'text'];

const list = (value: string) => value.split(',').map((v) => v.trim()).filter(Boolean);

/** One JSONL line: a memory object ({ text, kind, tags, … }) or a bare JSON string. */
export function parseMemoryLine(line: string, lineNo: number): MemoryInput {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`line ${lineNo}: not JSON`);
  }
  if (typeof value === 'string') return { text: value };
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { text?: unknown }).text === 'string') return value as MemoryInput;
  throw new Error(`line ${lineNo}: expected a JSON string or an object with "text"`);
}

async function* jsonlLines(file: string): AsyncGenerator<{ line: string; lineNo: number }> {
  let lineNo = 0;
  // Strict UTF-8 (a Latin-1 byte would be stored as U+FFFD); a leading byte order mark is dropped.
  for await (const line of createInterface({ input: Readable.from(utf8Chunks(file)), crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim()) yield { line, lineNo };
  }
}

/**
 * Imports a JSONL file in batches. Every line is read and checked first, so a line that is
 * not a memory fails the import before anything is stored. Each batch carries an
 * Idempotency-Key derived from the cube and its content, so running an interrupted import
 * again does not store the batches that already landed (while the server keeps their
 * idempotency records). A line the server refuses is named by its line in the file.
 */
export async function importMemories(client: EngramClient, cube: string, file: string, batchSize: number, onProgress: (done: number, total: number) => void): Promise<{ imported: number; batches: number }> {
  let total = 0;
  for await (const { line, lineNo } of jsonlLines(file)) {
    parseMemoryLine(line, lineNo);
    total++;
  }
  const cubeId = await client.cubeId(cube);
  let batch: MemoryInput[] = [];
  let lineNos: number[] = [];
  let imported = 0;
  let batches = 0;
  const flush = async () => {
    if (!batch.length) return;
    // The batch's place in the file is part of its key: a later batch with the same content
    // (the same line twice with --batch 1) is stored, not answered as a replay of the first.
    const idempotencyKey = `import-${createHash('sha256').update(cubeId).update(`${lineNos[0]}:`).update(JSON.stringify(batch)).digest('hex').slice(0, 48)}`;
    try {
      imported += (await client.memories.add(cubeId, batch, { idempotencyKey })).length;
    } catch (error) {
      throw atFileLines(error, file, lineNos, imported);
    }
    batches++;
    batch = [];
    lineNos = [];
    onProgress(imported, total);
  };
  onProgress(0, total);
  for await (const { line, lineNo } of jsonlLines(file)) {
    batch.push(parseMemoryLine(line, lineNo));
    lineNos.push(lineNo);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  return { imported, batches };
}

/** The server's `items.49.kind` is the batch's 50th memory: say which line of the file that is, and what was stored before it. */
export function atFileLines(error: unknown, file: string, lineNos: readonly number[], stored: number): unknown {
  if (!(error instanceof EngramValidationError) || !error.problems.some((p) => /^items\.\d+/.test(p.field))) return error;
  const where = error.problems.map((p) => {
    const at = /^items\.(\d+)\.?(.*)$/.exec(p.field);
    const place = at ? `${file}:${lineNos[Number(at[1])] ?? '?'}${at[2] ? ` (${at[2]})` : ''}` : p.field;
    return `${place}: ${p.problems.join('; ')}`;
  });
  const before = stored
    ? `${stored} memories from the lines before it were stored; fix the line and run the same import again (they are not stored twice)`
    : 'nothing was stored; fix the line and run the import again';
  return new Error(`${error.code}: ${where.join(', ')}\n${before}`, { cause: error });
}

/** `engram memories add|search|list|get|delete|import` over @engram/client. */
export function registerMemoriesCommands(program: Command, env: () => ClientEnv): void {
  const memories = program.command('memories').description("a cube's memories, over the HTTP API (--url/--key or ENGRAM_URL/ENGRAM_API_KEY); cubes by id or name");

  tenantCommand(memories, 'add <cube> <text...>', 'store one memory (the words are joined)')
    .option('--kind <kind>', 'fact | episode | preference | procedure | message')
    .option('--tags <tags>', 'comma-separated tags', list)
    .option('--importance <n>', '0..1', numberIn(0, 1))
    .action(async (cube: string, words: string[], options: RemoteCommandOptions & { kind?: string; tags?: string[]; importance?: number }) => {
      const input = { text: words.join(' '), kind: options.kind as MemoryInput['kind'], tags: options.tags, importance: options.importance };
      const stored = await clientFor(options, env()).memories.add(cube, [input]);
      print(options, stored[0], stored, MEMORY_COLUMNS);
    });

  tenantCommand(memories, 'search <cube> <query...>', 'the memories most relevant to a query, best first')
    .option('-k, --top-k <n>', 'how many results (default 10)', positiveInt(200))
    .option('--explain', 'include how each score was made')
    .action(async (cube: string, words: string[], options: RemoteCommandOptions & { topK?: number; explain?: boolean }) => {
      const results = await clientFor(options, env()).memories.search(cube, words.join(' '), { topK: options.topK, explain: options.explain });
      print(options, results, results.map((r) => ({ ...r, score: r.score.toFixed(4) })), ['score', 'id', 'kind', 'text']);
    });

  tenantCommand(memories, 'list <cube>', 'list memories, oldest first (the order the API pages in)')
    .option('--limit <n>', 'at most this many (default 50)', positiveInt(100_000))
    .option('--kind <kinds>', 'comma-separated kinds')
    .option('--tags <tags>', 'comma-separated tags (any)')
    .option('--state <states>', 'comma-separated states (default active)')
    .action(async (cube: string, options: RemoteCommandOptions & { limit?: number; kind?: string; tags?: string; state?: string }) => {
      const limit = options.limit ?? 50;
      const found: Memory[] = [];
      for await (const memory of clientFor(options, env()).memories.iterate(cube, { limit: Math.min(limit, 500), kind: options.kind, tags: options.tags, state: options.state })) {
        found.push(memory);
        if (found.length >= limit) break;
      }
      print(options, found, found, MEMORY_COLUMNS);
    });

  tenantCommand(memories, 'get <cube> <memoryId>', 'show one memory').action(async (cube: string, memoryId: string, options: RemoteCommandOptions) => {
    const memory = await clientFor(options, env()).memories.get(cube, memoryId);
    print(options, memory, Object.entries(memory).map(([field, value]) => ({ field, value })), ['field', 'value']);
  });

  tenantCommand(memories, 'delete <cube> <memoryId>', 'delete a memory').action(async (cube: string, memoryId: string, options: RemoteCommandOptions) => {
    await clientFor(options, env()).memories.delete(cube, memoryId);
    print(options, { deleted: memoryId }, [{ deleted: memoryId }], ['deleted']);
  });

  tenantCommand(memories, 'import <cube> <file>', 'store every line of a JSONL file ({ "text", "kind", "tags", … } or a string), with a progress bar')
    .option('--batch <n>', 'memories per request (default 500)', positiveInt(1000))
    .action(async (cube: string, file: string, options: RemoteCommandOptions & { batch?: number }) => {
      let bar: ReturnType<typeof countProgress> | undefined;
      const result = await importMemories(clientFor(options, env()), cube, file, options.batch ?? 500, (done, total) => {
        bar ??= countProgress(`import ${file}`, total);
        bar.update(done);
      });
      bar?.end();
      print(options, result, [result], ['imported', 'batches']);
    });
}
