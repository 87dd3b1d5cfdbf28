// The crash suite (issue 10): 32 concurrent HTTP writers against `engram serve`, kill -9 at
// a random moment of every round, restart on the same database and data directory, then
// check that every acknowledged write is readable, single and searchable.
//   npm run bench:crash -- --rounds 20 [--writers 32] [--seed 42]
// Exits 1 when anything acknowledged was lost, duplicated or unsearchable.
import * as path from 'node:path';
import { arg } from './support/args';
import { runCrashSuite } from './support/crash-driver';
import { scratchDatabase } from './support/scratch-service';

const CLI = path.resolve(__dirname, '../apps/cli/src/main.js');

async function main(): Promise<void> {
  const rounds = arg('rounds', 20);
  const writers = arg('writers', 32);
  const seed = arg('seed', Date.now() % 1_000_000);
  const db = await scratchDatabase();
  try {
    console.log(`crash suite: ${rounds} rounds, ${writers} writers, seed ${seed}`);
    const report = await runCrashSuite({ cli: CLI, databaseUrl: db.url, dataDir: db.dataDir, rounds, writers, seed, log: (line) => console.log(line) });
    console.log('\nround  kill ms  requests  edits  unanswered  retried  replayed  restart ms  acknowledged  missing  duplicates  unsearchable');
    for (const r of report.perRound) {
      const cells = [r.round, r.killAfterMs, r.requests, r.edits, r.unanswered, r.retried, r.replayed, r.restartMs, r.acknowledged, r.missing, r.duplicates, r.unsearchable];
      const widths = [5, 7, 8, 5, 10, 7, 8, 10, 12, 7, 10, 12];
      console.log(cells.map((c, i) => String(c).padStart(widths[i])).join('  '));
    }
    for (const problem of report.problems.slice(0, 50)) console.log(`PROBLEM ${problem}`);
    const { rounds: r, acknowledged, missing, duplicates, searchable, kills } = report;
    console.log(JSON.stringify({ bench: 'crash', seed, rounds: r, writers, acknowledged, missing, duplicates, searchable, kills, problems: report.problems.length }));
    if (report.problems.length) process.exitCode = 1;
  } finally {
    await db.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
