// Builds cube archives byte by byte for tests of what a reader must refuse: any entry
// names, any manifest, sizes that disagree, checksums that lie.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

export interface CraftedEntry {
  name: string;
  body: Buffer | string;
  type?: 'file' | 'symlink' | 'directory';
  linkname?: string;
}

export const sha256Hex = (body: Buffer | string) => createHash('sha256').update(body).digest('hex');

/** A plain tar.gz of the entries, in order. */
export async function craftArchive(entries: CraftedEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const body = Buffer.isBuffer(e.body) ? e.body : Buffer.from(e.body, 'utf8');
    await new Promise<void>((resolve, reject) => {
      if (e.type === 'symlink' || e.type === 'directory') {
        pack.entry({ name: e.name, type: e.type, linkname: e.linkname }, (err) => (err ? reject(err) : resolve()));
      } else {
        pack.entry({ name: e.name, size: body.length }, body, (err) => (err ? reject(err) : resolve()));
      }
    });
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

/** A manifest that lists `parts` with their true sizes and checksums (override to lie). */
export function craftManifest(parts: { name: string; kind: string; body: Buffer | string; required?: boolean; records?: number }[], overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    format: 'engram-cube-archive',
    formatVersion: 1,
    engramVersion: 'test',
    createdAt: new Date(0).toISOString(),
    cube: { id: null, name: 'crafted', description: null, settings: {} },
    lifecyclePolicy: null,
    embedder: null,
    models: [],
    counts: {},
    parts: parts.map((p) => ({
      name: p.name,
      kind: p.kind,
      required: p.required ?? true,
      bytes: Buffer.byteLength(p.body),
      sha256: sha256Hex(p.body),
      records: p.records ?? 0,
    })),
    ...overrides,
  });
}
