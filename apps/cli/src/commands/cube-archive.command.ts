// `engram cube export|import` and `engram import --from …`: portable cubes over a running
// engram's HTTP API (docs/cube-archive.md). Archives stream from and to disk; progress
// goes to stderr, the result as one JSON line to stdout.
import { Command, InvalidArgumentError } from 'commander';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { archiveFromSource, importerFor, ImportReport, SOURCE_SYSTEMS, SourceSystem } from '@engram/core';
import { resolveRemote } from './mcp.command';
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
  const res = await fetch(target, { headers: { Authorization: `Bearer ${key}` } });
  if (!res.ok) throw await failure(res);
  const body = (await res.json()) as { items: { id: string }[] };
  if (!body.items.length) throw new Error(`no cube named "${cube}"`);
  return body.items[0].id;
}

/** Downloads a cube archive to `out` (written beside it, renamed when complete). */
export async function exportCube(options: { url: string; key: string; cube: string; out: string; include?: string; progress?: Progress }): Promise<{ bytes: number; file: string }> {
  const cubeId = await resolveCube(options.url, options.key, options.cube);
  const target = endpoint(options.url, `/v1/cubes/${cubeId}/export`);
  if (options.include) target.searchParams.set('include', options.include);
  const res = await fetch(target, { headers: { Authorization: `Bearer ${options.key}` } });
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
  const res = await fetch(target, {
    method: 'POST',
    headers: { Authorization: `Bearer ${options.key}`, 'Content-Type': 'application/gzip' },
    body: Readable.toWeb(body) as unknown as RequestInit['body'],
    duplex: 'half',
  } as RequestInit & { duplex: 'half' });
  if (!res.ok) throw await failure(res);
  return res.json();
}

export async function importArchiveFile(options: { url: string; key: string; file: string; name?: string; progress?: Progress }): Promise<unknown> {
  const { size } = await stat(options.file);
  return uploadArchive({ ...options, body: createReadStream(options.file), total: size });
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
  const { stream, report } = await archiveFromSource(importerFor(options.system, { history: options.history }), options.file, { cubeName: options.cube, onRecord: options.onRecord });
  if (options.archiveOut) {
    await pipeline(stream, counting((n) => options.progress?.(n, null)), createWriteStream(options.archiveOut));
    return { report, result: { archive: options.archiveOut } };
  }
  // The compressed size is unknown until sent: the bar counts bytes.
  const result = await uploadArchive({ url: options.url!, key: options.key!, body: stream, name: options.cube, total: null, progress: options.progress });
  return { report, result };
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
    .option('--include <parts>', 'optional parts, comma-separated: vectors')
    .action(async (cubeArg: string, o: { url?: string; key?: string; out: string; include?: string }) => {
      const { url, key } = resolveRemote(o, env());
      const bar = byteProgress('export');
      const result = await exportCube({ url, key, cube: cubeArg, out: o.out, include: o.include, progress: bar });
      bar.end();
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });

  remoteOptions(cube.command('import <file>'))
    .description('create a cube from an archive; needs cubes:write and memories:write')
    .option('--name <name>', "the new cube's name (default: the archive's)")
    .action(async (file: string, o: { url?: string; key?: string; name?: string }) => {
      const { url, key } = resolveRemote(o, env());
      const bar = byteProgress('import');
      const result = await importArchiveFile({ url, key, file, name: o.name, progress: bar });
      bar.end();
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });

  remoteOptions(program.command('import <file>'))
    .description('move in from another memory system: mem0 (get_all JSON), letta (.af), memos (dump folder or textual_memory.json), conversations (LongMemEval or sessions JSON)')
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
