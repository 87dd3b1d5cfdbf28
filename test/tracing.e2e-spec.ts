import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, freePort, TestDatabase, waitForOutput } from '@engram/testing';

/**
 * ADR 0505: `engram serve` with OTEL_EXPORTER_OTLP_ENDPOINT exports spans over OTLP/HTTP. The
 * receiver here is a real HTTP server decoding the exporter's JSON, as a collector would.
 */
const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist/apps/cli/src/main.js');
const ADMIN_TOKEN = 'tracing-spec-admin-token-0123456789abcdef';

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
}
interface ExportRequest {
  resourceSpans: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans: { scope?: { name: string }; spans: OtlpSpan[] }[] }[];
}

type ReceivedSpan = OtlpSpan & { scope: string; service: unknown };

const SPAN_KIND_SERVER = 2;

function attribute(attributes: OtlpAttribute[] | undefined, key: string): string | number | boolean | undefined {
  const found = attributes?.find((a) => a.key === key)?.value;
  return found?.stringValue ?? found?.intValue ?? found?.boolValue;
}

/** A minimal OTLP/HTTP collector: POST /v1/traces with a JSON ExportTraceServiceRequest. */
class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly contentTypes: string[] = [];
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.contentTypes.push(String(req.headers['content-type']));
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ExportRequest;
      for (const resource of body.resourceSpans) {
        const service = attribute(resource.resource?.attributes, 'service.name');
        for (const scope of resource.scopeSpans) for (const span of scope.spans) this.spans.push({ ...span, scope: scope.scope?.name ?? '', service });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  async waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.spans)) {
      if (Date.now() > deadline) throw new Error(`no matching spans after ${timeoutMs} ms; got ${this.spans.map((s) => s.name).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function baseEnv(database: TestDatabase, dataDir: string, port: number): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    DATABASE_URL: database.url,
    ENGRAM_DATA_DIR: dataDir,
    ENGRAM_ADMIN_TOKEN: ADMIN_TOKEN,
    ENGRAM_NEW_CUBE_EMBEDDER: 'hash',
    LOG_LEVEL: 'debug', // request lines of 2xx answers are logged at debug
  };
}

describe('OpenTelemetry tracing (OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  let database: TestDatabase;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-tracing-'));
  const receiver = new OtlpReceiver();
  let child: ChildProcess | null = null;
  let logs = '';

  beforeAll(async () => {
    expect(fs.existsSync(CLI)).toBe(true); // built by `npm test` (npm run build) before jest
    database = await createTestDatabase();
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await receiver.close();
    await database.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('exports the server, express and PostgreSQL spans of a request, linked to its request id', async () => {
    const receiverPort = await receiver.listen();
    const port = await freePort();
    child = spawn(process.execPath, [CLI, 'serve'], {
      env: { ...baseEnv(database, dataDir, port), OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiverPort}`, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'engram-tracing-spec' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    await waitForOutput(child, /engram listening on/, 60_000);

    const response = await fetch(`http://127.0.0.1:${port}/v1/admin/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', 'x-request-id': 'trace-spec-request-1' },
      body: JSON.stringify({ name: 'traced tenant' }),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-request-id')).toBe('trace-spec-request-1');
    const traceId = response.headers.get('x-trace-id');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    await receiver.waitFor((spans) => spans.some((s) => s.traceId === traceId && s.kind === SPAN_KIND_SERVER) && spans.some((s) => s.traceId === traceId && s.scope.includes('pg')));
    const trace = receiver.spans.filter((s) => s.traceId === traceId);
    const server = trace.find((s) => s.kind === SPAN_KIND_SERVER)!;
    expect(server.service).toBe('engram-tracing-spec');
    expect(attribute(server.attributes, 'engram.request_id')).toBe('trace-spec-request-1');
    expect(attribute(server.attributes, 'http.route') ?? server.name).toMatch(/\/v1\/admin\/tenants/);
    // Express and PostgreSQL spans of the same request hang under it.
    expect(trace.some((s) => s.scope.includes('express'))).toBe(true);
    const queries = trace.filter((s) => s.scope.includes('pg'));
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.some((s) => /INSERT/i.test(String(attribute(s.attributes, 'db.statement') ?? attribute(s.attributes, 'db.query.text') ?? s.name)))).toBe(true);
    expect(receiver.contentTypes.every((type) => type.startsWith('application/json'))).toBe(true);

    // The request's log line names the same trace.
    const line = logs.split('\n').find((l) => l.includes('"trace-spec-request-1"') && l.includes('"traceId"'));
    expect(line && (JSON.parse(line) as { traceId?: string }).traceId).toBe(traceId);

    // Probes and scrapes are not traced.
    await fetch(`http://127.0.0.1:${port}/metrics`);
    const before = receiver.spans.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.spans.slice(before).some((s) => s.kind === SPAN_KIND_SERVER && /metrics/.test(String(attribute(s.attributes, 'url.path') ?? s.name)))).toBe(false);

    // A clean stop flushes what is left.
    const stopped = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await stopped;
  }, 120_000);

  // prom-client loads @opentelemetry/api (for exemplars) whatever we do; the SDK, exporter and instrumentations are ours.
  it('loads no OpenTelemetry SDK module and sends no X-Trace-Id when the endpoint is unset', async () => {
    const port = await freePort();
    const probe = [
      "process.argv[2] = 'serve';",
      "require('./dist/apps/cli/src/tracing.preload.js');",
      "require('./dist/apps/server/src/index.js');",
      "process.stdout.write(String(Object.keys(require.cache).filter((k) => k.includes('@opentelemetry') && !k.includes('@opentelemetry/api/')).length));",
    ].join('\n');
    const off = await promisify(execFile)(process.execPath, ['-e', probe], { cwd: ROOT, env: baseEnv(database, dataDir, port), encoding: 'utf8' });
    expect(off.stdout).toBe('0');
    const on = await promisify(execFile)(process.execPath, ['-e', probe], { cwd: ROOT, env: { ...baseEnv(database, dataDir, port), OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }, encoding: 'utf8' });
    expect(Number(on.stdout)).toBeGreaterThan(0); // the probe can fail: with the endpoint set, the SDK is loaded

    child = spawn(process.execPath, [CLI, 'serve'], { env: baseEnv(database, dataDir, port), stdio: ['ignore', 'pipe', 'pipe'] });
    await waitForOutput(child, /engram listening on/, 60_000);
    const response = await fetch(`http://127.0.0.1:${port}/health`);
    expect(response.headers.get('x-request-id')).toBeTruthy();
    expect(response.headers.get('x-trace-id')).toBeNull();
    child.kill('SIGTERM');
  }, 120_000);
});
