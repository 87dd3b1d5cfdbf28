// What every importer from another memory system produces: archive memory records
// ({ memory, versions }, docs/cube-archive.md), converted as the source file streams in,
// and a report of what it read, merged and left out.
import { ArchiveManifest } from '../cube-archive.format';
import { CubeArchiveWriter } from '../cube-archive.writer';
import { ENGRAM_VERSION, PART } from '../cube-archive.format';
import { Readable } from 'node:stream';

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
      await memories.line({ memory: record.memory, versions: record.versions, vector: false });
      versions += record.versions.length;
      report.written++;
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
