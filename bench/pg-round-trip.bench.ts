// What a search's two PostgreSQL reads cost by themselves (ADR 0130, issue 12): the access
// check (CubeRepository.getLiveWithChangeSeq) and the rows of ten hits
// (MemoryRepository.getByLabels, new labels each time), as plain queries and as named prepared
// statements, back to back and with 8 ms of CPU between searches (as the index search puts
// there: a backend idle for a few ms is slower to answer). Also a one-column read of the cube
// row, to show that wake-up cost alone. Runs on a cube kept by search-http-split.bench.
//   npm run build && node dist/bench/pg-round-trip.bench.js [--db split1m] [--reads 150]
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '@engram/config';
import { createDataSource, CubeRepository, MemoryRepository, usePreparedStatements } from '@engram/persistence';
import { arg, textArg } from './support/args';
import { keptDatabase } from './support/scratch-service';
import { summarize } from './support/synthetic-corpus';

const READS = arg('reads', 150);

async function main(): Promise<void> {
  const name = textArg('db', 'split1m');
  const db = await keptDatabase(name);
  if (db.created) throw new Error(`database ${name} was empty: run search-http-split.bench.js --db ${name} first`);
  const ds = createDataSource({ url: db.url, poolSize: 1 });
  await ds.initialize();
  try {
    const cubes = new CubeRepository(ds);
    const memories = new MemoryRepository(ds, loadConfig({ DATABASE_URL: db.url }));
    const [cube] = (await ds.query('SELECT c.id, c.tenant_id FROM cubes c JOIN memories m ON m.cube_id = c.id GROUP BY c.id ORDER BY count(*) DESC LIMIT 1')) as { id: string; tenant_id: string }[];
    const labels = ((await ds.query('SELECT label FROM memories WHERE cube_id = $1 ORDER BY random() LIMIT $2', [cube.id, READS * 100])) as { label: string }[]).map((r) => Number(r.label));
    let next = 0;
    // Ten labels never read before by this run (new hits, as a new query's).
    const tenLabels = () => {
      if (next + 10 > labels.length) throw new Error('out of labels');
      return labels.slice(next, (next += 10));
    };
    const spin = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    const figures: Record<string, number> = {};
    const time = async (key: string, label: string, read: () => Promise<unknown>) => {
      for (const gap of [0, 8]) {
        const times: number[] = [];
        for (let i = 0; i < READS; i++) {
          spin(gap);
          const t0 = performance.now();
          await read();
          times.push(performance.now() - t0);
        }
        const p50 = summarize(times).p50;
        figures[`${key}_gap${gap}_p50_ms`] = Math.round(p50 * 1000) / 1000;
        console.log(`| ${label} | ${gap} | ${p50.toFixed(3)} |`);
      }
    };
    console.log('| read | ms of CPU before it | p50 ms |\n|---|---|---|');
    await time('cube_name', 'one column of the cube row', () => ds.query('SELECT name FROM cubes WHERE id = $1', [cube.id]));
    for (const prepared of [false, true]) {
      usePreparedStatements(ds, prepared);
      const mode = prepared ? 'prepared' : 'plain';
      await time(`both_${mode}`, `access check + rows of 10 hits, ${mode}`, async () => {
        await cubes.getLiveWithChangeSeq(cube.tenant_id, cube.id);
        await memories.getByLabels(cube.id, tenLabels());
      });
      await time(`rows_${mode}`, `rows of 10 hits alone, ${mode}`, () => memories.getByLabels(cube.id, tenLabels()));
    }
    console.log('\n' + JSON.stringify({ bench: 'pg-round-trip', reads: READS, ...figures }));
  } finally {
    await ds.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
