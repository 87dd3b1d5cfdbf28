import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { craftArchive, craftManifest } from '@engram/testing';
import { EngramError } from '../errors/engram.error';
import { ErrorCode } from '../errors/error-code';
import { ArchiveManifest } from './cube-archive.format';
import { readCubeArchive } from './cube-archive.reader';
import { CubeArchiveWriter, ManifestHead } from './cube-archive.writer';

const HEAD: ManifestHead = {
  engramVersion: 'test',
  createdAt: '2026-01-01T00:00:00.000Z',
  cube: { id: null, name: 'c', description: null, settings: {} },
  lifecyclePolicy: null,
  embedder: null,
  models: [],
  counts: {},
};

async function toBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Reads an archive and returns the manifest and each part's text, or the error. */
async function read(bytes: Buffer, limit = 1 << 30): Promise<{ manifest: ArchiveManifest; parts: Record<string, string> }> {
  const parts: Record<string, string> = {};
  const manifest = await readCubeArchive(Readable.from([bytes]), limit, {
    manifest: async () => undefined,
    part: async (part, stream) => {
      parts[part.name] = (await toBuffer(stream)).toString('utf8');
    },
  });
  return { manifest, parts };
}

async function failure(bytes: Buffer, limit?: number): Promise<EngramError> {
  try {
    await read(bytes, limit);
  } catch (error) {
    if (error instanceof EngramError) return error;
    throw error;
  }
  throw new Error('the archive was accepted');
}

const memories = '{"id":"a","text":"é 🦊"}\n{"id":"b","text":"two"}\n';

describe('cube archive', () => {
  it('writes the manifest first with every part checksummed and reads the parts back', async () => {
    const writer = await CubeArchiveWriter.create();
    const sink = writer.part('memories.jsonl', 'memories', true);
    await sink.line({ id: 'a', text: 'é 🦊' });
    await sink.line({ id: 'b', text: 'two' });
    const vectors = writer.part('vectors.f32', 'vectors', false);
    await vectors.write(Buffer.from(new Float32Array([1, 2, 3]).buffer), 1);
    const { manifest, stream } = await writer.finish(HEAD);
    const { manifest: back, parts } = await read(await toBuffer(stream));
    expect(back.parts).toEqual(manifest.parts);
    expect(back.parts.map((p) => [p.name, p.records])).toEqual([['memories.jsonl', 2], ['vectors.f32', 1]]);
    expect(parts['memories.jsonl']).toBe(memories);
  });

  it('refuses a part whose checksum does not match', async () => {
    const manifest = craftManifest([{ name: 'memories.jsonl', kind: 'memories', body: memories }]);
    const tampered = memories.replace('two', 'tw0');
    const error = await failure(await craftArchive([{ name: 'manifest.json', body: manifest }, { name: 'memories.jsonl', body: tampered }]));
    expect(error.code).toBe(ErrorCode.ValidationFailed);
    expect(error.message).toContain('checksum mismatch in part memories.jsonl');
  });

  it('refuses a truncated archive', async () => {
    const manifest = craftManifest([{ name: 'memories.jsonl', kind: 'memories', body: memories.repeat(200) }]);
    const whole = await craftArchive([{ name: 'manifest.json', body: manifest }, { name: 'memories.jsonl', body: memories.repeat(200) }]);
    const error = await failure(whole.subarray(0, Math.floor(whole.length * 0.6)));
    expect(error.message).toMatch(/truncated/);
  });

  it('refuses an unknown format version', async () => {
    const manifest = craftManifest([], { formatVersion: 99 });
    const error = await failure(await craftArchive([{ name: 'manifest.json', body: manifest }]));
    expect(error.message).toContain('unsupported archive format version 99');
  });

  it('refuses a part larger than its manifest says', async () => {
    const manifest = JSON.parse(craftManifest([{ name: 'memories.jsonl', kind: 'memories', body: memories }]));
    manifest.parts[0].bytes = 10;
    const error = await failure(await craftArchive([{ name: 'manifest.json', body: JSON.stringify(manifest) }, { name: 'memories.jsonl', body: memories }]));
    expect(error.message).toContain('part memories.jsonl is larger than its manifest says');
  });

  it.each([
    ['../escape.jsonl', 'file'],
    ['/etc/passwd', 'file'],
    ['a/../../b', 'file'],
    ['link', 'symlink'],
  ] as const)('refuses the entry %s (%s)', async (name, type) => {
    const manifest = craftManifest([]);
    const error = await failure(await craftArchive([{ name: 'manifest.json', body: manifest }, { name, body: 'x', type, linkname: '/etc/passwd' }]));
    expect(error.code).toBe(ErrorCode.ValidationFailed);
    expect(error.message).toMatch(/escapes the archive|plain files only/);
  });

  it('refuses a manifest that lists an unsafe part name', async () => {
    const error = await failure(await craftArchive([{ name: 'manifest.json', body: craftManifest([{ name: '../x', kind: 'memories', body: '' }]) }]));
    expect(error.message).toContain('unsafe name');
  });

  it('refuses an archive whose first entry is not the manifest, or that lacks a listed part', async () => {
    expect((await failure(await craftArchive([{ name: 'memories.jsonl', body: memories }]))).message).toContain('first entry must be manifest.json');
    const manifest = craftManifest([{ name: 'memories.jsonl', kind: 'memories', body: memories }]);
    expect((await failure(await craftArchive([{ name: 'manifest.json', body: manifest }]))).message).toContain('ends before part memories.jsonl');
  });

  it('stops reading past the byte limit with a 413', async () => {
    const body = memories.repeat(5000);
    const manifest = craftManifest([{ name: 'memories.jsonl', kind: 'memories', body }]);
    const bytes = await craftArchive([{ name: 'manifest.json', body: manifest }, { name: 'memories.jsonl', body }]);
    const error = await failure(bytes, 1000);
    expect(error.code).toBe(ErrorCode.PayloadTooLarge);
  });

  it('refuses bytes that are not gzip', async () => {
    const error = await failure(Buffer.from('{"not":"an archive"}'));
    expect(error.message).toMatch(/not a valid gzip stream/);
  });

  it('closes the spool files and removes its folder when the reader of the archive goes away mid-stream', async () => {
    const root = await mkdtemp(join(tmpdir(), 'engram-writer-spec-'));
    try {
      const writer = await CubeArchiveWriter.create(root);
      for (const name of ['a.bin', 'b.bin']) {
        // Random bytes do not compress: the archive takes many chunks, and the client leaves after one.
        const sink = writer.part(name, 'bank-file', false);
        for (let i = 0; i < 32; i++) await sink.write(randomBytes(64 * 1024));
      }
      const { stream } = await writer.finish(HEAD);
      await once(stream, 'readable');
      expect(stream.read()).not.toBeNull();
      // What the HTTP adapter does when the client disconnects. An unhandled 'error' of the
      // tar entry that was being written would fail this suite as an uncaught exception.
      stream.destroy();
      const deadline = Date.now() + 5_000;
      while ((await readdir(root)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await readdir(root)).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
