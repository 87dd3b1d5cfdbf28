// The crash suite's short form (issue 10; `npm run bench:crash -- --rounds 20` is the long
// one, same driver): 32 HTTP writers, kill -9 of `engram serve` mid-write, restart on the
// same database and data directory; nothing acknowledged is lost, duplicated or unfindable.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from '@engram/testing';
import { runCrashSuite } from '../bench/support/crash-driver';

const CLI = path.resolve(__dirname, '../dist/apps/cli/src/main.js');

describe('kill -9 under 32 concurrent writers', () => {
  const dirs: string[] = [];
  const dbs: TestDatabase[] = [];
  const fresh = async () => {
    dirs.push(fs.mkdtempSync(path.join(os.tmpdir(), 'engram-crash-')));
    dbs.push(await createTestDatabase());
    return { dataDir: dirs[dirs.length - 1], databaseUrl: dbs[dbs.length - 1].url };
  };

  afterAll(async () => {
    for (const db of dbs) await db.drop();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged write, once, readable and searchable, across restarts', async () => {
    expect(fs.existsSync(CLI)).toBe(true); // built by `npm test` (npm run build) before jest
    const lines: string[] = [];
    const report = await runCrashSuite({ cli: CLI, ...(await fresh()), rounds: 3, writers: 32, log: (line) => lines.push(line) });

    expect({ problems: report.problems, log: lines }).toEqual({ problems: [], log: lines });
    expect(report.kills).toBe(3);
    expect(report.acknowledged).toBeGreaterThan(0);
    expect(report.perRound.reduce((n, r) => n + r.unanswered, 0)).toBeGreaterThan(0); // the kills did land mid-write
    expect(report).toMatchObject({ missing: 0, duplicates: 0, unsearchable: 0, searchable: report.acknowledged });
  }, 170_000);

  it('reports an acknowledged memory whose text changed behind its back as missing', async () => {
    const target = await fresh();
    const report = await runCrashSuite({
      cli: CLI,
      ...target,
      rounds: 1,
      writers: 8,
      killWindowMs: [1500, 1500], // late enough that something was acknowledged
      beforeVerify: async (_round, ids) => {
        const client = new Client({ connectionString: target.databaseUrl });
        await client.connect();
        await client.query(`UPDATE memories SET text = 'tampered' WHERE id = $1`, [ids[0]]);
        await client.end();
      },
    });

    expect(report.missing).toBe(1);
    expect(report.problems.join('\n')).toMatch(/reads "tampered"/);
  }, 120_000);
});
