import { ConversationsImporter } from './conversations.importer';
import { LettaImporter } from './letta.importer';
import { Mem0Importer } from './mem0.importer';
import { MemosImporter } from './memos.importer';
import { SourceImporter, SourceSystem } from './source-importer';

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
