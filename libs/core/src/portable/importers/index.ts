import { ConversationsImporter } from './conversations.importer';
import { LettaImporter } from './letta.importer';
import { Mem0Importer } from './mem0.importer';
import { MemosImporter } from './memos.importer';
import { newReport, SOURCE_SYSTEMS, SourceImporter, SourceSystem } from './source-importer';

export * from './source-importer';
export * from './source-time';
export * from './json-elements';
export { Mem0Importer, LettaImporter, MemosImporter, ConversationsImporter };

export function importerFor(system: SourceSystem, options: { history?: string } = {}): SourceImporter {
  switch (system) {
    case 'mem0':
      return new Mem0Importer(options.history ?? null);
    case 'letta':
      return new LettaImporter();
    case 'memos':
      return new MemosImporter();
    case 'conversations':
      return new ConversationsImporter();
  }
}

/**
 * The systems whose converter finds at least one memory in `file` (each tried until its
 * first record; a converter that fails on the file does not match). For the error when
 * `--from` names the wrong one: cheap next to the import itself.
 */
export async function sourceSystemsMatching(file: string, candidates: readonly SourceSystem[] = SOURCE_SYSTEMS): Promise<SourceSystem[]> {
  const matching: SourceSystem[] = [];
  for (const system of candidates) {
    try {
      const records = importerFor(system).records(file, newReport());
      const first = await records.next();
      await records.return(undefined);
      if (!first.done) matching.push(system);
    } catch {
      // not this system's format
    }
  }
  return matching;
}
