// Letta agent files (.af): v2 AgentFileSchema ({ agents[], blocks[], … } with messages
// inside each agent) and the legacy v1 single-agent shape (top-level core_memory[] and
// messages[]). Core memory blocks become facts, user/assistant messages become message
// memories in a session per agent; archival passages, which .af files do not carry, are
// read from a top-level `passages` list (the archival-memory API's Passage objects) when
// present. Field names: ../shared/reference/peer-formats.md §5.
import { readFile } from 'node:fs/promises';
import { decodeUtf8File } from './json-elements';
import { ImportReport, skip, SourceImporter, SourceRecord } from './source-importer';
import { toUtcIso } from './source-time';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null);
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** The human-visible text of a message: text parts, or MemGPT's send_message argument. */
function messageText(message: Obj): string | null {
  const content = message.content;
  const parts: string[] = [];
  if (typeof content === 'string') parts.push(content);
  else for (const part of list(content)) if (part.type === 'text' && typeof part.text === 'string') parts.push(part.text);
  let text = parts.join('\n').trim();
  if (!text && message.role === 'assistant') {
    for (const call of list(message.tool_calls)) {
      const fn = isObj(call.function) ? call.function : null;
      if (fn?.name !== 'send_message' || typeof fn.arguments !== 'string') continue;
      try {
        const args = JSON.parse(fn.arguments) as Obj;
        if (typeof args.message === 'string') text = args.message.trim();
      } catch {
        // Arguments that are not JSON carry no message to keep.
      }
    }
  }
  return text || null;
}

/** A user "message" that is a JSON-encoded system event (login, heartbeat), not something a person said. */
function isSystemEvent(text: string): boolean {
  if (!text.startsWith('{')) return false;
  try {
    const parsed = JSON.parse(text) as Obj;
    return typeof parsed.type === 'string' && ['login', 'heartbeat', 'system_alert', 'system_message'].includes(parsed.type);
  } catch {
    return false;
  }
}

export class LettaImporter implements SourceImporter {
  readonly system = 'letta' as const;
  readonly expects = 'a Letta agent file (.af): { agents, blocks } or a legacy agent with core_memory and messages';

  async *records(file: string, report: ImportReport): AsyncGenerator<SourceRecord> {
    const text = decodeUtf8File(await readFile(file));
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new Error(`${file} is not a JSON agent file`);
    }
    if (!isObj(doc)) throw new Error(`${file} is not a Letta agent file (expected a JSON object)`);
    const legacy = !Array.isArray(doc.agents);
    const agents: Obj[] = legacy ? [{ ...doc, id: str(doc.id) ?? 'agent-0', messages: doc.messages, block_ids: null }] : list(doc.agents);
    const blocks = legacy ? list(doc.core_memory) : list(doc.blocks);
    const seenTexts = new Set<string>();
    // Each record id once: an archive with two memories of one id is refused as a whole.
    // Ids are file-local (block-0, message-3), so a repeat is the same item listed twice.
    const seenIds = new Set<string>();
    const repeated = (id: string): boolean => {
      if (!seenIds.has(id)) {
        seenIds.add(id);
        return false;
      }
      report.duplicates++;
      return true;
    };
    const fileCreated = toUtcIso(doc.created_at);

    // Core memory: one fact per block, shared blocks once, labelled with the agents that use them.
    const usedBy = new Map<string, string[]>();
    for (const agent of agents) for (const id of Array.isArray(agent.block_ids) ? agent.block_ids : []) usedBy.set(String(id), [...(usedBy.get(String(id)) ?? []), String(agent.name ?? agent.id)]);
    for (const block of blocks) {
      report.read++;
      const text = str(block.value);
      if (!text) {
        skip(report, 'empty core memory block');
        continue;
      }
      const label = str(block.label) ?? 'block';
      if (repeated(`block:${String(block.id ?? label)}`)) continue;
      const at = toUtcIso(block.updated_at ?? block.created_at) ?? fileCreated;
      yield this.record(`block:${String(block.id ?? label)}`, {
        text,
        kind: 'fact',
        tags: ['letta', 'core-memory', `block:${label}`.slice(0, 128)],
        metadata: {
          letta: { label, description: block.description ?? null, limit: block.limit ?? null, readOnly: block.read_only ?? false, usedBy: usedBy.get(String(block.id)) ?? [], ...(isObj(block.metadata) ? { metadata: block.metadata } : isObj(block.metadata_) ? { metadata: block.metadata_ } : {}) },
        },
        source: { id: String(block.id ?? label), type: 'letta.block' },
        observed_at: at,
        created_at: at,
      });
    }

    for (const agent of agents) {
      const agentId = String(agent.id ?? 'agent');
      const agentName = str(agent.name) ?? agentId;
      for (const message of list(agent.messages)) {
        report.read++;
        const role = String(message.role ?? '');
        if (role !== 'user' && role !== 'assistant') {
          skip(report, `${role || 'unknown'} message`);
          continue;
        }
        const text = messageText(message);
        if (!text) {
          skip(report, 'message without text');
          continue;
        }
        if (role === 'user' && isSystemEvent(text)) {
          skip(report, 'system event sent as a user message');
          continue;
        }
        const at = toUtcIso(message.created_at);
        const key = `${agentId}|${role}|${at}|${text}`;
        if (seenTexts.has(key)) {
          report.duplicates++;
          continue;
        }
        seenTexts.add(key);
        if (repeated(`${agentId}:${String(message.id ?? report.read)}`)) continue;
        yield this.record(`${agentId}:${String(message.id ?? report.read)}`, {
          text,
          kind: 'message',
          role,
          tags: ['letta', `agent:${agentName}`.slice(0, 128)],
          metadata: { ...(str(message.name) ? { name: message.name } : {}) },
          source: { id: String(message.id ?? ''), type: 'letta.message', sessionId: agentId },
          session_id: `letta:${agentId}`,
          observed_at: at,
          created_at: at,
        });
      }
    }

    for (const passage of list(doc.passages)) {
      report.read++;
      const text = str(passage.text);
      if (!text) {
        skip(report, 'empty passage');
        continue;
      }
      if (repeated(`passage:${String(passage.id ?? report.read)}`)) continue;
      const at = toUtcIso(passage.created_at);
      yield this.record(`passage:${String(passage.id ?? report.read)}`, {
        text,
        kind: 'fact',
        tags: ['letta', 'archival', ...(Array.isArray(passage.tags) ? passage.tags.filter((t): t is string => typeof t === 'string').map((t) => t.slice(0, 128)) : [])],
        metadata: isObj(passage.metadata) ? passage.metadata : {},
        source: { id: String(passage.id ?? ''), type: 'letta.passage' },
        observed_at: at,
        created_at: at,
      });
    }
  }

  private record(id: string, memory: Obj): SourceRecord {
    return {
      memory: { id, role: null, ...memory },
      versions: [{ version: 1, action: 'create', actor_type: 'import', new_values: { text: memory.text }, reason: 'imported from letta', at: memory.created_at ?? null }],
    };
  }
}
