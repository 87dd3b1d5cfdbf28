import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { EmbeddingRequestError } from '@engram/plaintext';
import { EngramError } from '../errors/engram.error';
import { checkTenantUrl, createOpenAiEmbedder, OpenAiEndpointPolicy, parseOpenAiSettings } from './openai-embedder.settings';

const fail = (problem: string) => EngramError.validation([{ field: 'settings.embedder', problems: [problem] }]);
const problemOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return JSON.stringify((error as EngramError).details);
  }
  return 'accepted';
};

const endpoints = {
  local: { baseUrl: 'http://127.0.0.1:8000/v1/', model: 'bge-small', dimension: 384, apiKey: 'sk-operator' },
  openai: { baseUrl: 'https://api.openai.com', model: 'text-embedding-3-small', dimension: 1536, apiKey: 'sk-operator' },
};
const closed: OpenAiEndpointPolicy = { endpoints, allowTenantUrls: false };
const open: OpenAiEndpointPolicy = { endpoints, allowTenantUrls: true };

describe('parseOpenAiSettings', () => {
  it('accepts an endpoint the operator named, and nothing beside its name', () => {
    expect(parseOpenAiSettings({ type: 'openai', name: 'local' }, closed, 'request', fail)).toEqual({ type: 'openai', name: 'local' });
    expect(problemOf(() => parseOpenAiSettings({ type: 'openai', name: 'local', model: 'x' }, closed, 'request', fail))).toMatch(/unknown field\(s\) for the openai embedder: model/);
  });

  it('refuses an unknown name, listing the ones this server has', () => {
    for (const name of ['nope', '__proto__', 'constructor', 'toString', 42, undefined]) {
      expect(problemOf(() => parseOpenAiSettings({ type: 'openai', name }, closed, 'request', fail))).toMatch(/must name an embedding endpoint of this server \(this server names: local, openai\)/);
    }
    expect(problemOf(() => parseOpenAiSettings({ type: 'openai', name: 'x' }, { endpoints: {}, allowTenantUrls: false }, 'request', fail))).toMatch(/names none \(ENGRAM_EMBEDDERS\)/);
  });

  it('refuses a tenant URL unless the operator allows them', () => {
    const spec = { type: 'openai', baseUrl: 'https://embed.example', model: 'm', dimension: 8 };
    expect(problemOf(() => parseOpenAiSettings(spec, closed, 'request', fail))).toMatch(/does not call embedding URLs chosen by tenants; choose an endpoint the operator named/);
    expect(parseOpenAiSettings(spec, open, 'request', fail)).toEqual(spec);
  });

  it('refuses a URL whose query, fragment or credentials would change where it goes', () => {
    for (const baseUrl of ['https://embed.example/?', 'https://embed.example/#', 'https://embed.example?x=1', 'https://user:pw@embed.example', 'file:///etc/passwd', 'gopher://embed.example']) {
      expect(problemOf(() => parseOpenAiSettings({ type: 'openai', baseUrl, model: 'm', dimension: 8 }, open, 'request', fail))).toMatch(/settings\.embedder\.baseUrl (must not contain|must be an http or https URL)/);
    }
  });

  it('reads a stored baseUrl that an operator endpoint serves as that endpoint (cubes from before ADR 0104)', () => {
    const legacy = { type: 'openai', baseUrl: 'http://127.0.0.1:8000', model: 'bge-small', dimension: 384 };
    expect(parseOpenAiSettings(legacy, closed, 'stored', fail)).toEqual({ type: 'openai', name: 'local' });
    // Another model or dimension at the same URL is not that endpoint.
    expect(parseOpenAiSettings({ ...legacy, model: 'other' }, closed, 'stored', fail)).toEqual({ ...legacy, model: 'other' });
    expect(parseOpenAiSettings({ ...legacy, dimension: 768 }, closed, 'stored', fail)).toEqual({ ...legacy, dimension: 768 });
    // A stored name the operator has since removed is read back (and fails when used, not when read).
    expect(parseOpenAiSettings({ type: 'openai', name: 'gone' }, closed, 'stored', fail)).toEqual({ type: 'openai', name: 'gone' });
  });
});

describe('checkTenantUrl', () => {
  const spec = (baseUrl: string) => ({ type: 'openai' as const, baseUrl, model: 'm', dimension: 8 });

  it('refuses hosts that are or resolve to non-public addresses', async () => {
    for (const url of ['http://127.0.0.1:9', 'http://[::1]:9', 'http://localhost:9', 'http://169.254.169.254', 'http://10.0.0.1', 'http://[::ffff:127.0.0.1]', 'http://2130706433']) {
      await expect(checkTenantUrl(spec(url), open)).rejects.toMatchObject({ code: 'validation_failed', details: [{ field: 'settings.embedder', problems: [expect.stringMatching(/only public addresses may be reached/)] }] });
    }
    const rebinding: OpenAiEndpointPolicy = { ...open, resolve: async () => [{ address: '93.184.216.34', family: 4 }, { address: '192.168.0.10', family: 4 }] };
    await expect(checkTenantUrl(spec('https://embed.example'), rebinding)).rejects.toThrow(EngramError);
  });

  it('accepts a host whose every address is public, and has nothing to check for a named endpoint', async () => {
    await expect(checkTenantUrl(spec('https://embed.example'), { ...open, resolve: async () => [{ address: '93.184.216.34', family: 4 }] })).resolves.toBeUndefined();
    await expect(checkTenantUrl({ type: 'openai', name: 'local' }, open)).resolves.toBeUndefined();
  });
});

describe('createOpenAiEmbedder', () => {
  let server: Server;
  let port: number;
  const seen: (string | undefined)[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      req.resume();
      req.on('end', () => res.end(JSON.stringify({ data: [{ index: 0, embedding: [1, 0, 0, 0, 0, 0, 0, 0] }] })));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => (seen.length = 0));

  it('sends the key to the endpoint the operator named (loopback allowed: the operator chose it)', async () => {
    const policy: OpenAiEndpointPolicy = { endpoints: { here: { baseUrl: `http://127.0.0.1:${port}`, model: 'm', dimension: 8, apiKey: 'sk-operator' } }, allowTenantUrls: false };
    const embedder = createOpenAiEmbedder({ type: 'openai', name: 'here' }, policy);
    expect(embedder.fingerprint).toBe('openai:m:8:v1');
    await embedder.embed(['x']);
    expect(seen).toEqual(['Bearer sk-operator']);
  });

  it('never gives a tenant URL a key, and never lets it reach loopback', async () => {
    const policy: OpenAiEndpointPolicy = { endpoints, allowTenantUrls: true, resolve: async () => [{ address: '127.0.0.1', family: 4 }] };
    const embedder = createOpenAiEmbedder({ type: 'openai', baseUrl: `http://embed.example:${port}`, model: 'm', dimension: 8 }, policy);
    expect((embedder as unknown as { options: { apiKey?: string } }).options.apiKey).toBeUndefined();
    const error = await embedder.embed(['x']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddingRequestError);
    expect((error as Error).message).toMatch(/resolves to 127\.0\.0\.1, a loopback address/);
    expect(seen).toHaveLength(0);
  });

  it('says what the operator can do when a stored tenant URL is no longer allowed, or a name is gone', () => {
    expect(() => createOpenAiEmbedder({ type: 'openai', baseUrl: 'https://embed.example', model: 'm', dimension: 8 }, closed)).toThrow(/name it in ENGRAM_EMBEDDERS .* or set ENGRAM_ALLOW_TENANT_EMBEDDER_URLS/);
    expect(() => createOpenAiEmbedder({ type: 'openai', name: 'gone' }, closed)).toThrow(/"gone" is not configured on this server/);
  });
});
