// LongMemEval-S dev through the real engram service over HTTP, as an agent (or the
// external harness) would use it: one cube per question, one memory per turn (both
// roles) with session id, turn index, role and session date, then one search per
// question with question_date as the reference time. The same figures as
// bench/retrieval.bench.ts (which runs the retrieval library directly), so the two must
// agree — a check that the service adds no loss.
//   npm run bench:retrieval:service [-- --questions 60]
import { performance } from 'node:perf_hooks';
import { arg } from './support/args';
import { LME_KS, lmeDate, LmeScore, loadLongMemEval, meanScores, scoreLongMemEval } from './support/longmemeval';
import { startScratchService } from './support/scratch-service';

interface Result { id: string; metadata: { sessionId: string; turn: number } }

const iso = (text: string) => new Date(lmeDate(text)).toISOString();

async function main(): Promise<void> {
  const questions = loadLongMemEval(arg('questions', 1000));
  const service = await startScratchService();
  const rows: LmeScore[] = [];
  const searchMs: number[] = [];
  let memories = 0;
  const started = performance.now();
  try {
    for (const [n, q] of questions.entries()) {
      const cube = await service.call<{ id: string }>('POST', '/v1/cubes', { name: q.question_id });
      const items: object[] = [];
      q.haystack_sessions.forEach((session, s) => {
        session.forEach((turn, t) => {
          items.push({
            text: turn.content,
            kind: 'message',
            role: turn.role,
            source: { type: 'longmemeval', sessionId: q.haystack_session_ids[s] },
            metadata: { sessionId: q.haystack_session_ids[s], turn: t },
            observedAt: iso(q.haystack_dates[s]),
          });
        });
      });
      for (let i = 0; i < items.length; i += 1000) await service.call('POST', `/v1/cubes/${cube.id}/memories`, { items: items.slice(i, i + 1000) });
      memories += items.length;
      const t0 = performance.now();
      const { results } = await service.call<{ results: Result[] }>('POST', `/v1/cubes/${cube.id}/search`, {
        query: q.question,
        topK: 200,
        referenceTime: iso(q.question_date),
      });
      searchMs.push(performance.now() - t0);
      rows.push(scoreLongMemEval(q, results.map((r) => `${r.metadata.sessionId}#${r.metadata.turn}`)));
      process.stderr.write(`\r${n + 1}/${questions.length} questions`);
    }
  } finally {
    await service.close();
  }
  process.stderr.write('\n');
  const table = (label: string, subset: LmeScore[]) => {
    const cells = meanScores(subset);
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
      recall_any: Object.fromEntries(LME_KS.map((k, i) => [`@${k}`, +all[i].toFixed(4)])),
      recall_all: Object.fromEntries(LME_KS.map((k, i) => [`@${k}`, +all[4 + i].toFixed(4)])),
      turn_recall_at_10: +all[8].toFixed(4),
      turn_mrr: +all[9].toFixed(4),
    }),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
