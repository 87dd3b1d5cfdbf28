// What every importer from another memory system produces: archive memory records
// ({ memory, versions }, docs/cube-archive.md), converted as the source file streams in,
// and a report of what it read, merged and left out.
import { ArchiveManifest } from '../cube-archive.format';
import { CubeArchiveWriter } from '../cube-archive.writer';
import { ENGRAM_VERSION, PART } from '../cube-archive.format';
import { Readable } from 'node:stream';
import { MAX_TEXT_LENGTH } from '../../dtos/memory.dto';

export type SourceSystem = 'mem0' | 'letta' | 'memos' | 'conversations';
export const SOURCE_SYSTEMS: readonly SourceSystem[] = ['mem0', 'letta', 'memos', 'conversations'];

export interface SourceRecord {
  memory: Record<string, unknown>;
  versions: Record<string, unknown>[];
}

export interface ImportReport {
  /** Items read from the source (memories, blocks, turns…). */
  read: number;
  /** Records written to the archive. */
  written: number;
  /** Items left out because an earlier one was the same (same id, or same text in the same scope). */
  duplicates: number;
  /** Items left out for another reason, counted by reason. */
  skipped: Record<string, number>;
  /** Items whose text is longer than a memory may be (MAX_TEXT_LENGTH), stored as several memories (absent: none). */
  split?: number;
}

export interface SourceImporter {
  readonly system: SourceSystem;
  /** What a file of this system looks like, for the error when nothing in a file converts. */
  readonly expects: string;
  records(file: string, report: ImportReport): AsyncGenerator<SourceRecord>;
}

export function newReport(): ImportReport {
  return { read: 0, written: 0, duplicates: 0, skipped: {} };
}

export function skip(report: ImportReport, reason: string): void {
  report.skipped[reason] = (report.skipped[reason] ?? 0) + 1;
}

/** Nothing in the file converted: it is empty, or (most likely) another system's export. */
export class NothingToImportError extends Error {
  constructor(
    readonly system: SourceSystem,
    readonly file: string,
    readonly report: ImportReport,
    expects: string,
  ) {
    const skipped = Object.entries(report.skipped).map(([reason, n]) => `${n} ${reason}`);
    super(
      `nothing in ${file} converts as a ${system} export (expected ${expects}); ` +
        `read ${report.read} item${report.read === 1 ? '' : 's'}${report.duplicates ? `, ${report.duplicates} duplicates` : ''}${skipped.length ? `, skipped: ${skipped.join(', ')}` : ''}`,
    );
    this.name = 'NothingToImportError';
  }
}

/**
 * A record whose text is longer than a memory may be (a Letta block holds up to 100,000
 * characters, a LongMemEval turn can be long) as several records of at most
 * MAX_TEXT_LENGTH characters, cut at a paragraph, line, sentence or word boundary, each
 * marked `metadata.part: { index, of, id }` (the source record's id). A cube import refuses
 * the whole archive for one text over the limit; cutting keeps every character. The parts
 * start their own history (a version per part); one text's history is not split.
 */
export function splitLongRecord(record: SourceRecord, max = MAX_TEXT_LENGTH): SourceRecord[] {
  const text = record.memory.text;
  if (typeof text !== 'string' || text.length <= max) return [record];
  const chunks: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const cut = cutAt(rest, max);
    chunks.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  chunks.push(rest);
  const id = String(record.memory.id);
  const metadata = typeof record.memory.metadata === 'object' && record.memory.metadata !== null && !Array.isArray(record.memory.metadata) ? record.memory.metadata : {};
  const reason = typeof record.versions[0]?.reason === 'string' ? record.versions[0].reason : 'imported';
  const at = record.memory.created_at ?? null;
  return chunks.map((chunk, i) => ({
    memory: { ...record.memory, id: `${id}#part-${i + 1}`, text: chunk, metadata: { ...metadata, part: { index: i + 1, of: chunks.length, id } }, version: 1 },
    versions: [{ version: 1, action: 'create', actor_type: 'import', new_values: { text: chunk }, reason: `${reason} (part ${i + 1} of ${chunks.length})`, at }],
  }));
}

/** Where to end a chunk of at most `max` characters: the last paragraph, line, sentence or word break in its second half, else `max` (never inside a surrogate pair). */
function cutAt(text: string, max: number): number {
  const window = text.slice(0, max);
  for (const mark of ['\n\n', '\n', '. ', ' ']) {
    const at = window.lastIndexOf(mark);
    if (at >= max / 2) return at + mark.length;
  }
  const code = text.charCodeAt(max - 1);
  return code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
}

/** Converts a source file into a cube archive stream (spooled; flat memory); a file with nothing to convert is a NothingToImportError. */
export async function archiveFromSource(
  importer: SourceImporter,
  file: string,
  options: { cubeName: string; settings?: Record<string, unknown>; tmpRoot?: string; onRecord?: (report: ImportReport) => void },
): Promise<{ manifest: ArchiveManifest; stream: Readable; report: ImportReport }> {
  const report = newReport();
  const writer = await CubeArchiveWriter.create(options.tmpRoot);
  try {
    const memories = writer.part(PART.memories, 'memories', true);
    let versions = 0;
    for await (const record of importer.records(file, report)) {
      const parts = splitLongRecord(record);
      if (parts.length > 1) report.split = (report.split ?? 0) + 1;
      for (const part of parts) {
        await memories.line({ memory: part.memory, versions: part.versions, vector: false });
        versions += part.versions.length;
        report.written++;
      }
      options.onRecord?.(report);
    }
    if (report.written === 0) throw new NothingToImportError(importer.system, file, report, importer.expects);
    const { manifest, stream } = await writer.finish({
      engramVersion: ENGRAM_VERSION,
      createdAt: new Date().toISOString(),
      cube: { id: null, name: options.cubeName, description: `imported from ${importer.system}`, settings: options.settings ?? {} },
      lifecyclePolicy: null,
      embedder: null,
      models: [],
      counts: { memories: report.written, versions },
      source: { system: importer.system, file: file.split(/[\\/]/).pop() },
    });
    return { manifest, stream, report };
  } catch (error) {
    await writer.dispose();
    throw error;
  }
}
