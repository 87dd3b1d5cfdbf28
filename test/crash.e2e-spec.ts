// The crash suite's short form (issue 10; `npm run bench:crash -- --rounds 20` is the long
// one, same driver): 32 HTTP writers, kill -9 of `engram serve` mid-write, restart on the
// same database and data directory; nothing acknowledged is lost, duplicated or unfindable.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTestDatabase, TestDatabase } from '@engram/testing';
import { runCrashSuite } from '../bench/support/crash-driver';

const CLI = path.resolve(__dirname, '../dist/apps/cli/src/main.js');

describe('kill -9 under 32 concurrent writers', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-crash-'));
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps every acknowledged write, once, readable and searchable, across restarts', async () => {
    expect(fs.existsSync(CLI)).toBe(true); // built by `npm test` (npm run build) before jest
    const lines: string[] = [];
    const report = await runCrashSuite({ cli: CLI, databaseUrl: db.url, dataDir, rounds: 3, writers: 32, log: (line) => lines.push(line) });

    expect({ problems: report.problems, log: lines }).toEqual({ problems: [], log: lines });
    expect(report.kills).toBe(3);
    expect(report.acknowledged).toBeGreaterThan(0);
    expect(report.perRound.reduce((n, r) => n + r.unanswered, 0)).toBeGreaterThan(0); // the kills did land mid-write
    expect(report).toMatchObject({ missing: 0, duplicates: 0, unsearchable: 0, searchable: report.acknowledged });
  }, 170_000);
});
