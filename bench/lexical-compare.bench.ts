// Which lexical retriever measures better on LongMemEval-S dev (issue: "BM25 or
// PostgreSQL full text, whichever measures better"): engram's in-process BM25 (the
// lexical-only mode of the cube index) against PostgreSQL full text search (english
// tsvector + GIN, OR of the query's lexemes, ranked by ts_rank_cd and by ts_rank), one
// memory per turn, in the same process on the same data.
//   npm run build && node dist/bench/lexical-compare.bench.js
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { CubeIndex, HashEmbedder } from '@engram/plaintext';
import { LME_KS, lmeDate, loadLongMemEval, LmeScore, meanScores, scoreLongMemEval } from './support/longmemeval';

const ADMIN_URL = process.env.ENGRAM_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function main(): Promise<void> {
  const questions = loadLongMemEval();
  const dbName = `engram_bench_fts_${Date.now()}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${dbName}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  const pg = new Client({ connectionString: url.toString() });
  await pg.connect();
  const embedder = new HashEmbedder();
  const results: Record<string, LmeScore[]> = { 'engram BM25 (in-process)': [], 'PostgreSQL FTS ts_rank_cd': [], 'PostgreSQL FTS ts_rank': [] };
  const timing: Record<string, number[]> = { 'engram BM25 (in-process)': [], 'PostgreSQL FTS ts_rank_cd': [], 'PostgreSQL FTS ts_rank': [] };
  try {
    await pg.query(`CREATE TABLE turns (q text, key text, body text, tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED)`);
    await pg.query(`CREATE INDEX ON turns USING gin (tsv)`);
    for (const q of questions) {
      const keys: string[] = [];
      const bodies: string[] = [];
      const index = new CubeIndex({ dimension: embedder.dimension });
      let label = 0;
      q.haystack_sessions.forEach((session, s) =>
        session.forEach((turn, t) => {
          const key = `${q.haystack_session_ids[s]}#${t}`;
          keys.push(key);
          bodies.push(turn.content);
          index.upsert({ label: ++label, text: turn.content, role: turn.role, sessionId: q.haystack_session_ids[s], position: t, observedAt: lmeDate(q.haystack_dates[s]) });
        }),
      );
      await pg.query(`INSERT INTO turns (q, key, body) SELECT $1, k, b FROM unnest($2::text[], $3::text[]) AS x(k, b)`, [q.question_id, keys, bodies]);

      let t0 = performance.now();
      const hits = index.search(q.question, null, { topK: 200, ranking: { mode: 'lexical' } });
      timing['engram BM25 (in-process)'].push(performance.now() - t0);
      results['engram BM25 (in-process)'].push(scoreLongMemEval(q, hits.map((h) => keys[h.label - 1])));

      for (const [name, rank] of [['PostgreSQL FTS ts_rank_cd', 'ts_rank_cd'], ['PostgreSQL FTS ts_rank', 'ts_rank']] as const) {
        t0 = performance.now();
        // OR of the query's lexemes: plainto_tsquery would AND them and miss almost everything.
        const rows = await pg.query<{ key: string }>(
          `WITH query AS (
             SELECT to_tsquery('english', string_agg(quote_literal(lexeme), ' | ')) AS tsq
               FROM unnest(to_tsvector('english', $2)) AS l(lexeme, positions, weights))
           SELECT key FROM turns, query WHERE q = $1 AND tsv @@ tsq ORDER BY ${rank}(tsv, tsq) DESC LIMIT 200`,
          [q.question_id, q.question],
        );
        timing[name].push(performance.now() - t0);
        results[name].push(scoreLongMemEval(q, rows.rows.map((r) => r.key)));
      }
    }
  } finally {
    await pg.end();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await admin.end();
  }
  console.log(`\n## Lexical retrievers on LongMemEval-S dev (${questions.length} questions, one memory per turn)\n`);
  console.log(`| retriever | ${LME_KS.map((k) => `any@${k}`).join(' | ')} | turn R@10 | turn MRR | p50 ms |`);
  console.log(`|---|${LME_KS.map(() => '---').join('|')}|---|---|---|`);
  const summary: Record<string, unknown> = {};
  for (const [name, rows] of Object.entries(results)) {
    const m = meanScores(rows);
    const sorted = [...timing[name]].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)];
    console.log(`| ${name} | ${m.slice(0, 4).map((v) => v.toFixed(3)).join(' | ')} | ${m[8].toFixed(3)} | ${m[9].toFixed(3)} | ${p50.toFixed(2)} |`);
    summary[name] = { any1: +m[0].toFixed(3), any5: +m[2].toFixed(3), turnR10: +m[8].toFixed(3), turnMrr: +m[9].toFixed(3), p50Ms: +p50.toFixed(2) };
  }
  console.log(JSON.stringify({ bench: 'lexical-compare', ...summary }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
