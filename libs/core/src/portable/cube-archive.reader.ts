// Reads a cube archive as it arrives: gunzip → tar → manifest first, then each part it
// lists, in its order, each checked against its declared size and sha256 while the
// caller consumes it. Anything else (a truncated stream, a path trick, an extra or
// missing entry, a checksum mismatch, a body over the limit) fails with a 4xx that names
// the problem; the caller discards whatever it had staged.
import { createHash } from 'node:crypto';
import { Readable, Transform, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { EngramError } from '../errors/engram.error';
import { ErrorCode } from '../errors/error-code';
import { ArchiveManifest, archiveError, isSafePartName, MANIFEST_MAX_BYTES, MANIFEST_NAME, ManifestPart, validateManifest } from './cube-archive.format';

export interface ArchiveReadHandlers {
  /** Called once, before any part; throwing stops the read. */
  manifest(manifest: ArchiveManifest): Promise<void>;
  /** Must consume `stream` to its end (or throw). Checksum and size are verified after. */
  part(part: ManifestPart, stream: Readable): Promise<void>;
}

/** Counts compressed bytes and stops the stream past `limit`. */
class ByteLimit extends Transform {
  seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      done(new EngramError(ErrorCode.PayloadTooLarge, `the archive is larger than the import limit of ${this.limit} bytes (ENGRAM_IMPORT_LIMIT)`));
      return;
    }
    done(null, chunk);
  }
}

/** Hashes a part while passing it on, and refuses bytes past its declared size. */
class PartCheck extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly part: ManifestPart) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.part.bytes) {
      done(archiveError(`part ${this.part.name} is larger than its manifest says (${this.part.bytes} bytes)`));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

function describe(error: unknown): EngramError {
  if (error instanceof EngramError) return error;
  const e = error as { code?: string; message?: string };
  if (typeof e.code === 'string' && e.code.startsWith('Z_')) {
    return archiveError(e.code === 'Z_BUF_ERROR' ? 'the archive is truncated (the gzip stream ends early)' : `the archive is not a valid gzip stream (${e.message})`);
  }
  const message = e.message ?? String(error);
  if (/unexpected end of data/i.test(message)) return archiveError('the archive is truncated (the tar stream ends early)');
  if (/invalid tar header|invalid header/i.test(message)) return archiveError(`the archive is corrupt: ${message}`);
  if (/aborted|ECONNRESET|premature close/i.test(message)) return archiveError('the archive was not received completely');
  return error as EngramError;
}

/** Reads the archive; resolves with its manifest once every listed part was read and verified. */
export async function readCubeArchive(input: Readable, limitBytes: number, handlers: ArchiveReadHandlers): Promise<ArchiveManifest> {
  const extract = tar.extract();
  const limit = new ByteLimit(limitBytes);
  let streamError: unknown = null;
  const flowing = pipeline(input, limit, createGunzip(), extract as unknown as NodeJS.WritableStream).catch((error: unknown) => {
    streamError = error;
  });
  let manifest: ArchiveManifest | null = null;
  let index = 0;
  try {
    for await (const entry of extract) {
      const header = entry.header;
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        throw archiveError(`entry ${JSON.stringify(header.name)} is a ${header.type}; an archive holds plain files only`);
      }
      if (!isSafePartName(header.name) && header.name !== MANIFEST_NAME) throw archiveError(`entry name ${JSON.stringify(header.name)} escapes the archive or is not allowed`);
      if (manifest === null) {
        if (header.name !== MANIFEST_NAME) throw archiveError(`the first entry must be ${MANIFEST_NAME} (got ${header.name})`);
        if (header.size > MANIFEST_MAX_BYTES) throw archiveError(`${MANIFEST_NAME} is larger than ${MANIFEST_MAX_BYTES} bytes`);
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk as Buffer);
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          throw archiveError(`${MANIFEST_NAME} is not valid JSON`);
        }
        manifest = validateManifest(parsed);
        await handlers.manifest(manifest);
        continue;
      }
      const part = manifest.parts[index];
      if (!part) throw archiveError(`entry ${header.name} is not listed in the manifest`);
      if (header.name !== part.name) throw archiveError(`expected part ${part.name} next, found ${header.name} (parts must come in manifest order)`);
      if (header.size > part.bytes) throw archiveError(`part ${part.name} is larger than its manifest says (${header.size} > ${part.bytes} bytes)`);
      index++;
      const check = new PartCheck(part);
      const checked = (entry as unknown as Readable).pipe(check);
      entry.on('error', (e: Error) => check.destroy(e));
      await handlers.part(part, checked);
      if (!checked.readableEnded) {
        // The handler stopped early: drain so the checksum covers the whole part.
        for await (const _ of checked) void _;
      }
      if (check.bytes !== part.bytes) throw archiveError(`part ${part.name} has ${check.bytes} bytes, its manifest says ${part.bytes} (truncated?)`);
      if (check.digest() !== part.sha256) throw archiveError(`checksum mismatch in part ${part.name}`);
    }
    await flowing;
    if (streamError) throw streamError;
  } catch (error) {
    const first = error instanceof EngramError ? error : (streamError ?? error);
    input.destroy();
    await flowing;
    throw describe(first);
  }
  if (manifest === null) throw archiveError(`the archive is empty (no ${MANIFEST_NAME})`);
  if (index < manifest.parts.length) throw archiveError(`the archive ends before part ${manifest.parts[index].name} (truncated?)`);
  return manifest;
}
