// LongMemEval-S dev questions (../shared/data/longmemeval-s-dev): types, loading and scoring
// shared by the retrieval benches.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** ../shared/data beside the repository (found from package.json upwards), or ENGRAM_EVAL_DATA's parent. */
export function sharedDataDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      readFileSync(path.join(dir, 'package.json'));
      return path.resolve(dir, '..', 'shared', 'data');
    } catch {
      if (path.dirname(dir) === dir) throw new Error('repository root (package.json) not found');
    }
  }
}

export interface LmeTurn { role: string; content: string; has_answer?: boolean }
export interface LmeQuestion {
  question_id: string;
  question_type: string;
  question: string;
  question_date: string;
  haystack_session_ids: string[];
  haystack_dates: string[];
  haystack_sessions: LmeTurn[][];
  answer_session_ids: string[];
}

export const LME_KS = [1, 3, 5, 10];

export function lmeDir(): string {
  return process.env.ENGRAM_EVAL_DATA ?? path.join(sharedDataDir(), 'longmemeval-s-dev');
}

export function loadLongMemEval(limit = Infinity): LmeQuestion[] {
  const dir = lmeDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .slice(0, limit)
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as LmeQuestion);
}

/** "2023/05/20 (Sat) 00:59" → epoch ms (UTC). */
export function lmeDate(text: string): number {
  const m = text.match(/(\d{4})\/(\d{2})\/(\d{2})\D+(\d{2}):(\d{2})/);
  if (!m) throw new Error(`unparsed date ${text}`);
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
}

export interface LmeScore { type: string; any: number[]; all: number[]; turnRecall10: number; turnMrr: number; hasTurns: boolean }

/** Scores one ranked list of turns, each named `${sessionId}#${turnIndex}`. */
export function scoreLongMemEval(q: LmeQuestion, rankedTurns: string[]): LmeScore {
  const goldTurns = new Set<string>();
  q.haystack_sessions.forEach((session, s) => session.forEach((turn, t) => turn.has_answer && goldTurns.add(`${q.haystack_session_ids[s]}#${t}`)));
  const sessions: string[] = [];
  for (const key of rankedTurns) {
    const s = key.slice(0, key.lastIndexOf('#'));
    if (!sessions.includes(s)) sessions.push(s);
  }
  const gold = new Set(q.answer_session_ids);
  const firstGoldTurn = rankedTurns.findIndex((k) => goldTurns.has(k));
  return {
    type: q.question_type,
    any: LME_KS.map((k) => (sessions.slice(0, k).some((s) => gold.has(s)) ? 1 : 0)),
    all: LME_KS.map((k) => ([...gold].every((g) => sessions.slice(0, k).includes(g)) ? 1 : 0)),
    turnRecall10: goldTurns.size ? rankedTurns.slice(0, 10).filter((k) => goldTurns.has(k)).length / goldTurns.size : 0,
    turnMrr: firstGoldTurn >= 0 ? 1 / (firstGoldTurn + 1) : 0,
    hasTurns: goldTurns.size > 0,
  };
}

/** Means over questions: any@k, all@k, then turn recall@10 and turn MRR (over questions with gold turns). */
export function meanScores(rows: LmeScore[]): number[] {
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  const withTurns = rows.filter((r) => r.hasTurns);
  return [
    ...LME_KS.map((_, i) => mean(rows.map((r) => r.any[i]))),
    ...LME_KS.map((_, i) => mean(rows.map((r) => r.all[i]))),
    mean(withTurns.map((r) => r.turnRecall10)),
    mean(withTurns.map((r) => r.turnMrr)),
  ];
}
