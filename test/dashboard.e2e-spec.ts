import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Browser, chromium, Page } from 'playwright-core';
import { createTinyModel } from '@engram/inference';
import { JobRunner } from '@engram/scheduler';
import { createE2eHarness, E2eHarness } from '@engram/testing';

/**
 * The dashboard in a real browser: Debian's Chromium (`.ci/run` installs it) driven by
 * playwright-core. Needs `npm run build` (the UI is served from dist/ui). Screenshots go
 * to test-artifacts/ and are checked to be non-blank.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '../test-artifacts');
const UI_BUILD = path.resolve(__dirname, '../dist/ui');
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('dashboard at /ui', () => {
  let h: E2eHarness;
  let browser: Browser;
  let page: Page;
  let base: string;
  let tenantKey: string;

  const shot = async (name: string) => {
    const file = path.join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  };

  const shotOf = async (locator: ReturnType<Page['locator']>, name: string) => {
    const file = path.join(ARTIFACTS, `${name}.png`);
    await locator.screenshot({ path: file });
    return file;
  };

  /** Distinct colours in a screenshot, counted by the browser itself (a blank page has one or two). */
  const colours = async (file: string): Promise<number> => {
    const data = `data:image/png;base64,${fs.readFileSync(file).toString('base64')}`;
    const probe = await browser.newPage();
    try {
      // A string: the code runs in the browser (this file is type-checked without the DOM library).
      return await probe.evaluate<number>(`(async () => {
        const img = new Image();
        img.src = ${JSON.stringify(data)};
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = img.width;
        canvas.height = img.height;
        const ctx = canvas.getContext('2d');
        ctx.drawImage(img, 0, 0);
        const pixels = ctx.getImageData(0, 0, img.width, img.height).data;
        const seen = new Set();
        for (let i = 0; i < pixels.length; i += 4 * 7) seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
        return seen.size;
      })()`);
    } finally {
      await probe.close();
    }
  };

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)`);
    if (!fs.existsSync(path.join(UI_BUILD, 'index.html'))) throw new Error('dist/ui is missing: run npm run build first');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    h = await createE2eHarness();
    await h.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(h.app.getHttpServer().address() as { port: number }).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });

  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('loads small and fast: first load under 300 KB gzipped, time to interactive reported', async () => {
    const files: string[] = [];
    const walk = (dir: string) => fs.readdirSync(dir, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : !e.name.endsWith('.map') && files.push(path.join(dir, e.name))));
    walk(UI_BUILD);
    const gzipped = files.reduce((sum, f) => sum + gzipSync(fs.readFileSync(f)).length, 0);
    expect(gzipped).toBeLessThan(300 * 1024);
    await page.goto(`${base}/ui/`);
    await page.getByLabel('Admin token or API key').waitFor();
    const tti = await page.evaluate(() => performance.now());
    const res = await page.request.get(`${base}/ui/`);
    expect(res.headers()['content-security-policy']).toContain("default-src 'self'");
    process.stdout.write(`dashboard first load: ${files.length} files, ${(gzipped / 1024).toFixed(1)} KB gzipped; sign-in form interactive after ${tti.toFixed(0)} ms\n`);
  });

  it('signs the operator in, creates a tenant and a key, and draws the metrics charts', async () => {
    const tenantLists: string[] = [];
    const countLists = (r: { method(): string; url(): string }) => r.method() === 'GET' && /\/v1\/admin\/tenants$/.test(r.url()) && tenantLists.push(r.url());
    page.on('request', countLists);
    await page.getByLabel('Admin token or API key').fill(h.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    page.off('request', countLists);
    // One probe (is it the admin token?) and one page load: a second route of the same page
    // answered later used to paint the list again over what the operator had typed.
    expect(tenantLists).toHaveLength(2);
    await page.getByLabel('New tenant').fill('acme');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByRole('link', { name: 'Keys of acme' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await page.getByLabel('Key name').fill('dashboard');
    await page.getByRole('button', { name: 'Create key' }).click();
    tenantKey = (await page.locator('#new-key-secret').textContent())!.trim();
    expect(tenantKey.length).toBeGreaterThan(20);
    await expect(page.getByRole('button', { name: /Revoke key/ }).count()).resolves.toBe(1);
    await page.getByRole('link', { name: 'Scheduler' }).click();
    await page.getByRole('heading', { name: 'Jobs by type' }).waitFor();
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('The scheduler is paused.').waitFor();
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByText('The scheduler is running.').waitFor();
    // A slow answer never paints over the page the operator moved on to: hold the scheduler's
    // answer until the metrics page is drawn, then let it through.
    await page.getByRole('navigation').getByRole('link', { name: 'Tenants' }).click();
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/v1/admin/scheduler', async (r) => {
      await held;
      await r.continue();
    });
    const slowAnswer = page.waitForResponse('**/v1/admin/scheduler');
    await page.getByRole('link', { name: 'Scheduler' }).click();
    await page.getByRole('link', { name: 'Metrics' }).click();
    await page.getByRole('heading', { name: 'Metrics' }).waitFor();
    release();
    await (await slowAnswer).finished();
    await page.waitForTimeout(300);
    await expect(page.getByRole('heading', { name: 'Jobs by type' }).count()).resolves.toBe(0);
    await page.unroute('**/v1/admin/scheduler');
    const chart = page.getByRole('img', { name: 'Requests per latency band' });
    await chart.waitFor();
    expect(await chart.locator('rect').count()).toBeGreaterThan(3);
    expect(await colours(await shot('operator-metrics'))).toBeGreaterThan(8);
    await page.getByRole('button', { name: 'Sign out' }).click();
  });

  it('signs a tenant in, creates a cube, adds memories, searches and shows score bars', async () => {
    await page.getByLabel('Admin token or API key').fill(tenantKey);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Cubes' }).waitFor();
    await page.getByLabel('Cube name').fill('user-1');
    await page.getByRole('button', { name: 'Create cube' }).click();
    await page.getByRole('link', { name: 'user-1', exact: true }).click();
    await page.getByRole('heading', { name: 'Memories of user-1' }).waitFor();
    await page.getByLabel('New memories, one per line').fill('Alice prefers window seats\nAlice is allergic to peanuts\nAlice works on project apollo');
    await page.getByRole('button', { name: 'Add memories' }).click();
    await page.getByRole('link', { name: 'Alice is allergic to peanuts' }).waitFor();
    expect(await page.locator('tbody tr').count()).toBe(3);
    await page.getByRole('link', { name: 'Search', exact: true }).click();
    await page.getByLabel('Query').fill('peanut allergy');
    await page.getByRole('button', { name: 'Search' }).click();
    const first = page.locator('#results .result').first();
    await first.waitFor();
    expect(await first.textContent()).toContain('allergic to peanuts');
    const widths = await first.locator('.fill').evaluateAll((bars) => bars.map((b) => (b as unknown as { getBoundingClientRect(): { width: number } }).getBoundingClientRect().width));
    expect(widths.length).toBe(6);
    expect(widths.filter((w) => w > 0).length).toBeGreaterThan(1);
    expect(await colours(await shot('tenant-search'))).toBeGreaterThan(8);
  });

  it('shows a memory edit as a word diff in its history', async () => {
    await page.getByRole('link', { name: 'Memories', exact: true }).click();
    await page.getByRole('link', { name: 'Alice prefers window seats' }).click();
    await page.getByLabel('Text').fill('Alice prefers aisle seats');
    await page.getByLabel('Why it changed').fill('she said so');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.diff ins', { hasText: 'aisle' }).waitFor();
    expect(await page.locator('.diff del').first().textContent()).toBe('window');
  });

  it('shows the lifecycle timeline and the caches and banks of a cube', async () => {
    await page.getByRole('link', { name: 'Lifecycle', exact: true }).click();
    await page.getByRole('heading', { name: 'Lifecycle of user-1' }).waitFor();
    await page.getByRole('link', { name: 'Caches and banks' }).click();
    await page.getByRole('heading', { name: 'KV caches by tier' }).waitFor();
    expect(await page.getByText('No memory banks.').count()).toBe(1);
    expect(await page.locator('#kv-hit-rate').textContent()).toBe('Hit rate —');
    expect(await page.locator('#working-memory').textContent()).toContain('Working memory: off');
  });

  it('shows KV cache hit rates by tier and a bank as a heat map of its blocks (writes, staleness)', async () => {
    // The data, through the API: a tiny model, a KV cache used by chat, a bank written twice.
    const modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-dashboard-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 280, maxPositionEmbeddings: 128, seed: 1 });
    const admin = { Authorization: `Bearer ${h.adminToken}` };
    await h.http.post('/v1/admin/models').set(admin).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
    // The dashboard's key has the default scopes; chat and banks need their own.
    const tenantId = ((await h.http.get('/v1/admin/tenants').set(admin).expect(200)).body.items as { id: string; name: string }[]).find((t) => t.name === 'acme')!.id;
    const setupKey = (await h.http.post(`/v1/admin/tenants/${tenantId}/keys`).set(admin).send({ name: 'setup', scopes: ['cubes:write', 'memories:read', 'memories:write', 'inference:run', 'banks:write'] }).expect(201)).body.key;
    const auth = { Authorization: `Bearer ${setupKey}` };
    const cubeId = (await h.http.get('/v1/cubes').query({ name: 'user-1' }).set(auth).expect(200)).body.items[0].id as string;
    const cache = (await h.http.post(`/v1/cubes/${cubeId}/kv-caches`).set(auth).send({ model: 'tiny', text: 'Alice is allergic to peanuts and prefers aisle seats.' }).expect(201)).body;
    for (let i = 0; i < 2; i++) {
      await h.http.post('/v1/chat/completions').set(auth).send({ model: 'tiny', max_tokens: 2, temperature: 0, messages: [{ role: 'user', content: 'What is Alice allergic to?' }], engram: { cubeId, kvCacheIds: [cache.id], retrieve: false } }).expect(200);
    }
    const memories = (await h.http.get(`/v1/cubes/${cubeId}/memories`).set(auth).expect(200)).body.items as { id: string; text: string }[];
    const bankId = (await h.http.post(`/v1/cubes/${cubeId}/banks`).set(auth).send({ model: 'tiny', levels: 2, branching: 2, blockSizes: [2, 2] }).expect(202)).body.bankId;
    const drain = () => h.app.get(JobRunner).drain();
    await drain();
    for (const ids of [memories.map((m) => m.id), [memories[0].id]]) {
      await h.http.post(`/v1/cubes/${cubeId}/banks/${bankId}/write`).set(auth).send({ memoryIds: ids, epochs: 1, replay: { source: 'none' } }).expect(202);
      await drain();
    }
    // The cube's working memory (ADR 0402): its hottest memories kept as a KV cache of the model.
    await h.http.put(`/v1/cubes/${cubeId}/lifecycle`).set(auth).send({ activation: { model: 'tiny', maxTokens: 96, debounceMs: 0 } }).expect(200);
    await drain();
    const edited = memories[memories.length - 1];
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${edited.id}`).set(auth).send({ text: `${edited.text}, since 2024` }).expect(200);
    await drain();
    const map = (await h.http.get(`/v1/cubes/${cubeId}/banks/${bankId}/blocks`).set(auth).expect(200)).body as { blocks: { writes: number; stale: boolean }[] };
    fs.rmSync(modelsDir, { recursive: true, force: true });

    await page.getByRole('link', { name: 'Memories', exact: true }).click();
    await page.getByRole('heading', { name: 'Memories of user-1' }).waitFor();
    await page.getByRole('link', { name: 'Caches and banks' }).click();
    await page.getByRole('heading', { name: 'KV caches by tier' }).waitFor();
    expect(await page.locator('#kv-hit-rate').textContent()).toBe('Hit rate 100.0 %');
    const overview = (await h.http.get(`/v1/cubes/${cubeId}/overview`).set(auth).expect(200)).body;
    expect(await page.locator('#working-memory').textContent()).toContain(`Working memory: ${overview.activation.workingMemory.state} · tiny`);
    const lookups = page.getByRole('list', { name: 'KV chunk lookups by tier' });
    expect(await lookups.textContent()).toMatch(/ram hits\s*\d+ \(100\.0 %\)/);
    const kvCard = page.locator('.card', { has: page.getByRole('heading', { name: 'KV caches by tier' }) });
    expect(await colours(await shotOf(kvCard, 'tenant-kv-caches'))).toBeGreaterThan(4);

    const levels = page.getByRole('img', { name: /^level \d+: / });
    expect(await levels.count()).toBe(2);
    expect(await page.locator('.heat .cell.written, .heat .cell.stale').count()).toBe(map.blocks.length);
    expect(await page.locator('.heat .cell.stale').count()).toBe(map.blocks.filter((b) => b.stale).length);
    expect(map.blocks.some((b) => b.stale)).toBe(true);
    expect(map.blocks.some((b) => b.writes >= 2)).toBe(true);
    // Hotter blocks are drawn darker: the most written block's cell is darker than a once-written one's.
    const hottest = Math.max(...map.blocks.map((b) => b.writes));
    const hottestRow = page.locator('table', { has: page.getByRole('columnheader', { name: 'Most written blocks' }) }).locator('tbody tr').first();
    expect(await hottestRow.locator('td').nth(1).textContent()).toBe(String(hottest));
    const lightness = await page.locator('.heat .cell.written, .heat .cell.stale').evaluateAll((cells) => cells.map((c) => Number(/hsl\(222, ?70%, ?(\d+)%\)/.exec((c as unknown as { getAttribute(n: string): string }).getAttribute('style'))?.[1])));
    expect(new Set(lightness).size).toBeGreaterThan(1);
    const bankCard = page.locator('.card', { has: page.getByRole('heading', { name: 'Memory banks' }) });
    expect(await colours(await shotOf(bankCard, 'tenant-bank-heatmap'))).toBeGreaterThan(4);
    expect(await colours(await shot('tenant-caches-and-banks'))).toBeGreaterThan(8);
  }, 110_000);

  it('fits a phone: the cube list at 390 px has no horizontal page scroll', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('navigation').getByRole('link', { name: 'Cubes' }).click();
    await page.getByRole('heading', { name: 'Cubes' }).waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await colours(await shot('tenant-cubes-phone'))).toBeGreaterThan(8);
  });
});
