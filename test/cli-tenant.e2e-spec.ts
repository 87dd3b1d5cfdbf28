import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { createTinyModel } from '@engram/inference';
import { createE2eHarness, E2eHarness } from '@engram/testing';

// The built CLI (`npm run build`); ENGRAM_TEST_CLI runs these against another build.
const CLI = process.env.ENGRAM_TEST_CLI ?? path.resolve(__dirname, '../dist/apps/cli/src/main.js');

/** `engram cubes|memories|chat` (the built CLI over @engram/client) against a listening engram. */
describe('tenant CLI', () => {
  let h: E2eHarness;
  let env: NodeJS.ProcessEnv;
  let dir: string;

  // Asynchronous: the server answering the CLI runs in this process.
  const engram = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  beforeAll(async () => {
    h = await createE2eHarness();
    await h.app.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(h.app.getHttpServer().address() as { port: number }).port}`;
    const admin = { Authorization: `Bearer ${h.adminToken}` };
    const tenant = (await h.http.post('/v1/admin/tenants').set(admin).send({ name: 'cli' }).expect(201)).body;
    const key = (await h.http.post(`/v1/admin/tenants/${tenant.id}/keys`).set(admin).send({ scopes: ['cubes:write', 'memories:read', 'memories:write', 'inference:run'] }).expect(201)).body.key;
    env = { PATH: process.env.PATH ?? '', ENGRAM_URL: url, ENGRAM_API_KEY: key, COLUMNS: '200' };
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-cli-'));
    createTinyModel({ outDir: path.join(dir, 'tiny'), layers: 1, hidden: 16, heads: 2, vocab: 280, maxPositionEmbeddings: 256 });
    await h.http.post('/v1/admin/models').set(admin).send({ path: path.join(dir, 'tiny') }).expect(201);
  });

  afterAll(async () => {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates a cube idempotently and lists it as a table and as JSON', async () => {
    const created = await engram('cubes', 'create', 'user-7', '--description', 'Bob', '--json');
    expect(created.code).toBe(0);
    const cube = JSON.parse(created.stdout);
    expect(JSON.parse((await engram('cubes', 'create', 'user-7', '--if-exists', '--json')).stdout).id).toBe(cube.id);
    const again = await engram('cubes', 'create', 'user-7');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('conflict');
    const table = await engram('cubes', 'list');
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+CREATEDAT\s+DESCRIPTION$/);
    expect(table.stdout).toMatch(new RegExp(`${cube.id}\\s+user-7\\s+\\S+\\s+Bob`));
  });

  it('adds, searches, gets, lists and deletes memories in a cube named by its name', async () => {
    const added = JSON.parse((await engram('memories', 'add', 'user-7', 'Bob', 'drinks', 'oat', 'milk', '--kind', 'preference', '--tags', 'food,drinks', '--json')).stdout);
    expect(added).toMatchObject({ text: 'Bob drinks oat milk', kind: 'preference', tags: ['food', 'drinks'] });
    const search = await engram('memories', 'search', 'user-7', 'what', 'milk?', '-k', '3');
    expect(search.stdout.split('\n')[0]).toMatch(/^SCORE\s+ID\s+KIND\s+TEXT$/);
    expect(search.stdout).toContain('Bob drinks oat milk');
    expect(JSON.parse((await engram('memories', 'get', 'user-7', added.id, '--json')).stdout).id).toBe(added.id);
    expect((await engram('memories', 'list', 'user-7', '--kind', 'preference')).stdout).toContain(added.id);
    expect((await engram('memories', 'delete', 'user-7', added.id)).code).toBe(0);
    const gone = await engram('memories', 'get', 'user-7', added.id);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('not_found');
  });

  it('imports a JSONL file in batches with a progress bar, and a second run stores nothing twice', async () => {
    const file = path.join(dir, 'memories.jsonl');
    const lines = Array.from({ length: 1234 }, (_, i) => (i % 2 ? JSON.stringify({ text: `imported fact ${i}`, tags: ['bulk'] }) : JSON.stringify(`imported line ${i}`)));
    fs.writeFileSync(file, `${lines.join('\n')}\n\n`);
    const run = await engram('memories', 'import', 'user-7', file, '--batch', '500', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ imported: 1234, batches: 3 });
    expect(run.stderr).toContain('100% 1234/1234');
    expect(run.stderr).toMatch(/\] 0% 0\/1234/);
    const rerun = await engram('memories', 'import', 'user-7', file, '--json');
    expect(JSON.parse(rerun.stdout).imported).toBe(1234);
    const stats = JSON.parse((await engram('cubes', 'get', 'user-7', '--json')).stdout);
    expect(stats.memories.total).toBe(1234);
  });

  it('stores a line that repeats an earlier batch (it was answered as a replay and counted, not stored), and a rerun still stores nothing twice', async () => {
    await engram('cubes', 'create', 'repeats', '--if-exists');
    const file = path.join(dir, 'repeats.jsonl');
    fs.writeFileSync(file, '"yes"\n"yes"\n"no"\n');
    const run = await engram('memories', 'import', 'repeats', file, '--batch', '1', '--json');
    expect(JSON.parse(run.stdout)).toEqual({ imported: 3, batches: 3 });
    expect(JSON.parse((await engram('cubes', 'get', 'repeats', '--json')).stdout).memories.total).toBe(3);
    await engram('memories', 'import', 'repeats', file, '--batch', '1', '--json');
    expect(JSON.parse((await engram('cubes', 'get', 'repeats', '--json')).stdout).memories.total).toBe(3);
  });

  it('refuses a file that is not UTF-8 (it stored U+FFFD for its bytes) and reads one that starts with a byte order mark', async () => {
    await engram('cubes', 'create', 'encodings', '--if-exists');
    const latin1 = path.join(dir, 'latin1.jsonl');
    fs.writeFileSync(latin1, Buffer.from('"Likes café au lait"\n', 'latin1'));
    const refused = await engram('memories', 'import', 'encodings', latin1);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('not UTF-8 text');
    const bom = path.join(dir, 'bom.jsonl');
    fs.writeFileSync(bom, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('"Likes café au lait"\n', 'utf8')]));
    expect((await engram('memories', 'import', 'encodings', bom)).code).toBe(0);
    const listed = JSON.parse((await engram('memories', 'list', 'encodings', '--json')).stdout);
    expect(listed.map((m: { text: string }) => m.text)).toEqual(['Likes café au lait']);
  });

  it('names the line of a bad JSONL record', async () => {
    const file = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(file, '"fine"\n{"nope": 1}\n');
    const run = await engram('memories', 'import', 'user-7', file);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('line 2');
  });

  it('names the file line of a memory the server refuses, and what was stored before it', async () => {
    await engram('cubes', 'create', 'lines', '--if-exists');
    const file = path.join(dir, 'bad-kind.jsonl');
    const lines = Array.from({ length: 600 }, (_, i) => JSON.stringify(i === 549 ? { text: 'odd one', kind: 'nope' } : { text: `line fact ${i + 1}` }));
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const run = await engram('memories', 'import', 'lines', file, '--batch', '500');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`engram: validation_failed: ${file}:550 (kind): `);
    expect(run.stderr).toContain('500 memories from the lines before it were stored');
    expect(run.stderr).not.toContain('items.49');
  });

  it('checks every line before storing any', async () => {
    await engram('cubes', 'create', 'checked', '--if-exists');
    const file = path.join(dir, 'late-bad.jsonl');
    fs.writeFileSync(file, `${Array.from({ length: 700 }, (_, i) => JSON.stringify(`fact ${i}`)).join('\n')}\n{not json\n`);
    const run = await engram('memories', 'import', 'checked', file, '--batch', '100');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('line 701: not JSON');
    expect(JSON.parse((await engram('cubes', 'get', 'checked', '--json')).stdout).memories.total).toBe(0);
  });

  it('lists memories in the order its help says', async () => {
    await engram('cubes', 'create', 'ordered', '--if-exists');
    for (const text of ['first', 'second', 'third']) await engram('memories', 'add', 'ordered', text);
    const listed = JSON.parse((await engram('memories', 'list', 'ordered', '--json')).stdout) as { text: string }[];
    expect(listed.map((m) => m.text)).toEqual(['first', 'second', 'third']);
    expect((await engram('memories', 'list', '--help')).stdout).toContain('oldest first');
  });

  it('chats with a local model and streams the answer', async () => {
    await engram('cubes', 'create', 'chatty', '--if-exists');
    await engram('memories', 'add', 'chatty', 'Bob', 'likes', 'tea');
    const streamed = await engram('chat', '--model', 'tiny', '--cube', 'chatty', '--max-tokens', '3', '--temperature', '0', 'hello');
    expect(streamed).toMatchObject({ code: 0, stderr: '' });
    const json = JSON.parse((await engram('chat', '--model', 'tiny', '--cube', 'chatty', '--max-tokens', '3', '--temperature', '0', '--json', 'hello')).stdout);
    expect(streamed.stdout).toBe(`${json.answer}\n`);
    // The server retrieved them (once, into the prompt); the CLI shows which.
    expect(json.memories).toEqual([expect.objectContaining({ text: 'Bob likes tea' })]);
  });

  it('says to pick another --name when an imported cube\'s name is taken, on a line of its own after the progress bar', async () => {
    const admin = { Authorization: `Bearer ${h.adminToken}` };
    const tenantId = ((await h.http.get('/v1/admin/tenants').set(admin).expect(200)).body.items as { id: string; name: string }[]).find((t) => t.name === 'cli')!.id;
    const exporter = (await h.http.post(`/v1/admin/tenants/${tenantId}/keys`).set(admin).send({ scopes: ['cubes:write', 'memories:read', 'cubes:export'] }).expect(201)).body.key;
    const cubeId = (await h.http.post('/v1/cubes').set({ Authorization: `Bearer ${exporter}` }).send({ name: 'taken', settings: { embedder: 'hash' } }).expect(201)).body.id;
    const archive = await h.http.get(`/v1/cubes/${cubeId}/export`).set({ Authorization: `Bearer ${exporter}` }).buffer(true).parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    }).expect(200);
    const file = path.join(dir, 'taken.engram.tar.gz');
    fs.writeFileSync(file, archive.body as Buffer);
    const r = await engram('cube', 'import', file);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    // Was "…100% 1.2 KiB/1.2 KiBengram: HTTP 409 conflict: a cube named "taken" already exists".
    expect(r.stderr.split('\n')).toContain('engram: HTTP 409 conflict: a cube named "taken" already exists: import it under another name with --name NAME');
    const renamed = await engram('cube', 'import', file, '--name', 'taken-2');
    expect(renamed.code).toBe(0);
    expect(JSON.parse(renamed.stdout).cube.name).toBe('taken-2');
  });

  it('says how to connect when no URL or key is given', async () => {
    const saved = env;
    env = { PATH: saved.PATH };
    const run = await engram('cubes', 'list');
    env = saved;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--url');
    expect(run.stderr).toContain('http://127.0.0.1:8080'); // the default address (was :3000)
    // A URL without its scheme used to fail as "engram unreachable at localhost:…: fetch failed".
    const bare = saved.ENGRAM_URL!.replace(/^http:\/\//, '');
    const noScheme = await engram('cubes', 'list', '--url', bare);
    expect(noScheme.code).toBe(1);
    expect(noScheme.stderr).toBe(`engram: --url / ENGRAM_URL "${bare}" is not an http(s) URL: write it in full, e.g. http://${bare}\n`);
  });
});
