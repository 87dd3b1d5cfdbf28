import * as fs from 'node:fs';
import * as path from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';
import { createE2eHarness, E2eHarness, withAdminClient } from '@engram/testing';

/**
 * The dashboard's less travelled paths, in Debian's Chromium (as test/dashboard.e2e-spec.ts;
 * needs `npm run build`): deleted memories, the skip link, many cubes, a key revoked while
 * signed in, offboarded tenants, expired keys, every scope, and a /metrics behind
 * ENGRAM_METRICS_TOKEN.
 */
const CHROMIUM = '/usr/bin/chromium';
const UI_BUILD = path.resolve(__dirname, '../dist/ui');
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function launch(h: E2eHarness): Promise<{ browser: Browser; page: Page; base: string }> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)`);
  if (!fs.existsSync(path.join(UI_BUILD, 'index.html'))) throw new Error('dist/ui is missing: run npm run build first');
  await h.app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(h.app.getHttpServer().address() as { port: number }).port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  return { browser, page, base };
}

async function signIn(page: Page, base: string, token: string, heading: string): Promise<void> {
  await page.goto(`${base}/ui/`);
  await page.getByLabel('Admin token or API key').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: heading }).waitFor();
}

describe('dashboard: deleted memories, many cubes, revoked keys, offboarded tenants', () => {
  let h: E2eHarness;
  let browser: Browser;
  let page: Page;
  let base: string;
  let admin: { Authorization: string };
  let tenantId: string;
  let key: string;
  let keyId: string;
  let auth: { Authorization: string };
  let eraser: { Authorization: string };

  beforeAll(async () => {
    h = await createE2eHarness();
    ({ browser, page, base } = await launch(h));
    admin = { Authorization: `Bearer ${h.adminToken}` };
    tenantId = (await h.http.post('/v1/admin/tenants').set(admin).send({ name: 'acme' }).expect(201)).body.id;
    const created = (await h.http.post(`/v1/admin/tenants/${tenantId}/keys`).set(admin).send({ name: 'ui', scopes: ['cubes:write', 'memories:read', 'memories:write'] }).expect(201)).body;
    key = created.key;
    keyId = created.id;
    auth = { Authorization: `Bearer ${key}` };
    eraser = { Authorization: `Bearer ${(await h.http.post(`/v1/admin/tenants/${tenantId}/keys`).set(admin).send({ name: 'eraser', scopes: ['memories:read', 'memories:erase'] }).expect(201)).body.key}` };
  });

  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('opens a deleted memory from the list of deleted ones, shows its history and restores it', async () => {
    const cubeId = (await h.http.post('/v1/cubes').set(auth).send({ name: 'notes', settings: { embedder: 'hash' } }).expect(201)).body.id as string;
    const memory = (await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth).send({ items: [{ text: 'Alice moved to Lisbon' }] }).expect(201)).body.items[0];
    await h.http.delete(`/v1/cubes/${cubeId}/memories/${memory.id}`).set(auth).expect(204);
    await signIn(page, base, key, 'Cubes');
    await page.goto(`${base}/ui/#/cubes/${cubeId}/memories`);
    await page.getByText('No memories yet: add some above.').waitFor(); // the only memory is deleted
    await page.goto(`${base}/ui/#/cubes/${cubeId}/memories?state=deleted`);
    await page.getByRole('link', { name: 'Alice moved to Lisbon' }).click();
    // Was "Something went wrong — not_found: memory not found": GET of a deleted memory is a 404.
    await page.getByRole('heading', { name: 'Memory (deleted)' }).waitFor();
    expect(await page.locator('.diff li').count()).toBe(2); // create, delete
    await page.getByRole('button', { name: 'Restore' }).click();
    await page.getByRole('heading', { name: 'Memory', exact: true }).waitFor();
    expect((await h.http.get(`/v1/cubes/${cubeId}/memories/${memory.id}`).set(auth).expect(200)).body.state).toBe('active');
    await page.getByLabel('Text').waitFor(); // active again: editable
    // Erased is for good: no restore to offer (it would answer 409).
    await h.http.delete(`/v1/cubes/${cubeId}/memories/${memory.id}`).query({ erase: true }).set(eraser).expect(204);
    await page.goto(`${base}/ui/#/cubes/${cubeId}/memories?state=deleted`);
    await page.getByRole('link', { name: '(erased)' }).click(); // its text is gone: the link says so
    await page.getByRole('heading', { name: 'Memory (erased)' }).waitFor();
    expect(await page.getByRole('button', { name: 'Restore' }).count()).toBe(0);
  });

  it('shows the history of long memories at once: a word diff where an edit is local, whole texts where it is not', async () => {
    const cubeId = (await h.http.get('/v1/cubes').query({ name: 'notes' }).set(auth).expect(200)).body.items[0].id as string;
    const words = (seed: number) => {
      const out: string[] = [];
      for (let i = 0; out.join(' ').length < 31_000; i++) out.push(`w${(i * seed) % 997}`);
      return out;
    };
    const first = words(7);
    const edited = [...first];
    edited[2000] = 'CHANGED';
    const memory = (await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth).send({ items: [{ text: first.join(' ') }] }).expect(201)).body.items[0];
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${memory.id}`).set(auth).send({ text: edited.join(' ') }).expect(200);
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${memory.id}`).set(auth).send({ text: words(13).join(' ') }).expect(200);
    await page.goto(`${base}/ui/#/cubes/${cubeId}/memories/${memory.id}`);
    // The previous page's History may still be on screen: wait for this memory's versions.
    // (Each version used to be diffed with a full word table, 10⁸ cells here: seconds of frozen
    // page per version; the last version below shows the bounded diff's fallback.)
    await page.locator('.diff > li').filter({ hasText: 'w0 w13 w26' }).first().waitFor();
    const versions = page.locator('.diff > li');
    expect(await versions.count()).toBe(3);
    expect(await versions.nth(1).locator('del').allTextContents()).toEqual([first[2000]]);
    expect(await versions.nth(1).locator('ins').allTextContents()).toEqual(['CHANGED']);
    // Past the table's budget: the changed middle as the old text, then the new one.
    expect([await versions.nth(2).locator('del').count(), await versions.nth(2).locator('ins').count()]).toEqual([1, 1]);
    const shown = (v: number, drop: 'del' | 'ins') =>
      versions.nth(v).locator('div').evaluate<string, string>((el, tag) => {
        const copy = (el as unknown as { cloneNode(deep: boolean): { querySelectorAll(s: string): { remove(): void }[]; textContent: string } }).cloneNode(true);
        copy.querySelectorAll(tag).forEach((n) => n.remove());
        return copy.textContent;
      }, drop);
    expect((await shown(2, 'del')) === words(13).join(' ')).toBe(true); // the new text, whole
    expect((await shown(2, 'ins')) === edited.join(' ')).toBe(true); // the old one, whole
  });

  it('the skip link moves focus to the content and stays on the page', async () => {
    const cubeId = (await h.http.get('/v1/cubes').query({ name: 'notes' }).set(auth).expect(200)).body.items[0].id as string;
    await page.goto(`${base}/ui/#/cubes/${cubeId}/search`);
    await page.getByRole('heading', { name: 'Search notes' }).waitFor();
    await page.locator('a.skip').focus();
    await page.keyboard.press('Enter');
    await page.waitForTimeout(300);
    // Its href (#main) used to route: the page was swapped for the cube list.
    expect(new URL(page.url()).hash).toBe(`#/cubes/${cubeId}/search`);
    expect(await page.getByRole('heading', { name: 'Search notes' }).count()).toBe(1);
    expect(await page.evaluate<string>('document.activeElement.id')).toBe('main');
  });

  it('says what is wrong with a mangled link instead of staying on the page before it', async () => {
    await page.goto(`${base}/ui/#/cubes`);
    await page.getByRole('heading', { name: 'Cubes' }).waitFor();
    await page.goto(`${base}/ui/#/cubes/%E0%A4%A/memories`);
    await page.getByRole('heading', { name: 'Something went wrong' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('URIError');
  });

  it('lists many cubes a page at a time, with a stats request per shown cube only', async () => {
    for (let i = 0; i < 30; i++) await h.http.post('/v1/cubes').set(auth).send({ name: `agent-${String(i).padStart(2, '0')}`, settings: { embedder: 'hash' } }).expect(201);
    const stats: string[] = [];
    const count = (r: { url(): string }) => /\/stats$/.test(r.url()) && stats.push(r.url());
    page.on('request', count);
    await page.goto(`${base}/ui/#/cubes`);
    await page.getByRole('heading', { name: 'Cubes' }).waitFor();
    await page.getByRole('link', { name: 'Next page →' }).waitFor();
    page.off('request', count);
    expect(await page.locator('tbody tr').count()).toBe(25);
    expect(stats.length).toBe(25); // was every cube up to 200, each a request against the key's rate limit
    await page.getByRole('link', { name: 'Next page →' }).click();
    await page.getByRole('link', { name: '← First page' }).waitFor();
    expect(await page.locator('tbody tr').count()).toBe(6); // 31 cubes in all
    expect(await page.getByRole('link', { name: 'Next page →' }).count()).toBe(0);
    await page.getByRole('link', { name: 'agent-29', exact: true }).waitFor();
  });

  it('says why when the key is revoked while signed in', async () => {
    await page.goto(`${base}/ui/#/cubes`);
    await page.getByRole('link', { name: 'agent-00', exact: true }).waitFor();
    await h.http.delete(`/v1/admin/tenants/${tenantId}/keys/${keyId}`).set(admin).expect(204);
    await page.getByRole('link', { name: 'agent-00', exact: true }).click();
    await page.getByLabel('Admin token or API key').waitFor();
    await page.getByText(/This API key was refused \(.*\): sign in again\./).waitFor();
  });

  it('shows offboarded tenants as deleted, expired keys as expired, and grants every scope', async () => {
    const gone = (await h.http.post('/v1/admin/tenants').set(admin).send({ name: 'gone' }).expect(201)).body.id as string;
    await h.http.delete(`/v1/admin/tenants/${gone}`).set(admin).expect(200);
    await h.http.post(`/v1/admin/tenants/${tenantId}/keys`).set(admin).send({ name: 'short', scopes: ['memories:read'], expiresAt: new Date(Date.now() + 1500).toISOString() }).expect(201);
    await signIn(page, base, h.adminToken, 'Tenants');
    const goneRow = page.locator('tbody tr', { hasText: 'gone' });
    expect(await goneRow.textContent()).toContain('deleted');
    expect(await goneRow.getByRole('link').count()).toBe(0); // its keys page would be a 404
    await page.waitForTimeout(1600);
    await page.getByRole('link', { name: 'Keys of acme' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    const shortRow = page.locator('tbody tr', { hasText: 'short' });
    expect(await shortRow.locator('td').nth(4).textContent()).toBe('expired'); // was "active"
    await page.getByLabel('Key name').fill('chat');
    for (const scope of ['inference:run', 'banks:write', 'memories:erase']) await page.getByLabel(scope).check();
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.locator('#new-key-secret').waitFor();
    const keys = (await h.http.get(`/v1/admin/tenants/${tenantId}/keys`).set(admin).expect(200)).body.items as { name: string; scopes: string[] }[];
    expect(keys.find((k) => k.name === 'chat')!.scopes.sort()).toEqual(['banks:write', 'cubes:write', 'inference:run', 'memories:erase', 'memories:read', 'memories:write']);
  });

  it('keeps each row\'s action on a phone: the link to a tenant\'s keys and the Revoke button', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.getByRole('navigation').getByRole('link', { name: 'Tenants' }).click();
      // The phone layout hid every column past the third, these included: no way to a tenant's keys.
      await page.getByRole('link', { name: 'Keys of acme' }).click({ timeout: 5000 });
      await page.getByRole('heading', { name: 'API keys' }).waitFor();
      expect(await page.getByRole('button', { name: /^Revoke key / }).first().isVisible()).toBe(true);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(0);
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });
});

describe('dashboard: signing in while PostgreSQL does not answer', () => {
  let h: E2eHarness;
  let browser: Browser;
  let page: Page;
  let base: string;
  const connections = (allow: boolean) =>
    withAdminClient(async (client) => {
      await client.query(`ALTER DATABASE "${h.db.name}" ALLOW_CONNECTIONS ${allow}`);
      if (!allow) await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [h.db.name]);
    });

  beforeAll(async () => {
    h = await createE2eHarness({ dbAcquireTimeoutMs: 1000 });
    ({ browser, page, base } = await launch(h));
  });

  afterAll(async () => {
    await browser?.close();
    if (h) await connections(true);
    await h?.close();
  });

  it('says the server cannot answer, not that the admin token should be an API key', async () => {
    await page.goto(`${base}/ui/`);
    await page.getByLabel('Admin token or API key').waitFor();
    await connections(false);
    await page.getByLabel('Admin token or API key').fill(h.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const toast = page.locator('#toast .msg.error');
    await toast.waitFor({ timeout: 30_000 });
    // Was "not_found: not found for the admin token: tenant routes take an API key…" (the
    // failed probe of /v1/admin/tenants was taken for "not the admin token").
    expect(await toast.textContent()).not.toContain('API key');
    expect(await toast.textContent()).toMatch(/^(unavailable|internal_error): /);
    expect(await page.evaluate<string | null>("sessionStorage.getItem('engram.session')")).toBeNull();
  });
});

describe('dashboard: metrics behind ENGRAM_METRICS_TOKEN', () => {
  const metricsToken = 'scrape-0123456789abcdef';
  let h: E2eHarness;
  let browser: Browser;
  let page: Page;
  let base: string;

  beforeAll(async () => {
    h = await createE2eHarness({ metricsToken });
    ({ browser, page, base } = await launch(h));
  });

  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('asks for the metrics token instead of drawing empty charts, and draws them with it', async () => {
    await signIn(page, base, h.adminToken, 'Tenants');
    await page.getByRole('link', { name: 'Metrics' }).click();
    await page.getByRole('heading', { name: 'Metrics' }).waitFor();
    await page.getByText(/ENGRAM_METRICS_TOKEN/).waitFor();
    expect(await page.getByRole('img', { name: 'Requests per latency band' }).count()).toBe(0);
    await page.getByRole('textbox', { name: 'Metrics token' }).fill('scrape-wrong-wrong-wrong');
    await page.getByRole('button', { name: 'Show metrics' }).click();
    await page.getByText('The server refused that metrics token.').waitFor();
    await page.getByRole('textbox', { name: 'Metrics token' }).fill(metricsToken);
    await page.getByRole('button', { name: 'Show metrics' }).click();
    const chart = page.getByRole('img', { name: 'Requests per latency band' });
    await chart.waitFor();
    expect(await chart.locator('rect').count()).toBeGreaterThan(3);
  });
});
