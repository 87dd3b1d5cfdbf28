import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { TEST_PG_ADMIN_URL } from '@engram/testing';
import { freePort } from '../bench/support/crash-driver';

// The built CLI (`npm run build`); ENGRAM_TEST_CLI runs these against another build.
const CLI = process.env.ENGRAM_TEST_CLI ?? path.resolve(__dirname, '../dist/apps/cli/src/main.js');

/** `engram serve` that cannot start: exit 1, the cause, what to do next, and logs at LOG_LEVEL only. */
describe('engram serve start errors', () => {
  let dataDir: string;

  const serve = async (env: NodeJS.ProcessEnv) => {
    try {
      await promisify(execFile)(process.execPath, [CLI, 'serve'], { env: { PATH: process.env.PATH ?? '', ENGRAM_DATA_DIR: dataDir, ...env }, encoding: 'utf8', timeout: 60_000 });
      return { code: 0, stdout: '', stderr: '' };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  beforeAll(() => (dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-serve-err-'))));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('names an unreachable PostgreSQL and the way out, logging JSON at LOG_LEVEL from the first line', async () => {
    const r = await serve({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/engram`, LOG_LEVEL: 'warn' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^engram: connect ECONNREFUSED 127\.0\.0\.1:\d+\nis PostgreSQL running at DATABASE_URL\? unset DATABASE_URL to use the embedded one\.$/m);
    const logs = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.startsWith('{'));
    expect(logs.length).toBeGreaterThan(0);
    // warn and above only: no "Starting Nest application..." (info), no Nest's plain-text boot lines.
    for (const l of logs) expect(JSON.parse(l).level).toBeGreaterThanOrEqual(40);
    expect(`${r.stdout}${r.stderr}`).not.toContain('[Nest]');
  });

  it('names a missing database and how to create it', async () => {
    const r = await serve({ DATABASE_URL: TEST_PG_ADMIN_URL.replace(/\/[^/]*$/, '/engram_no_such_database'), LOG_LEVEL: 'error' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('engram: database "engram_no_such_database" does not exist\ncreate that database (createdb NAME), or point DATABASE_URL at an existing one.');
  });
});
