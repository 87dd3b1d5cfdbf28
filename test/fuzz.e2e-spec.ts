// Property-based requests for every operation in /docs-json, with a full-scope key, the
// operator token, no credentials and a forged key: never a 5xx, every 4xx in the error
// envelope, and a 4xx leaves every table as it was. FUZZ_RUNS (default 6) sets the number
// of requests per operation and credential; `npm run test:reliability` runs it longer.
import fc from 'fast-check';
import { Client } from 'pg';
import { createE2eHarness, E2eHarness } from '@engram/testing';

interface Operation {
  method: string;
  path: string;
  params: { name: string; in: string }[];
  bodyKeys: string[] | null;
}

type Credential = 'key' | 'admin' | 'none' | 'forged';

const RUNS = Number(process.env.FUZZ_RUNS ?? 6);
// Columns that change without a write of the caller's: use tracking, background bookkeeping.
const VOLATILE = ['last_used_at', 'access_count', 'last_accessed_at', 'locked_until', 'heartbeat_at'];

/** Operations and the top-level body keys of their schemas, from the OpenAPI document. */
function operationsOf(doc: { paths: Record<string, Record<string, Record<string, unknown>>>; components?: { schemas?: Record<string, { properties?: Record<string, unknown> }> } }): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = ((op.parameters as { name: string; in: string }[] | undefined) ?? []).map((p) => ({ name: p.name, in: p.in }));
      const body = op.requestBody as { content?: Record<string, { schema?: { $ref?: string; properties?: Record<string, unknown> } }> } | undefined;
      const schema = body?.content?.['application/json']?.schema;
      const ref = schema?.$ref?.split('/').pop();
      const props = ref ? doc.components?.schemas?.[ref]?.properties : schema?.properties;
      ops.push({ method: method.toUpperCase(), path, params, bodyKeys: body ? Object.keys(props ?? {}) : null });
    }
  }
  return ops;
}

const nasty = fc.constantFrom('', ' ', '-'.repeat(36), '99999999999999999999', '-1', '0', '1e309', 'NaN', '../../etc/passwd', '%00', 'null', '__proto__', 'a'.repeat(3000), '\u0000', '😀', '{"a":1}', 'true');
const anyString = fc.oneof(fc.string({ maxLength: 40 }), nasty, fc.uuid());
const anyJson = fc.oneof(fc.jsonValue({ maxDepth: 3 }), nasty, fc.constant(null));

describe('fuzzing every route of the OpenAPI document', () => {
  let h: E2eHarness;
  let db: Client;
  let ops: Operation[];
  const known: Record<string, string> = {};
  const tokens: Record<Credential, string | null> = { key: null, admin: null, none: null, forged: 'egm_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' };
  const failures: string[] = [];

  async function fingerprint(): Promise<string> {
    // rate_limit_windows counts every request, refused or not: that is its job, not a change of stored state.
    const tables = (await db.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('migrations', 'rate_limit_windows', 'memory_access') ORDER BY 1`)).rows.map((r) => r.t);
    const parts: string[] = [];
    for (const t of tables) {
      const { rows } = await db.query<{ n: number; h: string | null }>(
        `SELECT count(*)::int AS n, md5(string_agg((to_jsonb(x) - $1::text[])::text, ',' ORDER BY (to_jsonb(x) - $1::text[])::text)) AS h FROM "${t}" x`,
        [VOLATILE],
      );
      parts.push(`${t}:${rows[0].n}:${rows[0].h ?? ''}`);
    }
    return parts.join('|');
  }

  beforeAll(async () => {
    h = await createE2eHarness();
    db = new Client({ connectionString: h.db.url });
    await db.connect();
    const owner = await h.factory.apiKey({ scopes: ['cubes:write', 'memories:read', 'memories:write', 'memories:erase', 'cubes:export'] as never });
    tokens.key = owner.key;
    tokens.admin = h.adminToken;
    known.tenantId = owner.tenantId;
    known.keyId = owner.id;
    known.cubeId = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    const added = await h.http.post(`/v1/cubes/${known.cubeId}/memories`).set({ Authorization: `Bearer ${owner.key}` }).send({ items: [{ text: 'Fuzzing starts from one known memory' }] }).expect(201);
    known.memoryId = added.body.items[0].id;
    ops = operationsOf((await h.http.get('/docs-json').expect(200)).body);
  });
  afterAll(async () => {
    await db.end();
    await h.close();
  });

  it('finds the operations to fuzz', () => {
    expect(ops.length).toBeGreaterThan(40);
  });

  it('answers every fuzzed request below 500, 4xx in the error envelope, and a 4xx changes nothing', async () => {
    for (const op of ops) {
      if (op.path === '/mcp' || op.path.startsWith('/ui')) continue; // protocol and static routes have their own suites
      const request = fc.record({
        credential: fc.constantFrom<Credential>('key', 'admin', 'none', 'forged'),
        path: fc.record(Object.fromEntries(op.params.filter((p) => p.in === 'path').map((p) => [p.name, fc.oneof(fc.constant(known[p.name] ?? ''), fc.uuid(), anyString)]))),
        query: fc.dictionary(fc.constantFrom(...op.params.filter((p) => p.in === 'query').map((p) => p.name), 'unknown'), anyString, { maxKeys: 3 }),
        body: op.bodyKeys === null
          ? fc.constant(undefined)
          : fc.oneof(anyJson, fc.dictionary(op.bodyKeys.length ? fc.constantFrom(...op.bodyKeys, 'extra') : fc.string(), anyJson, { maxKeys: 5 })),
        idempotencyKey: fc.option(anyString, { nil: undefined }),
      });
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          let url = op.path;
          for (const [name, value] of Object.entries(r.path)) url = url.replace(`{${name}}`, encodeURIComponent(String(value)) || '%20');
          const before = await fingerprint();
          let call = h.http[op.method.toLowerCase() as 'get'](url).query(r.query);
          const token = tokens[r.credential];
          if (token) call = call.set('Authorization', `Bearer ${token}`);
          if (r.idempotencyKey !== undefined) call = call.set('Idempotency-Key', r.idempotencyKey.replace(/[^\x20-\x7e]/g, '?'));
          const res = r.body === undefined ? await call : await call.set('Content-Type', 'application/json').send(JSON.stringify(r.body));
          const where = `${op.method} ${url} [${r.credential}] → ${res.status}`;
          if (res.status >= 500) failures.push(`${where}: ${JSON.stringify(res.body).slice(0, 300)}`);
          if (res.status >= 400 && res.status < 500) {
            const error = (res.body as { error?: { code?: unknown; message?: unknown } }).error;
            if (typeof error?.code !== 'string' || typeof error?.message !== 'string') failures.push(`${where}: no error envelope: ${res.text.slice(0, 200)}`);
            if ((await fingerprint()) !== before) failures.push(`${where}: a ${res.status} changed stored state`);
          }
          return true;
        }),
        { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 20261129) },
      );
    }
    expect(failures).toEqual([]);
  }, 600_000);
});
