// LongMemEval-S dev through the real engram service over HTTP, as an agent (or the
// external harness) would use it: one cube per question, one memory per turn (both
// roles) with session id, turn index, role and session date, then one search per
// question with question_date as the reference time. The same figures as
// bench/retrieval.bench.ts (which runs the retrieval library directly), so the two must
// agree — a check that the service adds no loss.
//   npm run bench:retrieval:service [-- --questions 60]
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { arg } from './support/synthetic-corpus';
import { startScratchService } from './support/scratch-service';

const DATA = path.resolve(__dirname, '..', '..', '..', 'shared', 'data', 'longmemeval-s-dev');
const KS = [1, 3, 5, 10];

interface LmeTurn { role: string; content: string; has_answer?: boolean }
interface LmeQuestion {
  question_id: string;
  question_type: string;
  question: string;
  question_date: string;
  haystack_session_ids: string[];
  haystack_dates: string[];
  haystack_sessions: LmeTurn[][];
  answer_session_ids: string[];
}

/** "2023/05/20 (Sat) 00:59" → ISO-8601 (UTC). */
function lmeDate(text: string): string {
  const m = text.match(/(\d{4})\/(\d{2})\/(\d{2})\D+(\d{2}):(\d{2})/);
  if (!m) throw new Error(`unparsed date ${text}`);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5])).toISOString();
}

interface Result { id: string; metadata: { sessionId: string; turn: number; gold?: boolean } }

async function main(): Promise<void> {
  const dataDir = process.env.ENGRAM_EVAL_DATA ?? DATA;
  const files = readdirSync(dataDir).filter((f) => f.endsWith('.json')).sort().slice(0, arg('questions', 1000));
  const service = await startScratchService();
  const rows: { type: string; any: number[]; all: number[]; turnRecall10: number; turnMrr: number; hasTurns: boolean }[] = [];
  const searchMs: number[] = [];
  let memories = 0;
  const started = performance.now();
  try {
    for (const [n, file] of files.entries()) {
      const q = JSON.parse(readFileSync(path.join(dataDir, file), 'utf8')) as LmeQuestion;
      const cube = await service.call<{ id: string }>('POST', '/v1/cubes', { name: q.question_id });
      const items: object[] = [];
      const goldTurns = new Set<string>();
      q.haystack_sessions.forEach((session, s) => {
        session.forEach((turn, t) => {
          if (turn.has_answer) goldTurns.add(`${q.haystack_session_ids[s]}#${t}`);
          items.push({
            text: turn.content,
            kind: 'message',
            role: turn.role,
            source: { type: 'longmemeval', sessionId: q.haystack_session_ids[s] },
            metadata: { sessionId: q.haystack_session_ids[s], turn: t },
            observedAt: lmeDate(q.haystack_dates[s]),
          });
        });
      });
      for (let i = 0; i < items.length; i += 1000) await service.call('POST', `/v1/cubes/${cube.id}/memories`, { items: items.slice(i, i + 1000) });
      memories += items.length;
      const t0 = performance.now();
      const { results } = await service.call<{ results: Result[] }>('POST', `/v1/cubes/${cube.id}/search`, {
        query: q.question,
        topK: 200,
        referenceTime: lmeDate(q.question_date),
      });
      searchMs.push(performance.now() - t0);
      const sessions: string[] = [];
      for (const r of results) if (!sessions.includes(r.metadata.sessionId)) sessions.push(r.metadata.sessionId);
      const gold = new Set(q.answer_session_ids);
      const turnKeys = results.map((r) => `${r.metadata.sessionId}#${r.metadata.turn}`);
      const firstGoldTurn = turnKeys.findIndex((k) => goldTurns.has(k));
      rows.push({
        type: q.question_type,
        any: KS.map((k) => (sessions.slice(0, k).some((s) => gold.has(s)) ? 1 : 0)),
        all: KS.map((k) => ([...gold].every((g) => sessions.slice(0, k).includes(g)) ? 1 : 0)),
        turnRecall10: goldTurns.size ? turnKeys.slice(0, 10).filter((k) => goldTurns.has(k)).length / goldTurns.size : 0,
        turnMrr: firstGoldTurn >= 0 ? 1 / (firstGoldTurn + 1) : 0,
        hasTurns: goldTurns.size > 0,
      });
      process.stderr.write(`\r${n + 1}/${files.length} questions`);
    }
  } finally {
    await service.close();
  }
  process.stderr.write('\n');
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  const table = (label: string, subset: typeof rows) => {
    const withTurns = subset.filter((r) => r.hasTurns);
    const cells = [
      ...KS.map((_, i) => mean(subset.map((r) => r.any[i]))),
      ...KS.map((_, i) => mean(subset.map((r) => r.all[i]))),
      mean(withTurns.map((r) => r.turnRecall10)),
      mean(withTurns.map((r) => r.turnMrr)),
    ];
    console.log(`| ${label.padEnd(26)} | ${String(subset.length).padStart(3)} | ${cells.map((c) => c.toFixed(3)).join(' | ')} |`);
    return cells;
  };
  console.log(`\n## LongMemEval-S dev through the engram HTTP API — ${rows.length} questions, ${memories} memories, hash embedder\n`);
  console.log('| question type              |   n | any@1 | any@3 | any@5 | any@10 | all@1 | all@3 | all@5 | all@10 | turn R@10 | turn MRR |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const type of [...new Set(rows.map((r) => r.type))].sort()) table(type, rows.filter((r) => r.type === type));
  const all = table('all', rows);
  const sorted = [...searchMs].sort((a, b) => a - b);
  console.log(`\nsearch over HTTP p50 ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ms; total ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(
    JSON.stringify({
      bench: 'retrieval-service',
      dataset: 'longmemeval-s-dev',
      questions: rows.length,
      memories,
      recall_any: Object.fromEntries(KS.map((k, i) => [`@${k}`, +all[i].toFixed(4)])),
      recall_all: Object.fromEntries(KS.map((k, i) => [`@${k}`, +all[4 + i].toFixed(4)])),
      turn_recall_at_10: +all[8].toFixed(4),
      turn_mrr: +all[9].toFixed(4),
    }),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
