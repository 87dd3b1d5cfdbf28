// Issue 11's closing figures, against a live engram on a scratch database (ADR 0504):
// the MCP tools a model sees, the SDK's README example run as written, and the dashboard's
// first load (bytes gzipped, as the browser fetched them) and time to interactive in
// headless Chromium. `npm run bench:surfaces` (needs `npm run build`, PostgreSQL, /usr/bin/chromium).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { chromium } from 'playwright-core';
import { startScratchService } from './support/scratch-service';

const ROOT = path.resolve(__dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';

async function mcpTools(base: string, key: string): Promise<void> {
  const client = new Client({ name: 'bench-surfaces', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
  const { tools } = await client.listTools();
  const { resourceTemplates } = await client.listResourceTemplates();
  process.stdout.write(`\nMCP tools (${tools.length}) at ${base}/mcp:\n`);
  for (const tool of tools) {
    const args = Object.keys((tool.inputSchema as { properties?: Record<string, unknown> }).properties ?? {});
    process.stdout.write(`  ${tool.name}(${args.join(', ')}): ${(tool.description ?? '').split('\n')[0].slice(0, 110)}\n`);
  }
  process.stdout.write(`MCP resource templates: ${resourceTemplates.map((r) => r.uriTemplate).join(', ')}\n`);
  await client.close();
}

/** The code block of packages/client/README.md, run as written: only the URL and the import path are the bench's. */
async function sdkReadmeExample(base: string, key: string): Promise<void> {
  const readme = fs.readFileSync(path.join(ROOT, 'packages/client/README.md'), 'utf8');
  const code = /```ts\n([\s\S]*?)```/.exec(readme)![1];
  const lines = code.trim().split('\n');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-sdk-example-'));
  const file = path.join(dir, 'example.mjs');
  const runnable = code
    .replace("'@engram/client'", JSON.stringify(path.join(ROOT, 'packages/client/dist/esm/index.js')))
    .replace(/url: '[^']*'/, `url: ${JSON.stringify(base)}`)
    .replace('ENGRAM_API_KEY!', 'ENGRAM_API_KEY'); // TypeScript's non-null assertion: the file runs as plain JavaScript
  fs.writeFileSync(file, runnable);
  const { stdout } = await promisify(execFile)(process.execPath, [file], { env: { ...process.env, ENGRAM_API_KEY: key }, encoding: 'utf8' });
  process.stdout.write(`\nSDK README example (${lines.length} lines, packages/client/README.md) against ${base}:\n${code}--- output ---\n${stdout}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

async function dashboardFirstLoad(base: string): Promise<void> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    const runs: { files: number; raw: number; gzipped: number; tti: number }[] = [];
    for (let run = 0; run < 3; run++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } }); // a cold cache each time
      const page = await context.newPage();
      const bodies: Promise<Buffer>[] = [];
      page.on('response', (res) => void (res.url().startsWith(`${base}/ui`) && bodies.push(res.body())));
      await page.goto(`${base}/ui/`);
      await page.getByLabel('Admin token or API key').waitFor();
      const tti = await page.evaluate(() => performance.now()); // since navigation start
      await page.waitForLoadState('networkidle'); // every file of the first load fetched
      const loaded = await Promise.all(bodies);
      runs.push({ files: loaded.length, raw: loaded.reduce((n, b) => n + b.length, 0), gzipped: loaded.reduce((n, b) => n + gzipSync(b).length, 0), tti });
      await context.close();
    }
    const first = runs[0];
    const ttis = runs.map((r) => r.tti.toFixed(0)).join(', ');
    process.stdout.write(`\nDashboard /ui first load: ${first.files} files, ${(first.raw / 1024).toFixed(1)} KB raw, ${(first.gzipped / 1024).toFixed(1)} KB gzipped (budget 300 KB: ${((first.gzipped / (300 * 1024)) * 100).toFixed(1)} %)\n`);
    process.stdout.write(`Time to interactive (sign-in form visible and usable, from navigation start), 3 cold loads in headless Chromium: ${ttis} ms\n`);
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  const service = await startScratchService();
  try {
    await mcpTools(service.base, service.key);
    await sdkReadmeExample(service.base, service.key);
    await dashboardFirstLoad(service.base);
  } finally {
    await service.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:surfaces failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
