import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Browser, chromium, Page } from 'playwright-core';
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
    await page.getByLabel('Admin token or API key').fill(h.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
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
    await page.getByRole('link', { name: 'Metrics' }).click();
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
  });

  it('fits a phone: the cube list at 390 px has no horizontal page scroll', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('navigation').getByRole('link', { name: 'Cubes' }).click();
    await page.getByRole('heading', { name: 'Cubes' }).waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await colours(await shot('tenant-cubes-phone'))).toBeGreaterThan(8);
  });
});
