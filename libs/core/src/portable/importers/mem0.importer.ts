// mem0 (open-source library, REST server, OpenMemory list): its get_all JSON, either
// { "results": [...] } or a bare list, Python (snake_case) or TypeScript (camelCase)
// payload keys. History rows ride along as `history` on an item (what Memory.history(id)
// returns), Python (old_memory/new_memory/event) or TypeScript (previous_value/new_value/
// action) shape. An OpenMemory backup's memories.json ({ user, apps, categories, memories })
// is read too: states kept, apps and categories as tags. Field names:
// ../shared/reference/peer-formats.md §1–4.
import { createReadStream } from 'node:fs';
import { jsonElements, topLevelArrayKeys } from './json-elements';
import { ImportReport, skip, SourceImporter, SourceRecord } from './source-importer';
import { toUtcIso } from './source-time';

type Item = Record<string, unknown>;
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null);

/** A memory's role is at most this long (the archive's rule). */
const MAX_ROLE_LENGTH = 64;

/** Payload keys that are mem0's own bookkeeping, not user metadata. */
const DROP_METADATA = new Set(['text_lemmatized', 'textLemmatized', 'data', 'hash', 'created_at', 'updated_at', 'createdAt', 'updatedAt']);

const KIND_OF_MEMORY_TYPE: Record<string, string> = { procedural_memory: 'procedure', episodic_memory: 'episode', semantic_memory: 'fact' };
const ACTION_OF_EVENT: Record<string, string> = { ADD: 'create', UPDATE: 'update', DELETE: 'delete' };

async function head(file: string): Promise<string> {
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 4096 })) {
    const c = (chunk as string).trimStart();
    if (c) return c;
  }
  return '';
}

/** An OpenMemory backup's `memories.json` (`POST /api/v1/backup/export`): its apps and categories by id. */
interface OpenMemoryExport {
  apps: Map<string, string>;
  categories: Map<string, string>;
}

async function namesById(file: string, key: string): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for await (const row of jsonElements(file, { key })) {
    if (typeof row === 'object' && row !== null && typeof (row as Item).id === 'string' && typeof (row as Item).name === 'string') names.set((row as Item).id as string, (row as Item).name as string);
  }
  return names;
}

/** OpenMemory states: deleted memories are exported too (left out here), paused ones are hidden from apps. */
const STATE_OF_OPENMEMORY: Record<string, string> = { active: 'active', archived: 'archived', paused: 'archived' };

export class Mem0Importer implements SourceImporter {
  readonly system = 'mem0' as const;
  readonly expects = "mem0's get_all JSON: { results: [...] } or a list of { id, memory }, or OpenMemory's memories.json";

  /** `historyFile`: history rows of many memories in one JSON list (history.db's `history` table, or `memory_history` of the TypeScript library). */
  constructor(private readonly historyFile: string | null = null) {}

  /** History rows by memory id (they are few next to the memories, and must be at hand when each memory streams by). */
  private async loadHistory(): Promise<Map<string, Item[]>> {
    const byMemory = new Map<string, Item[]>();
    if (!this.historyFile) return byMemory;
    for await (const row of jsonElements(this.historyFile)) {
      if (typeof row !== 'object' || row === null || Array.isArray(row)) continue;
      const id = str((row as Item).memory_id) ?? str((row as Item).memoryId);
      if (!id) continue;
      byMemory.set(id, [...(byMemory.get(id) ?? []), row as Item]);
    }
    return byMemory;
  }

  async *records(file: string, report: ImportReport): AsyncGenerator<SourceRecord> {
    const history = await this.loadHistory();
    const start = await head(file);
    let openMemory: OpenMemoryExport | null = null;
    let elements: AsyncGenerator<unknown>;
    if (!start.startsWith('{')) elements = jsonElements(file);
    else if (/^\{\s*"results"\s*:/.test(start) || !(await topLevelArrayKeys(file)).includes('memories')) elements = jsonElements(file, { key: 'results' });
    else {
      // OpenMemory's backup: { user, apps, categories, memories, … } (peer-formats §4).
      openMemory = { apps: await namesById(file, 'apps'), categories: await namesById(file, 'categories') };
      elements = jsonElements(file, { key: 'memories' });
    }
    const seen = new Set<string>();
    for await (const element of elements) {
      report.read++;
      if (typeof element !== 'object' || element === null || Array.isArray(element)) {
        skip(report, 'not an object');
        continue;
      }
      const item = element as Item;
      let state = 'active';
      if (openMemory) {
        const exported = String(item.state ?? 'active');
        if (exported === 'deleted' || item.deleted_at) {
          skip(report, 'deleted in OpenMemory');
          continue;
        }
        state = STATE_OF_OPENMEMORY[exported] ?? 'active';
        // Its user_id is OpenMemory's internal row id, not the user's own id: not a scope to keep.
        delete item.user_id;
        const app = str(item.app_id) ? openMemory.apps.get(item.app_id as string) : undefined;
        const categories = Array.isArray(item.category_ids) ? item.category_ids.map((id) => openMemory!.categories.get(String(id))).filter((c): c is string => !!c) : [];
        item.categories = [...(app ? [`app:${app}`] : []), ...categories];
        if (exported !== state) item.metadata = { ...(typeof item.metadata === 'object' && item.metadata !== null && !Array.isArray(item.metadata) ? item.metadata : {}), openmemoryState: exported };
      }
      if (!Array.isArray(item.history) && typeof item.id === 'string' && history.has(item.id)) item.history = history.get(item.id);
      const text = str(item.memory) ?? str(item.data) ?? str(item.content);
      const id = str(item.id);
      if (!text || !id) {
        skip(report, 'no id or no memory text');
        continue;
      }
      // mem0 stores whatever the caller passed: a list or a plain value is kept under `value`, not dropped.
      const metadata: Item = typeof item.metadata === 'object' && item.metadata !== null && !Array.isArray(item.metadata) ? { ...(item.metadata as Item) } : item.metadata === null || item.metadata === undefined ? {} : { value: item.metadata };
      const userId = str(item.user_id) ?? str(item.userId) ?? str(metadata.user_id) ?? str(metadata.userId);
      const agentId = str(item.agent_id) ?? str(item.agentId) ?? str(metadata.agent_id) ?? str(metadata.agentId);
      // The Platform calls the run scope session_id in lists (run_id in search).
      const runId = str(item.run_id) ?? str(item.runId) ?? str(item.session_id) ?? str(metadata.run_id) ?? str(metadata.runId);
      const hash = str(item.hash);
      // One memory per id; a re-export of the same scope may repeat it. mem0 itself
      // de-duplicates by MD5 within a scope, so the same hash in the same scope is a repeat too.
      const scopeKey = hash ? `${userId}|${agentId}|${runId}|${hash}` : null;
      if (seen.has(id) || (scopeKey && seen.has(scopeKey))) {
        report.duplicates++;
        continue;
      }
      seen.add(id);
      if (scopeKey) seen.add(scopeKey);
      // Scope keys (legacy camelCase ones included) live in tags and source, not metadata.
      for (const key of ['user_id', 'agent_id', 'run_id', 'userId', 'agentId', 'runId', 'actor_id', 'role', 'attributed_to', 'expiration_date']) delete metadata[key];
      for (const key of DROP_METADATA) delete metadata[key];
      const memoryType = str(metadata.memory_type) ?? str(item.memory_type);
      const createdAt = toUtcIso(item.created_at ?? item.createdAt ?? (item.metadata as Item | null)?.created_at);
      const updatedAt = toUtcIso(item.updated_at ?? item.updatedAt) ?? createdAt;
      const expiration = toUtcIso(item.expiration_date);
      const tags = [userId && `user:${userId}`, agentId && `agent:${agentId}`, runId && `run:${runId}`, ...(Array.isArray(item.categories) ? item.categories.filter((c): c is string => typeof c === 'string') : [])].filter(
        (t): t is string => typeof t === 'string',
      );
      const versions = this.versions(item, text, createdAt);
      yield {
        memory: {
          id,
          text,
          kind: (memoryType && KIND_OF_MEMORY_TYPE[memoryType]) ?? 'fact',
          // A role longer than a memory's (64) is free text someone put there: kept in metadata, not a reason to refuse the import.
          role: (str(item.role)?.length ?? 0) <= MAX_ROLE_LENGTH ? str(item.role) : null,
          tags: tags.map((t) => t.slice(0, 128)),
          metadata: {
            ...metadata,
            ...(str(item.attributed_to ?? item.attributedTo) ? { attributedTo: item.attributed_to ?? item.attributedTo } : {}),
            ...((str(item.role)?.length ?? 0) > MAX_ROLE_LENGTH ? { role: item.role } : {}),
          },
          source: {
            id,
            type: 'mem0',
            ...(userId ? { userId } : {}),
            ...(agentId ? { agentId } : {}),
            ...(runId ? { runId } : {}),
            ...(str(item.actor_id) ? { actorId: item.actor_id } : {}),
            ...(str(item.app_id) ? { appId: item.app_id } : {}),
            ...(hash ? { hash } : {}),
          },
          session_id: runId,
          observed_at: createdAt,
          created_at: createdAt,
          updated_at: updatedAt,
          expires_at: expiration,
          version: Math.max(1, versions.length),
          state,
        },
        versions,
      };
    }
  }

  /** History rows (oldest first) as version rows; none: one synthetic create. */
  private versions(item: Item, text: string, createdAt: string | null): Record<string, unknown>[] {
    const rows = Array.isArray(item.history) ? (item.history as Item[]).filter((r) => typeof r === 'object' && r !== null) : [];
    const events = rows
      .map((r) => ({
        event: String(r.event ?? r.action ?? '').toUpperCase(),
        old: str(r.old_memory) ?? str(r.previous_value) ?? str(r.previousValue),
        new: str(r.new_memory) ?? str(r.new_value) ?? str(r.newValue),
        // A row's created_at is the memory's; its updated_at is when the event happened.
        at: toUtcIso(r.updated_at ?? r.updatedAt) ?? toUtcIso(r.created_at ?? r.createdAt),
        deleted: r.is_deleted === true || r.is_deleted === 1,
      }))
      .filter((e) => e.event in ACTION_OF_EVENT && e.event !== 'DELETE')
      .sort((a, b) => (a.at ?? '').localeCompare(b.at ?? ''));
    if (!events.length) {
      return [{ version: 1, action: 'create', actor_type: 'import', new_values: { text }, reason: 'imported from mem0', at: createdAt }];
    }
    return events.map((e, i) => ({
      version: i + 1,
      action: i === 0 ? 'create' : 'update',
      actor_type: 'import',
      old_values: e.old ? { text: e.old } : null,
      new_values: { text: e.new ?? text },
      reason: `mem0 ${e.event}`,
      at: e.at ?? createdAt,
    }));
  }
}
