// A conversational multi-hop proxy built from HotpotQA dev100 (../shared/data/hotpotqa-dev100),
// for the multi-hop questions of long two-person conversations that the judged set has and
// the dev sets hardly do (issue 12). Nothing is trained on its answers: it only reshapes the
// questions' own paragraphs into conversations.
//
// - The 100 questions go, by a hash of their id, into conversations of `perConversation`
//   questions; a conversation holds every paragraph of its questions' contexts (the two
//   supporting paragraphs and the distractors, about 10 per question), titles dropped.
// - Paragraphs are dealt into sessions of `paragraphsPerSession` (seeded shuffle), so that no
//   session holds both supporting paragraphs of one question: the two hops are always in
//   different sessions. Sessions are dated a week apart.
// - In a session two speakers take turns, each telling their own paragraphs one sentence a
//   turn (speaker A the 1st and 3rd paragraph, B the 2nd): a turn's immediate neighbours
//   are the other speaker's topic, the turns two away its own.
// - Gold: the supporting sentences (HotpotQA's supporting_facts), one memory each, so the
//   metric is turn recall@10 as on the judged set; also all@10 (every gold turn in the top 10).
//
// How it differs from the judged set: the sentences are encyclopedic, not chit-chat; the
// questions were written from Wikipedia around a named bridge entity (a person, film, band),
// where a conversation's multi-hop questions often gather a person's events across sessions
// ("what activities does X do?") and name neither; the speakers' names appear nowhere;
// a paragraph's later sentences say "he"/"the band" where its title would have been.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export interface HotpotRow {
  readonly _id: string;
  readonly type: string;
  readonly question: string;
  readonly context: [string, string[]][];
  readonly supporting_facts: [string, number[], ...unknown[]][];
}

export interface ConvTurn {
  readonly label: number;
  readonly text: string;
  readonly sessionId: string;
  readonly position: number;
  readonly speaker: 'A' | 'B';
  readonly observedAt: number;
}

export interface ConvQuestion {
  readonly id: string;
  readonly type: string;
  readonly question: string;
  /** Labels of the supporting sentences' turns. */
  readonly gold: ReadonlySet<number>;
  /** Sessions holding the gold turns (always two or more). */
  readonly goldSessions: ReadonlySet<string>;
}

export interface Conversation {
  readonly id: string;
  readonly turns: readonly ConvTurn[];
  readonly questions: readonly ConvQuestion[];
}

export interface ConversationOptions {
  readonly perConversation: number;
  readonly paragraphsPerSession: number;
  readonly seed: string;
}

export const DEFAULT_CONVERSATION_OPTIONS: ConversationOptions = { perConversation: 10, paragraphsPerSession: 3, seed: 'engram-conv-hotpot/1' };

export function loadHotpot(dataDir: string): HotpotRow[] {
  return readFileSync(path.join(dataDir, 'hotpotqa-dev100', 'hotpotqa_dev100_amor.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as HotpotRow);
}

export function buildConversations(rows: readonly HotpotRow[], options: ConversationOptions = DEFAULT_CONVERSATION_OPTIONS): Conversation[] {
  const ordered = [...rows].sort((a, b) => cmp(hash(options.seed, a._id), hash(options.seed, b._id)));
  const out: Conversation[] = [];
  for (let i = 0; i < ordered.length; i += options.perConversation) {
    out.push(buildConversation(`conv${out.length + 1}`, ordered.slice(i, i + options.perConversation), options));
  }
  return out;
}

function buildConversation(id: string, rows: readonly HotpotRow[], options: ConversationOptions): Conversation {
  const paragraphs = new Map<string, string[]>();
  for (const row of rows) {
    for (const [title, sentences] of row.context) if (!paragraphs.has(title)) paragraphs.set(title, sentences.map((s) => s.trim()));
  }
  // Titles that must not share a session: the two supporting paragraphs of each question.
  const apart = new Map<string, Set<string>>();
  for (const row of rows) {
    const titles = [...new Set(row.supporting_facts.map((f) => f[0]))];
    for (const a of titles) for (const b of titles) if (a !== b) apart.set(a, (apart.get(a) ?? new Set()).add(b));
  }
  const queue = [...paragraphs.keys()].sort((a, b) => cmp(hash(options.seed, `${id}:${a}`), hash(options.seed, `${id}:${b}`)));
  const sessions: string[][] = [];
  while (queue.length > 0) {
    const session: string[] = [];
    while (session.length < options.paragraphsPerSession) {
      const i = queue.findIndex((t) => !session.some((s) => apart.get(s)?.has(t)));
      if (i < 0) break;
      session.push(queue.splice(i, 1)[0]);
    }
    sessions.push(session);
  }
  const turns: ConvTurn[] = [];
  const labelOf = new Map<string, number>(); // `${title}#${sentence}` → label
  const sessionOfTitle = new Map<string, string>();
  const start = Date.UTC(2023, 0, 2);
  sessions.forEach((titles, s) => {
    const sessionId = `${id}-s${s + 1}`;
    const observedAt = start + s * 7 * 86_400_000;
    // Speaker A tells the 1st, 3rd, … paragraph, B the others; they alternate one sentence a turn.
    const tracks: { speaker: 'A' | 'B'; items: { title: string; index: number; text: string }[] }[] = [
      { speaker: 'A', items: [] },
      { speaker: 'B', items: [] },
    ];
    titles.forEach((title, p) => {
      sessionOfTitle.set(title, sessionId);
      paragraphs.get(title)!.forEach((text, index) => text.length > 0 && tracks[p % 2].items.push({ title, index, text }));
    });
    let position = 0;
    for (let k = 0; tracks.some((t) => k < t.items.length); k++) {
      for (const track of tracks) {
        const item = track.items[k];
        if (!item) continue;
        const label = turns.length + 1;
        labelOf.set(`${item.title}#${item.index}`, label);
        turns.push({ label, text: item.text, sessionId, position: position++, speaker: track.speaker, observedAt });
      }
    }
  });
  const questions = rows.map((row): ConvQuestion => {
    const gold = new Set<number>();
    const goldSessions = new Set<string>();
    for (const [title, indices] of row.supporting_facts) {
      for (const index of indices) {
        const label = labelOf.get(`${title}#${index}`);
        if (label !== undefined) gold.add(label);
      }
      goldSessions.add(sessionOfTitle.get(title)!);
    }
    return { id: row._id, type: row.type, question: row.question, gold, goldSessions };
  });
  return { id, turns, questions };
}

function hash(seed: string, key: string): string {
  return createHash('sha256').update(`${seed}:${key}`).digest('hex');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
