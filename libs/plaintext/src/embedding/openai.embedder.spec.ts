import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { dot } from './embedder';
import { EmbeddingRequestError, OpenAiEmbedder, openAiEmbeddingsUrl } from './openai.embedder';

interface Seen {
  url: string;
  auth?: string;
  body: { model: string; input: string[]; dimensions?: number };
}

describe('OpenAiEmbedder', () => {
  let server: Server;
  let baseUrl: string;
  const seen: Seen[] = [];
  let reply: (body: Seen['body'], res: ServerResponse) => void;

  const vectorFor = (text: string): number[] => [text.length, 1, 0, 2];

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let raw = '';
      req.on('data', (chunk) => (raw += chunk));
      req.on('end', () => {
        const body = JSON.parse(raw) as Seen['body'];
        seen.push({ url: req.url ?? '', auth: req.headers.authorization, body });
        reply(body, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    seen.length = 0;
    // Answers in reverse order, as servers may: the embedder must sort by index.
    reply = (body, res) => {
      const data = body.input.map((text, index) => ({ object: 'embedding', index, embedding: vectorFor(text) })).reverse();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data, model: body.model }));
    };
  });

  it('posts batches to /v1/embeddings and returns normalised vectors in input order', async () => {
    const embedder = new OpenAiEmbedder({ baseUrl: `${baseUrl}/v1/`, model: 'tiny', dimension: 4, apiKey: 'sk-test', batchSize: 2 });
    const texts = ['a', 'bbb', 'cc', 'dddd', 'e'];
    const vectors = await embedder.embed(texts);
    expect(seen.map((s) => s.body.input)).toEqual([['a', 'bbb'], ['cc', 'dddd'], ['e']]);
    expect(seen.every((s) => s.url === '/v1/embeddings' && s.auth === 'Bearer sk-test' && s.body.model === 'tiny')).toBe(true);
    vectors.forEach((v, i) => {
      expect(dot(v, v)).toBeCloseTo(1, 5);
      const raw = vectorFor(texts[i]);
      const norm = Math.hypot(...raw);
      expect(v[0]).toBeCloseTo(raw[0] / norm, 5);
    });
    expect(embedder.fingerprint).toBe('openai:tiny:4:v1');
  });

  it('asks for shortened vectors only when told to', async () => {
    await new OpenAiEmbedder({ baseUrl, model: 'm', dimension: 4, requestDimensions: true }).embed(['x']);
    await new OpenAiEmbedder({ baseUrl, model: 'm', dimension: 4 }).embed(['x']);
    expect(seen[0].body.dimensions).toBe(4);
    expect(seen[1].body.dimensions).toBeUndefined();
    expect(seen[1].auth).toBeUndefined();
  });

  it('reports the status of a failed request, and keeps its body out of the message', async () => {
    reply = (_body, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Incorrect API key provided: sk-secret-echo' } }));
    };
    const embedder = new OpenAiEmbedder({ baseUrl, model: 'm', dimension: 4, label: 'embedding endpoint "local"' });
    const error = (await embedder.embed(['x']).catch((e: unknown) => e)) as EmbeddingRequestError;
    expect(error).toBeInstanceOf(EmbeddingRequestError);
    expect(error.message).toBe('embedding endpoint "local" answered HTTP 401');
    expect(error.status).toBe(401);
    expect(error.detail).toContain('sk-secret-echo'); // for the server log only
  });

  it('rejects vectors of the wrong dimension or with non-numbers', async () => {
    await expect(new OpenAiEmbedder({ baseUrl, model: 'm', dimension: 8 }).embed(['x'])).rejects.toThrow(/embedding 0 is not 8 finite numbers \(got dimension 4\)/);
    reply = (_body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: [{ index: 0, embedding: [1, 'x', 0, 0] }] }));
    };
    await expect(new OpenAiEmbedder({ baseUrl, model: 'm', dimension: 4 }).embed(['x'])).rejects.toThrow(/is not 4 finite numbers/);
  });

  it('rejects a response with the wrong number of vectors', async () => {
    reply = (_body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: [] }));
    };
    await expect(new OpenAiEmbedder({ baseUrl, model: 'm', dimension: 4 }).embed(['x'])).rejects.toThrow(/0 vectors for 1 texts/);
  });

  it('reports an unreachable endpoint clearly', async () => {
    const embedder = new OpenAiEmbedder({ baseUrl: 'http://127.0.0.1:1', model: 'm', dimension: 4 });
    await expect(embedder.embed(['x'])).rejects.toThrow('could not reach embedding endpoint http://127.0.0.1:1');
  });

  it('makes no request for no texts', async () => {
    expect(await new OpenAiEmbedder({ baseUrl, model: 'm', dimension: 4 }).embed([])).toEqual([]);
    expect(seen).toHaveLength(0);
  });
});

describe('openAiEmbeddingsUrl', () => {
  it('appends /v1/embeddings to the base path, with or without /v1', () => {
    expect(openAiEmbeddingsUrl('https://api.openai.com').href).toBe('https://api.openai.com/v1/embeddings');
    expect(openAiEmbeddingsUrl('https://api.openai.com/v1/').href).toBe('https://api.openai.com/v1/embeddings');
    expect(openAiEmbeddingsUrl('http://10.0.0.5:8000/tei').href).toBe('http://10.0.0.5:8000/tei/v1/embeddings');
  });

  it('refuses what would swallow the path or carry credentials', () => {
    expect(() => openAiEmbeddingsUrl('http://evil.example/?')).toThrow(/query or fragment/);
    expect(() => openAiEmbeddingsUrl('http://evil.example/x?a=1')).toThrow(/query or fragment/);
    expect(() => openAiEmbeddingsUrl('http://evil.example#')).toThrow(/query or fragment/);
    expect(() => openAiEmbeddingsUrl('http://user:pw@evil.example')).toThrow(/credentials/);
    expect(() => openAiEmbeddingsUrl('ftp://evil.example')).toThrow(/http or https/);
    expect(() => openAiEmbeddingsUrl('file:///etc/passwd')).toThrow(/http or https/);
    expect(() => openAiEmbeddingsUrl('not a url')).toThrow(/not a URL/);
    expect(() => new OpenAiEmbedder({ baseUrl: 'http://x.example/?', model: 'm', dimension: 4 })).toThrow(/baseUrl must not contain a query/);
  });
});
