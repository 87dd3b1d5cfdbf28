// The cube archive format (docs/cube-archive.md): one gzip'd tar stream whose first entry
// is manifest.json, followed by the parts it lists, in the order it lists them. Both ends
// stream, so the order is part of the format.
import { EngramError } from '../errors/engram.error';

export const ARCHIVE_FORMAT = 'engram-cube-archive';
/** Bump when a reader of the previous version could misread an archive of the new one. */
export const ARCHIVE_FORMAT_VERSION = 1;
/** Written into manifests (informative: readers go by formatVersion). */
export const ENGRAM_VERSION = '0.1.0';
export const MANIFEST_NAME = 'manifest.json';
export const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;

/** Well-known part names. A reader skips an optional part it does not know (and says so). */
export const PART = {
  memories: 'memories.jsonl',
  events: 'lifecycle-events.jsonl',
  vectors: 'vectors.f32',
  kvCaches: 'kv-caches.jsonl',
  banks: 'banks.jsonl',
} as const;

/** Files of bank number `n` travel as parts `banks/<n>/<file name>`. */
export const BANK_FILE_PART = /^banks\/(\d+)\/([a-z0-9][a-z0-9._-]*)$/;

export interface ManifestPart {
  /** Path inside the archive: lower-case letters, digits, `._-/`, no `..`, not absolute. */
  name: string;
  /** What the part holds: memories | lifecycle-events | vectors | anything newer. */
  kind: string;
  /** A reader that does not understand a required part must refuse the archive. */
  required: boolean;
  bytes: number;
  sha256: string;
  /** Lines (JSONL) or rows (vectors). */
  records: number;
}

export interface ArchiveManifest {
  format: typeof ARCHIVE_FORMAT;
  formatVersion: number;
  engramVersion: string;
  createdAt: string;
  cube: { id: string | null; name: string; description: string | null; settings: Record<string, unknown> };
  /** The cube's own lifecycle policy overrides (null when it has none). */
  lifecyclePolicy: Record<string, unknown> | null;
  /** The embedder the vectors part was computed with; null when the archive has no vectors. */
  embedder: { fingerprint: string; dimension: number } | null;
  /** Models that KV caches or banks in this archive belong to (by fingerprint). */
  models: { fingerprint: string; name: string | null }[];
  counts: Record<string, number>;
  /** Where an archive came from when it was converted by an importer (mem0, letta …). */
  source?: { system: string; file?: string } | null;
  parts: ManifestPart[];
}

/** A 400 whose field is `archive` and whose message names the problem. */
export function archiveError(problem: string): EngramError {
  return EngramError.validation([{ field: 'archive', problems: [problem] }]);
}

const PART_NAME = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/;

/** A safe part name: relative, no `..` segment, nothing a file system would read as a path trick. */
export function isSafePartName(name: string): boolean {
  return name.length <= 200 && PART_NAME.test(name) && !name.split('/').some((s) => s === '..' || s === '.');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks a parsed manifest.json; throws a 400 that names the first problem. */
export function validateManifest(value: unknown): ArchiveManifest {
  if (!isObject(value)) throw archiveError('manifest.json must be a JSON object');
  if (value.format !== ARCHIVE_FORMAT) throw archiveError(`manifest.json format must be "${ARCHIVE_FORMAT}" (got ${JSON.stringify(value.format)})`);
  if (value.formatVersion !== ARCHIVE_FORMAT_VERSION) {
    throw archiveError(`unsupported archive format version ${JSON.stringify(value.formatVersion)}: this engram reads version ${ARCHIVE_FORMAT_VERSION}`);
  }
  const cube = value.cube;
  if (!isObject(cube) || typeof cube.name !== 'string' || !isObject(cube.settings ?? {})) throw archiveError('manifest.json cube must be { name, settings }');
  if (cube.description !== undefined && cube.description !== null && typeof cube.description !== 'string') throw archiveError('manifest.json cube.description must be a string or null');
  if (value.lifecyclePolicy !== undefined && value.lifecyclePolicy !== null && !isObject(value.lifecyclePolicy)) throw archiveError('manifest.json lifecyclePolicy must be a JSON object or null');
  if (!Array.isArray(value.parts)) throw archiveError('manifest.json parts must be a list');
  const seen = new Set<string>();
  for (const [i, p] of value.parts.entries()) {
    if (!isObject(p) || typeof p.name !== 'string' || typeof p.kind !== 'string') throw archiveError(`manifest.json parts[${i}] must be { name, kind, bytes, sha256 }`);
    if (!isSafePartName(p.name) || p.name === MANIFEST_NAME) throw archiveError(`manifest.json parts[${i}] has an unsafe name ${JSON.stringify(p.name)}`);
    if (seen.has(p.name)) throw archiveError(`manifest.json lists part ${p.name} twice`);
    seen.add(p.name);
    if (!Number.isSafeInteger(p.bytes) || (p.bytes as number) < 0) throw archiveError(`manifest.json part ${p.name}: bytes must be a non-negative integer`);
    if (typeof p.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(p.sha256)) throw archiveError(`manifest.json part ${p.name}: sha256 must be 64 hex digits`);
    if (p.records !== undefined && (!Number.isSafeInteger(p.records) || (p.records as number) < 0)) throw archiveError(`manifest.json part ${p.name}: records must be a non-negative integer`);
    if (typeof (p.required ?? false) !== 'boolean') throw archiveError(`manifest.json part ${p.name}: required must be a boolean`);
  }
  const embedder = value.embedder ?? null;
  if (embedder !== null && (!isObject(embedder) || typeof embedder.fingerprint !== 'string' || !Number.isInteger(embedder.dimension) || (embedder.dimension as number) <= 0)) {
    throw archiveError('manifest.json embedder must be null or { fingerprint, dimension }');
  }
  return {
    format: ARCHIVE_FORMAT,
    formatVersion: ARCHIVE_FORMAT_VERSION,
    engramVersion: String(value.engramVersion ?? 'unknown'),
    createdAt: String(value.createdAt ?? ''),
    cube: {
      id: typeof cube.id === 'string' ? cube.id : null,
      name: cube.name,
      description: typeof cube.description === 'string' ? cube.description : null,
      settings: (cube.settings as Record<string, unknown> | undefined) ?? {},
    },
    lifecyclePolicy: isObject(value.lifecyclePolicy) ? value.lifecyclePolicy : null,
    embedder: embedder as ArchiveManifest['embedder'],
    models: Array.isArray(value.models) ? (value.models as ArchiveManifest['models']) : [],
    counts: isObject(value.counts) ? (value.counts as Record<string, number>) : {},
    source: isObject(value.source) ? (value.source as ArchiveManifest['source']) : null,
    parts: (value.parts as Record<string, unknown>[]).map((p) => ({
      name: p.name as string,
      kind: p.kind as string,
      required: (p.required as boolean | undefined) ?? false,
      bytes: p.bytes as number,
      sha256: p.sha256 as string,
      records: (p.records as number | undefined) ?? 0,
    })),
  };
}
