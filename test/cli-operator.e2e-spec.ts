import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, freePort, TestDatabase, waitForOutput } from '@engram/testing';

// The built CLI (`npm run build`); ENGRAM_TEST_CLI runs these against another build.
const CLI = process.env.ENGRAM_TEST_CLI ?? path.resolve(__dirname, '../dist/apps/cli/src/main.js');
const FIXTURES = path.resolve(__dirname, 'fixtures/importers');
const ANSI = /\u001b\[/;
// The data directory of commands that need none of their own (never the repository's ./data).
const SCRATCH = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-cli-op-'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function engram(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME, ENGRAM_DATA_DIR: SCRATCH, ...env }, encoding: 'utf8', timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** `engram admin|model|migrate|worker` and the local commands: what an operator sees when things go wrong. */
describe('operator CLI', () => {
  const scratch = SCRATCH;
  let unreachableDb: string;
  beforeAll(async () => {
    unreachableDb = `postgres://postgres@127.0.0.1:${await freePort()}/engram`;
  });
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('says why admin and model commands cannot start, without a Nest stack trace', async () => {
    for (const args of [['admin', 'create-tenant', 'acme'], ['model', 'list']]) {
      const r = await engram(args, { DATABASE_URL: unreachableDb, ENGRAM_DATA_DIR: scratch });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^engram: connect ECONNREFUSED 127\.0\.0\.1:\d+\nis PostgreSQL running at DATABASE_URL\? unset DATABASE_URL to use the embedded one\.\n$/);
    }
  });

  it('refuses ids that are not UUIDs before they reach the database', async () => {
    const env = { DATABASE_URL: unreachableDb, ENGRAM_DATA_DIR: scratch };
    const key = await engram(['admin', 'create-key', 'nope', '--scopes', 'memories:read'], env);
    expect(key).toMatchObject({ code: 1, stdout: '' });
    expect(key.stderr).toBe('engram: tenantId "nope" is not a UUID: give the tenant\'s id (the "id" printed by `engram admin create-tenant`)\n');
    const revoke = await engram(['admin', 'revoke-key', '0190a1b2-0000-7000-8000-000000000000', 'xyz'], env);
    expect(revoke.code).toBe(1);
    expect(revoke.stderr).toMatch(/^engram: keyId "xyz" is not a UUID: .*not the key itself\n$/);
    expect(`${key.stderr}${revoke.stderr}`).not.toContain('invalid input syntax');
  });

  it('prints a created key as JSON alone on stdout (`| jq -r .key` works), the note on stderr, and every scope in its help', async () => {
    const db = await createTestDatabase();
    try {
      const env = { DATABASE_URL: db.url, ENGRAM_DATA_DIR: scratch };
      const tenant = JSON.parse((await engram(['admin', 'create-tenant', 'piped'], env)).stdout) as { id: string };
      const key = await engram(['admin', 'create-key', tenant.id, '--scopes', 'memories:read,inference:run'], env);
      expect(key.code).toBe(0);
      // The note used to follow the JSON on stdout, so stdout did not parse.
      expect(JSON.parse(key.stdout)).toMatchObject({ scopes: ['memories:read', 'inference:run'], key: expect.stringMatching(/^egm_/) });
      expect(key.stderr).toBe('the key is shown only now: store it.\n');
      const help = await engram(['admin', 'create-key', '--help'], {});
      for (const scope of ['cubes:write', 'memories:read', 'memories:write', 'cubes:export', 'memories:erase', 'inference:run', 'banks:write']) expect(help.stdout).toContain(scope);
    } finally {
      await db.drop();
    }
  });

  describe('engram worker', () => {
    let db: TestDatabase;
    beforeAll(async () => (db = await createTestDatabase()));
    afterAll(() => db.drop());

    it('logs pino JSON at LOG_LEVEL, from a failed start on', async () => {
      const warn = await engram(['worker'], { DATABASE_URL: unreachableDb, LOG_LEVEL: 'warn' });
      expect(warn.code).toBe(1);
      expect(warn.stderr).toMatch(/engram: connect ECONNREFUSED 127\.0\.0\.1:\d+\nis PostgreSQL running at DATABASE_URL\?/);
      const logs = `${warn.stdout}${warn.stderr}`.split('\n').filter((l) => l.startsWith('{'));
      expect(logs.length).toBeGreaterThan(0);
      for (const l of logs) expect(JSON.parse(l).level).toBeGreaterThanOrEqual(40);
      expect(`${warn.stdout}${warn.stderr}`).not.toMatch(ANSI);
      expect(`${warn.stdout}${warn.stderr}`).not.toContain('[Nest]');
      const fatal = await engram(['worker'], { DATABASE_URL: unreachableDb, LOG_LEVEL: 'fatal' });
      expect(fatal.code).toBe(1);
      expect(`${fatal.stdout}${fatal.stderr}`.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
    });

    it('starts and logs its boot as JSON at info', async () => {
      const child = spawn(process.execPath, [CLI, 'worker'], { env: { PATH: process.env.PATH, DATABASE_URL: db.url, ENGRAM_DATA_DIR: scratch, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        const output = await waitForOutput(child, /engram worker started/, 60_000);
        const logs = output.split('\n').filter((l) => l.startsWith('{'));
        expect(logs.map((l) => JSON.parse(l).msg)).toContain('Starting Nest application...');
        expect(output).not.toMatch(ANSI);
      } finally {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        await exited;
      }
    });
  });

  describe('beside `engram serve` on the embedded PostgreSQL', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-cli-embedded-'));
    let serve: ChildProcess | null = null;
    let env: NodeJS.ProcessEnv;

    beforeAll(async () => {
      env = { ENGRAM_DATA_DIR: dataDir, ENGRAM_EMBEDDED_PG_PORT: String(await freePort()), ENGRAM_EMBEDDED_PG_SHARED_BUFFERS: '96mb', LOG_LEVEL: 'warn' };
      serve = spawn(process.execPath, [CLI, 'serve'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(await freePort()), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      await waitForOutput(serve, /engram listening on/, 90_000);
    }, 120_000);

    afterAll(async () => {
      if (serve && serve.exitCode === null) {
        const exited = new Promise((resolve) => serve!.once('exit', resolve));
        serve.kill('SIGINT');
        await exited;
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('runs admin, model and migrate commands on the running cluster instead of refusing', async () => {
      const created = await engram(['admin', 'create-tenant', 'beside-serve'], env);
      expect(created).toMatchObject({ code: 0, stderr: '' });
      const tenant = JSON.parse(created.stdout) as { id: string };
      const key = await engram(['admin', 'create-key', tenant.id, '--scopes', 'memories:read'], env);
      expect(key.code).toBe(0);
      expect(JSON.parse(key.stdout.split('\n')[0])).toMatchObject({ scopes: ['memories:read'], key: expect.stringMatching(/^egm_/) });
      expect(await engram(['model', 'list'], env)).toMatchObject({ code: 0, stderr: '' });
      expect(await engram(['migrate'], env)).toMatchObject({ code: 0, stdout: 'database is up to date\n' });
      expect(serve!.exitCode).toBeNull(); // the server and its PostgreSQL are unharmed
    });

    it('still refuses to start a second server on the same data directory', async () => {
      const second = await engram(['serve'], { ...env, PORT: String(await freePort()) });
      expect(second.code).toBe(1);
      expect(second.stderr).toContain('is already running');
    });
  });

  it('refuses to write a tiny model into a directory that holds other files, and keeps them', async () => {
    const dir = path.join(scratch, 'mine');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'keep me');
    const r = await engram(['model', 'create-tiny', '--out', dir, '--layers', '1', '--hidden', '16', '--heads', '2', '--vocab', '280'], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`engram: ${dir} is not empty (it holds notes.txt)`);
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);
    const fresh = path.join(scratch, 'tiny');
    for (let i = 0; i < 2; i++) expect((await engram(['model', 'create-tiny', '--out', fresh, '--layers', '1', '--hidden', '16', '--heads', '2', '--vocab', '280'], {})).code).toBe(0);
  });

  it('shows the local error of a bank command, not a masked internal error', async () => {
    const r = await engram(['bank', 'inspect', path.join(scratch, 'nope')], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^engram: BANK_NOT_FOUND: /);
  });

  it('names the address and the way out when the server is down', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const mcp = await engram(['mcp', '--url', url, '--key', 'k'], {});
    expect(mcp.code).toBe(1);
    expect(mcp.stderr).toContain(`engram unreachable at ${url}: ECONNREFUSED\nis engram running there?`);
    const list = await engram(['cubes', 'list', '--url', url, '--key', 'k'], {});
    expect(list.stderr).toContain('is engram running there?');
  });

  it('explains a directory given to cube import', async () => {
    const r = await engram(['cube', 'import', scratch, '--url', 'http://127.0.0.1:9', '--key', 'k'], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`engram: ${scratch} is a directory: give the archive file written by \`engram cube export\` (.engram.tar.gz)\n`);
  });

  it('fails an import --from whose file is another format, naming the right --from, before contacting the server', async () => {
    const url = `http://127.0.0.1:${await freePort()}`; // nothing listens: reaching it would be another error
    const r = await engram(['import', '--from', 'conversations', path.join(FIXTURES, 'mem0-get-all.json'), '--cube', 'c', '--url', url, '--key', 'k'], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not a conversations export');
    expect(r.stderr).toContain('run again with --from mem0. No cube was created.');
    const letta = await engram(['import', '--from', 'letta', path.join(FIXTURES, 'conversations.json'), '--cube', 'c', '--url', url, '--key', 'k'], {});
    expect(letta.code).toBe(1);
    expect(letta.stderr).toMatch(/nothing in .*conversations\.json converts as a letta export \(expected a Letta agent file/);
    expect(letta.stderr).toContain('--from conversations');
  });

  it('refuses junk in numeric options', async () => {
    const importance = await engram(['memories', 'add', 'c', 'text', '--importance', 'abc', '--url', 'http://127.0.0.1:9', '--key', 'k'], {});
    expect(importance.code).toBe(1);
    expect(importance.stderr).toContain("option '--importance <n>' argument 'abc' is invalid. must be a number from 0 to 1");
    const temperature = await engram(['chat', '--model', 'm', '--temperature', 'abc', 'hi', '--url', 'http://127.0.0.1:9', '--key', 'k'], {});
    expect(temperature.stderr).toContain("option '--temperature <t>' argument 'abc' is invalid. must be a number from 0 to 2");
  });
});
