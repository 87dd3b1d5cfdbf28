// Plain conversation JSON: sessions of role/content/time turns, stored as message
// memories with session ids and times. Two shapes: LongMemEval instances
// ({ question_id, haystack_session_ids, haystack_dates, haystack_sessions }, one session
// list per question; a filler session repeated across questions is imported once), and a
// list of sessions ({ id | session_id, date | time, turns | messages: [{ role, content,
// time? }] }) or { "sessions": [...] }. Field names: ../shared/reference/peer-formats.md §7.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { jsonElements } from './json-elements';
import { ImportReport, skip, SourceImporter, SourceRecord } from './source-importer';
import { toUtcIso } from './source-time';

type Obj = Record<string, unknown>;
/** Sessions read so far: the digests of their turn lists, and the next turn index. */
type Sessions = Map<string, { digests: Set<string>; next: number }>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null);

async function startsWithObject(file: string): Promise<boolean> {
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 4096 })) {
    const c = (chunk as string).trimStart();
    if (c) return c.startsWith('{');
  }
  return false;
}

export class ConversationsImporter implements SourceImporter {
  readonly system = 'conversations' as const;
  readonly expects = 'LongMemEval instances with haystack_sessions, or sessions of turns/messages with role and content ({ sessions: [...] } or a list)';

  async *records(file: string, report: ImportReport): AsyncGenerator<SourceRecord> {
    const elements = (await startsWithObject(file)) ? jsonElements(file, { key: 'sessions' }) : jsonElements(file);
    const seenSessions: Sessions = new Map();
    for await (const element of elements) {
      if (!isObj(element)) {
        report.read++;
        skip(report, 'not an object');
        continue;
      }
      if (Array.isArray(element.haystack_sessions)) {
        yield* this.longMemEval(element, report, seenSessions);
        continue;
      }
      const id = str(element.session_id) ?? str(element.id) ?? `session-${seenSessions.size + 1}`;
      yield* this.session(id, toUtcIso(element.date ?? element.time ?? element.started_at ?? element.timestamp), Array.isArray(element.turns) ? element.turns : element.messages, report, seenSessions, []);
    }
  }

  private async *longMemEval(instance: Obj, report: ImportReport, seen: Sessions): AsyncGenerator<SourceRecord> {
    const ids = Array.isArray(instance.haystack_session_ids) ? instance.haystack_session_ids : [];
    const dates = Array.isArray(instance.haystack_dates) ? instance.haystack_dates : [];
    const sessions = instance.haystack_sessions as unknown[];
    const question = str(instance.question_id);
    for (let i = 0; i < sessions.length; i++) {
      const id = str(ids[i]) ?? `${question ?? 'q'}-session-${i}`;
      yield* this.session(id, toUtcIso(dates[i]), sessions[i], report, seen, question ? [`question:${question}`.slice(0, 128)] : []);
    }
  }

  private async *session(id: string, at: string | null, turns: unknown, report: ImportReport, seen: Sessions, tags: string[]): AsyncGenerator<SourceRecord> {
    const list = Array.isArray(turns) ? turns : [];
    // The same session again (LongMemEval samples filler sessions with replacement) is a
    // duplicate; a session id again with other turns continues that session (it used to be
    // dropped as a duplicate).
    const digest = createHash('sha1').update(JSON.stringify(list)).digest('base64');
    const known = seen.get(id) ?? { digests: new Set<string>(), next: 0 };
    if (known.digests.has(digest)) {
      report.read += list.length;
      report.duplicates += list.length;
      return;
    }
    known.digests.add(digest);
    const first = known.next;
    known.next += list.length;
    seen.set(id, known);
    for (const [offset, turn] of list.entries()) {
      const index = first + offset;
      report.read++;
      if (!isObj(turn)) {
        skip(report, 'turn is not an object');
        continue;
      }
      const role = str(turn.role) ?? str(turn.speaker);
      const text = str(turn.content) ?? str(turn.text);
      if (!role || !text) {
        skip(report, 'turn without role or content');
        continue;
      }
      const time = toUtcIso(turn.time ?? turn.timestamp ?? turn.created_at) ?? at;
      yield {
        memory: {
          id: `${id}#${index}`,
          text,
          kind: 'message',
          role: role.slice(0, 64),
          tags,
          metadata: { turnIndex: index, ...(turn.has_answer === true ? { hasAnswer: true } : {}), ...(str(turn.name) ? { name: turn.name } : {}) },
          source: { type: 'conversation', sessionId: id, id: `${id}#${index}` },
          session_id: id,
          observed_at: time,
          created_at: time,
        },
        versions: [{ version: 1, action: 'create', actor_type: 'import', new_values: { text }, reason: 'imported conversation', at: time }],
      };
    }
  }
}
