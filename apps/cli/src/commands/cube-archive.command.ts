// `engram cube export|import` and `engram import --from …`: portable cubes over a running
// engram's HTTP API (docs/cube-archive.md). Archives stream from and to disk; progress
// goes to stderr, the result as one JSON line to stdout.
import { Command, InvalidArgumentError } from 'commander';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { dirname, resolve as resolvePath } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { archiveFromSource, importerFor, ImportReport, NothingToImportError, SOURCE_SYSTEMS, SourceSystem, sourceSystemsMatching } from '@engram/core';
import { resolveRemote } from './mcp.command';
import { fetchEngram } from './server-unreachable.error';
import { ClientEnv, remoteOptions } from './remote.options';

type Progress = (done: number, total: number | null) => void;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function human(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** A byte progress bar on stderr (a counter when the total is unknown), redrawn at most every 100 ms. */
export function byteProgress(label: string, out: NodeJS.WritableStream = process.stderr): Progress & { end(): void } {
  let last = 0;
  let shown = '';
  const draw = (done: number, total: number | null) => {
    if (total !== null && total > 0) {
      const pct = Math.min(100, Math.floor((100 * done) / total));
      const fill = Math.round((30 * pct) / 100);
      shown = `\r${label} [${'#'.repeat(fill)}${'.'.repeat(30 - fill)}] ${pct}% ${human(done)}/${human(total)}`;
    } else {
      shown = `\r${label} ${human(done)}`;
    }
    out.write(shown);
  };
  const progress = ((done: number, total: number | null) => {
    const now = Date.now();
    if (now - last < 100 && (total === null || done < total)) return;
    last = now;
    draw(done, total);
  }) as Progress & { end(): void };
  progress.end = () => {
    if (shown) out.write('\n');
  };
  return progress;
}

function counting(onBytes: (n: number) => void): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      n += chunk.length;
      onBytes(n);
      done(null, chunk);
    },
  });
}

async function failure(res: Response): Promise<Error> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return new Error(`HTTP ${res.status} ${body.error?.code ?? ''}: ${body.error?.message ?? text}`.replace(' :', ':'));
  } catch {
    return new Error(`HTTP ${res.status}: ${text.slice(0, 500)}`);
  }
}

const endpoint = (url: string, path: string) => new URL(path.replace(/^\//, ''), url.endsWith('/') ? url : `${url}/`);

/** A cube id, or the id of the live cube with that name. */
export async function resolveCube(url: string, key: string, cube: string): Promise<string> {
  if (UUID.test(cube)) return cube;
  const target = endpoint(url, '/v1/cubes');
  target.searchParams.set('name', cube);
  const res = await fetchEngram(url, target, { headers: { Authorization: `Bearer ${key}` } });
  if (!res.ok) throw await failure(res);
  const body = (await res.json()) as { items: { id: string }[] };
  if (!body.items.length) throw new Error(`no cube named "${cube}"`);
  return body.items[0].id;
}

/** Downloads a cube archive to `out` (written beside it, renamed when complete). */
export async function exportCube(options: { url: string; key: string; cube: string; out: string; include?: string; progress?: Progress }): Promise<{ bytes: number; file: string }> {
  // Before the download: a missing folder surfaced as ENOENT on the hidden "….partial" file.
  const folder = dirname(resolvePath(options.out));
  const found = await stat(folder).catch(() => null);
  if (!found?.isDirectory()) throw new Error(`cannot write ${options.out}: the folder ${folder} ${found ? 'is not a folder' : 'does not exist'}; create it or give another -o`);
  const cubeId = await resolveCube(options.url, options.key, options.cube);
  const target = endpoint(options.url, `/v1/cubes/${cubeId}/export`);
  if (options.include) target.searchParams.set('include', options.include);
  const res = await fetchEngram(options.url, target, { headers: { Authorization: `Bearer ${options.key}` } });
  if (!res.ok || !res.body) throw await failure(res);
  const partial = `${options.out}.partial`;
  let bytes = 0;
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), counting((n) => options.progress?.((bytes = n), null)), createWriteStream(partial));
    await rename(partial, options.out);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return { bytes, file: options.out };
}

/** Streams an archive to POST /v1/cubes/import; returns the server's answer. */
export async function uploadArchive(options: { url: string; key: string; body: Readable; name?: string; total?: number | null; progress?: Progress }): Promise<unknown> {
  const target = endpoint(options.url, '/v1/cubes/import');
  if (options.name) target.searchParams.set('name', options.name);
  const body = options.body.pipe(counting((n) => options.progress?.(n, options.total ?? null)));
  const res = await fetchEngram(options.url, target, {
    method: 'POST',
    headers: { Authorization: `Bearer ${options.key}`, 'Content-Type': 'application/gzip' },
    body: Readable.toWeb(body) as unknown as RequestInit['body'],
    duplex: 'half',
  } as RequestInit & { duplex: 'half' });
  if (!res.ok) throw await failure(res);
  return res.json();
}

export async function importArchiveFile(options: { url: string; key: string; file: string; name?: string; progress?: Progress }): Promise<unknown> {
  const { size } = await archiveFile(options.file);
  return uploadArchive({ ...options, body: createReadStream(options.file), total: size });
}

/** The archive to upload: a file (a directory would fail mid-upload as EISDIR). */
async function archiveFile(file: string): Promise<{ size: number }> {
  const found = await stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new InvalidArgumentError(error.code === 'ENOENT' ? `no archive at ${file}` : `cannot read ${file} (${error.code ?? error.message})`);
  });
  if (found.isDirectory()) throw new InvalidArgumentError(`${file} is a directory: give the archive file written by \`engram cube export\` (.engram.tar.gz)`);
  return { size: found.size };
}

/** Converts another system's export into an archive and imports it as a new cube (or writes the archive). */
export async function importFrom(options: {
  system: SourceSystem;
  file: string;
  cube: string;
  url?: string;
  key?: string;
  archiveOut?: string;
  /** mem0 only: a JSON list of history rows (history.db), joined to the memories by memory_id. */
  history?: string;
  onRecord?: (report: ImportReport) => void;
  progress?: Progress;
}): Promise<{ report: ImportReport; result: unknown }> {
  if (options.history && options.system !== 'mem0') throw new InvalidArgumentError('--history is for --from mem0');
  let converted = 0;
  const onRecord = (r: ImportReport) => {
    converted = r.written;
    options.onRecord?.(r);
  };
  const { stream, report } = await archiveFromSource(importerFor(options.system, { history: options.history }), options.file, { cubeName: options.cube, onRecord }).catch(
    async (error: unknown) => {
      // Nothing converted (or the converter gave up before its first memory): most likely another system's file.
      throw converted === 0 ? await unconverted(error, options.system, options.file) : error;
    },
  );
  if (options.archiveOut) {
    await pipeline(stream, counting((n) => options.progress?.(n, null)), createWriteStream(options.archiveOut));
    return { report, result: { archive: options.archiveOut } };
  }
  // The compressed size is unknown until sent: the bar counts bytes.
  const result = await uploadArchive({ url: options.url!, key: options.key!, body: stream, name: options.cube, total: null, progress: options.progress });
  return { report, result };
}

/**
 * The error when `--from` did not read the file: name the systems whose converters do (the
 * right `--from`), and say that no cube was made.
 */
async function unconverted(error: unknown, system: SourceSystem, file: string): Promise<unknown> {
  const found = await stat(file).catch((e: NodeJS.ErrnoException) => e);
  if (found instanceof Error) return found.code === 'ENOENT' ? new Error(`no file at ${file}`) : error;
  const likely = await sourceSystemsMatching(file, SOURCE_SYSTEMS.filter((s) => s !== system));
  const next = `${likely.length ? `it reads as a ${likely.join(' or ')} export: run again with --from ${likely[0]}` : `check the file and --from (one of ${SOURCE_SYSTEMS.join(', ')})`}. No cube was created.`;
  if (error instanceof NothingToImportError) return new Error(`${error.message}\n${next}`, { cause: error });
  if (found.isDirectory() && system !== 'memos') return new Error(`${file} is a directory: --from ${system} reads one file (only memos reads a dump folder)\n${next}`, { cause: error });
  if (typeof (error as NodeJS.ErrnoException | undefined)?.code === 'string') return error; // a file that cannot be read (e.g. --history), not a format
  return new Error(`${file} is not a ${system} export (${error instanceof Error ? error.message : String(error)})\n${next}`, { cause: error });
}

function system(value: string): SourceSystem {
  if (!(SOURCE_SYSTEMS as readonly string[]).includes(value)) throw new InvalidArgumentError(`one of ${SOURCE_SYSTEMS.join(', ')}`);
  return value as SourceSystem;
}

export function registerCubeArchiveCommands(program: Command, env: () => ClientEnv): void {
  const cube = program.command('cube').description('portable cubes: export and import archives (docs/cube-archive.md)');

  remoteOptions(cube.command('export <cube>'))
    .description('download a cube (id or name) as an archive; needs the scope cubes:export')
    .requiredOption('-o, --out <file>', 'archive file to write (.engram.tar.gz)')
    .option('--include <parts>', 'optional parts, comma-separated: vectors, kv (KV caches), banks (parametric banks)')
    .action(async (cubeArg: string, o: { url?: string; key?: string; out: string; include?: string }) => {
      const { url, key } = resolveRemote(o, env());
      const bar = byteProgress('export');
      // end() before an error too: main.ts prints it on a line of its own, not after the bar.
      const result = await exportCube({ url, key, cube: cubeArg, out: o.out, include: o.include, progress: bar }).finally(() => bar.end());
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });

  remoteOptions(cube.command('import <file>'))
    .description('create a cube from an archive; needs cubes:write and memories:write')
    .option('--name <name>', "the new cube's name (default: the archive's)")
    .action(async (file: string, o: { url?: string; key?: string; name?: string }) => {
      const { url, key } = resolveRemote(o, env());
      const bar = byteProgress('import');
      const result = await importArchiveFile({ url, key, file, name: o.name, progress: bar })
        .catch((error: unknown) => {
          // 409: a live cube has that name; the way out is another one.
          if (error instanceof Error && error.message.startsWith('HTTP 409 conflict')) error.message += ': import it under another name with --name NAME';
          throw error;
        })
        .finally(() => bar.end());
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });

  remoteOptions(program.command('import <file>'))
    .description('move in from another memory system: mem0 (get_all JSON, or the OpenMemory backup memories.json), letta (.af), memos (dump folder or textual_memory.json), conversations (LongMemEval or sessions JSON)')
    .requiredOption('--from <system>', SOURCE_SYSTEMS.join('|'), system)
    .requiredOption('--cube <name>', 'name of the new cube')
    .option('--archive <file>', 'write the converted archive here instead of sending it (no server needed)')
    .option('--history <file>', 'mem0: history rows as a JSON list (history.db `history` table), joined by memory_id')
    .action(async (file: string, o: { url?: string; key?: string; from: SourceSystem; cube: string; archive?: string; history?: string }) => {
      const remote = o.archive ? { url: undefined, key: undefined } : resolveRemote(o, env());
      let lastDraw = 0;
      const onRecord = (r: ImportReport) => {
        const now = Date.now();
        if (now - lastDraw < 100) return;
        lastDraw = now;
        process.stderr.write(`\rconvert ${o.from}: ${r.read} read, ${r.written} kept, ${r.duplicates} duplicates`);
      };
      const bar = byteProgress(o.archive ? 'write' : 'upload');
      const { report, result } = await importFrom({ system: o.from, file, cube: o.cube, url: remote.url, key: remote.key, archiveOut: o.archive, history: o.history, onRecord, progress: bar });
      process.stderr.write(`\rconvert ${o.from}: ${report.read} read, ${report.written} kept, ${report.duplicates} duplicates\n`);
      bar.end();
      process.stdout.write(`${JSON.stringify({ report, result })}\n`);
    });
}
