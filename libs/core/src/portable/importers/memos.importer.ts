// MemOS MemCube dumps: textual_memory.json in its shapes — naive_text (a list of
// TextualMemoryItem), general_text (a list of { id, vector, payload: { id, memory,
// metadata } }), tree_text ({ nodes: [...], edges: [...] }) and pref_text ({ <collection>:
// [items] }) — or the dump folder itself (config.json + textual_memory.json). Versions
// come from metadata.history[]; the same text kept as both a WorkingMemory and a
// long-term node is imported once. Field names: ../shared/reference/peer-formats.md §6.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonElements, topLevelArrayKeys } from './json-elements';
import { ImportReport, skip, SourceImporter, SourceRecord } from './source-importer';
import { toUtcIso } from './source-time';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null);
const digest = (text: string) => createHash('sha1').update(text.trim().toLowerCase()).digest('base64');

const KIND_OF_TYPE: Record<string, string> = { fact: 'fact', event: 'episode', opinion: 'fact', topic: 'fact', reasoning: 'fact', procedure: 'procedure', preference: 'preference' };
const STATE_OF_STATUS: Record<string, string> = { activated: 'active', resolving: 'active', archived: 'archived' };

/** MemOS stores `sources` entries as objects, JSON strings, or JSON strings of JSON strings. */
export function decodeSource(value: unknown): unknown {
  let current = value;
  for (let i = 0; i < 4 && typeof current === 'string' && /^\s*[{"]/.test(current); i++) {
    try {
      current = JSON.parse(current);
    } catch {
      break;
    }
  }
  return typeof current === 'string' ? { type: 'doc', content: current } : current;
}

/** How the file is shaped, from its first significant characters. */
async function shapeOf(file: string): Promise<{ kind: 'list' } | { kind: 'object'; keys: string[] }> {
  let head = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 65536 })) {
    head += chunk as string;
    if (head.length > 65536) break;
  }
  const trimmed = head.trimStart();
  if (trimmed.startsWith('[')) return { kind: 'list' };
  const key = /^\{\s*"((?:[^"\\]|\\.)*)"\s*:/.exec(trimmed)?.[1];
  if (!key) throw new Error(`${file} is not a MemOS textual memory dump (expected a JSON list or object)`);
  // tree_text lists nodes; pref_text keys a list by each collection's name (explicit and
  // implicit preferences are two): every one is read, not only the first.
  if (/"nodes"\s*:\s*\[/.test(head)) return { kind: 'object', keys: ['nodes'] };
  const keys = await topLevelArrayKeys(file);
  return { kind: 'object', keys: keys.length ? keys : [key] };
}

async function* elementsOf(file: string, keys: string[]): AsyncGenerator<unknown> {
  for (const key of keys) yield* jsonElements(file, { key });
}

export class MemosImporter implements SourceImporter {
  readonly system = 'memos' as const;
  readonly expects = 'a MemOS dump folder or its textual_memory.json';

  async *records(path: string, report: ImportReport): AsyncGenerator<SourceRecord> {
    const file = (await stat(path)).isDirectory() ? join(path, 'textual_memory.json') : path;
    const shape = await shapeOf(file);
    const read = () => (shape.kind === 'list' ? jsonElements(file) : elementsOf(file, shape.keys));
    // Pass 1: texts held by long-term nodes, so their WorkingMemory copies are dropped.
    const longTerm = new Set<string>();
    for await (const element of read()) {
      const item = this.item(element);
      if (item && item.metadata.memory_type !== 'WorkingMemory') longTerm.add(digest(item.memory));
    }
    const seenIds = new Set<string>();
    const seenTexts = new Set<string>();
    for await (const element of read()) {
      report.read++;
      const item = this.item(element);
      if (!item) {
        skip(report, 'not a textual memory item');
        continue;
      }
      const meta = item.metadata;
      if (meta.status === 'deleted') {
        skip(report, 'deleted in MemOS');
        continue;
      }
      const key = digest(item.memory);
      if (seenIds.has(item.id) || (meta.memory_type === 'WorkingMemory' && longTerm.has(key)) || seenTexts.has(`${meta.memory_type}|${key}`)) {
        report.duplicates++;
        continue;
      }
      seenIds.add(item.id);
      seenTexts.add(`${meta.memory_type}|${key}`);
      yield this.record(item);
    }
  }

  private item(element: unknown): { id: string; memory: string; metadata: Obj } | null {
    if (!isObj(element)) return null;
    const inner = isObj(element.payload) ? element.payload : element; // general_text wraps the item
    const id = str(inner.id) ?? str(element.id);
    const memory = str(inner.memory);
    if (!id || !memory) return null;
    return { id, memory, metadata: isObj(inner.metadata) ? inner.metadata : {} };
  }

  private record(item: { id: string; memory: string; metadata: Obj }): SourceRecord {
    const meta = item.metadata;
    const createdAt = toUtcIso(meta.created_at) ?? toUtcIso(meta.memory_time);
    const updatedAt = toUtcIso(meta.updated_at) ?? createdAt;
    // Documented 0–100, found as 0.99 too; anything outside 0–1 after that is clamped (an importance outside it refuses the whole archive).
    const confidence = typeof meta.confidence === 'number' && Number.isFinite(meta.confidence) ? Math.min(1, Math.max(0, meta.confidence > 1 ? meta.confidence / 100 : meta.confidence)) : null;
    const tags = [...(Array.isArray(meta.tags) ? meta.tags : []), ...(str(meta.memory_type) ? [meta.memory_type] : [])].filter((t): t is string => typeof t === 'string').map((t) => t.slice(0, 128));
    const memosMeta: Obj = {};
    for (const key of ['key', 'memory_type', 'type', 'source', 'visibility', 'background', 'confidence', 'preference_type', 'entities', 'usage', 'evolve_to', 'file_ids']) {
      if (meta[key] !== undefined && meta[key] !== null && !(Array.isArray(meta[key]) && (meta[key] as unknown[]).length === 0) && meta[key] !== '') memosMeta[key] = meta[key];
    }
    const sources = Array.isArray(meta.sources) ? meta.sources.map(decodeSource) : [];
    const history = (Array.isArray(meta.history) ? meta.history.filter(isObj) : []).sort((a, b) => Number(a.version ?? 0) - Number(b.version ?? 0));
    const versions: Obj[] = history.map((h, i) => ({
      version: i + 1,
      action: i === 0 ? 'create' : 'update',
      actor_type: 'import',
      old_values: i > 0 && str(history[i - 1].memory) ? { text: history[i - 1].memory } : null,
      new_values: { text: h.memory ?? null },
      reason: `memos ${String(h.update_type ?? 'update')}`,
      at: toUtcIso(h.created_at),
    }));
    versions.push({
      version: versions.length + 1,
      action: versions.length ? 'update' : 'create',
      actor_type: 'import',
      old_values: history.length && str(history[history.length - 1].memory) ? { text: history[history.length - 1].memory } : null,
      new_values: { text: item.memory },
      reason: 'imported from memos',
      at: updatedAt,
    });
    const sessionId = str(meta.session_id);
    return {
      memory: {
        id: item.id,
        text: item.memory,
        kind: (str(meta.type) && KIND_OF_TYPE[meta.type as string]) ?? (meta.preference_type ? 'preference' : 'fact'),
        role: null,
        tags,
        metadata: { ...(isObj(meta.info) ? meta.info : {}), memos: memosMeta },
        source: { id: item.id, type: 'memos', ...(str(meta.user_id) ? { userId: meta.user_id } : {}), ...(sessionId ? { sessionId } : {}), ...(sources.length ? { refs: sources.slice(0, 100).map((s) => JSON.stringify(s).slice(0, 512)) } : {}) },
        session_id: sessionId,
        observed_at: createdAt,
        created_at: createdAt,
        updated_at: updatedAt,
        importance: confidence,
        state: STATE_OF_STATUS[String(meta.status ?? 'activated')] ?? 'active',
        version: versions.length,
      },
      versions,
    };
  }
}
