import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { boundedPost, BoundedPostOptions, OutboundRequestError, resolvePublicAddresses } from './bounded-post';

interface Listener {
  server: Server;
  url: string;
  port: number;
  seen: { url: string; auth?: string }[];
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listener> {
  const seen: Listener['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, url: `http://127.0.0.1:${port}`, port, seen };
}

const close = (l: Listener) => new Promise<void>((resolve) => l.server.close(() => resolve()));
const options = (overrides: Partial<BoundedPostOptions> = {}): BoundedPostOptions => ({
  label: 'embedding endpoint "test"',
  headers: { 'content-type': 'application/json', authorization: 'Bearer sk-operator' },
  timeoutMs: 5_000,
  maxResponseBytes: 64 * 1024,
  publicOnly: false,
  ...overrides,
});
const failure = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as OutboundRequestError);

describe('boundedPost', () => {
  let target: Listener;
  let handler: (req: IncomingMessage, res: ServerResponse) => void;

  beforeAll(async () => {
    target = await listen((req, res) => handler(req, res));
  });
  afterAll(() => close(target));
  beforeEach(() => {
    target.seen.length = 0;
    handler = (_req, res) => res.end('{"ok":true}');
  });

  it('returns a 2xx answer as text', async () => {
    expect(await boundedPost(new URL(`${target.url}/v1/embeddings`), '{}', options())).toEqual({ status: 200, body: '{"ok":true}' });
    expect(target.seen).toEqual([{ url: '/v1/embeddings', auth: 'Bearer sk-operator' }]);
  });

  it('does not follow a redirect, not even to loopback', async () => {
    const elsewhere = await listen((_req, res) => res.end('{}'));
    try {
      handler = (_req, res) => {
        res.writeHead(307, { location: `${elsewhere.url}/steal` });
        res.end();
      };
      const error = await failure(boundedPost(new URL(target.url), '{}', options()));
      expect(error).toBeInstanceOf(OutboundRequestError);
      expect(error?.message).toBe('embedding endpoint "test" answered HTTP 307, a redirect; redirects are not followed');
      expect(elsewhere.seen).toHaveLength(0);
    } finally {
      await close(elsewhere);
    }
  });

  it('cuts off an answer larger than the cap while it streams (no content-length)', async () => {
    let written = 0;
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(16 * 1024, 'a');
      const pump = () => {
        while (written < 64 * 1024 * 1024 && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return res.once('drain', pump);
        }
        res.end();
      };
      pump();
    };
    const error = await failure(boundedPost(new URL(target.url), '{}', options({ maxResponseBytes: 100_000 })));
    expect(error?.message).toBe('embedding endpoint "test" answered more than 100000 bytes; the answer was cut off');
    expect(written).toBeLessThan(64 * 1024 * 1024); // the server was stopped, not read to the end
  });

  it('refuses an answer whose declared length is over the cap before reading it', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': String(10_000_000) });
      res.write('x');
    };
    const error = await failure(boundedPost(new URL(target.url), '{}', options({ maxResponseBytes: 1000 })));
    expect(error?.message).toMatch(/answered more than 1000 bytes/);
  });

  it('keeps an error body out of the message, and keeps at most 2 KiB of it for the log', async () => {
    handler = (_req, res) => {
      res.writeHead(502);
      res.end(`upstream said: ${'s3cr3t '.repeat(10_000)}`);
    };
    const error = await failure(boundedPost(new URL(target.url), '{}', options()));
    expect(error?.message).toBe('embedding endpoint "test" answered HTTP 502');
    expect(error?.status).toBe(502);
    expect(error?.detail?.startsWith('upstream said: s3cr3t')).toBe(true);
    expect(error?.detail?.length).toBeLessThanOrEqual(2048);
  });

  it('gives up at the deadline', async () => {
    handler = () => undefined; // never answers
    const error = await failure(boundedPost(new URL(target.url), '{}', options({ timeoutMs: 100 })));
    expect(error?.message).toBe('embedding endpoint "test" did not answer within 100 ms');
  });

  describe('publicOnly (tenant-supplied URLs)', () => {
    const refusedTargets = (port: number) => [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`, `http://127.1:${port}`, `http://0x7f000001:${port}`, `http://[::ffff:127.0.0.1]:${port}`, `http://0.0.0.0:${port}`];

    it('never connects to a loopback address, however it is written', async () => {
      for (const url of refusedTargets(target.port)) {
        const error = await failure(boundedPost(new URL(url), '{}', options({ publicOnly: true })));
        expect(error).toBeInstanceOf(OutboundRequestError);
        expect(error?.message).toMatch(/(loopback|unspecified).* address; only public addresses may be reached/);
      }
      expect(target.seen).toHaveLength(0);
    });

    it('checks the address the name resolves to at connect time and connects to nothing else', async () => {
      const resolve = jest.fn(async () => [{ address: '127.0.0.1', family: 4 }]);
      const error = await failure(boundedPost(new URL(`http://embed.example:${target.port}`), '{}', options({ publicOnly: true, resolve })));
      expect(error?.message).toBe('embedding endpoint "test": embed.example resolves to 127.0.0.1, a loopback address; only public addresses may be reached');
      expect(resolve).toHaveBeenCalledWith('embed.example');
      expect(target.seen).toHaveLength(0);
    });

    it('refuses a name when any one of its addresses is not public', async () => {
      const resolve = async () => [
        { address: '93.184.216.34', family: 4 },
        { address: '169.254.169.254', family: 4 },
      ];
      await expect(resolvePublicAddresses('embed.example', 'e', resolve)).rejects.toThrow(/169\.254\.169\.254, a cloud metadata address/);
      await expect(resolvePublicAddresses('embed.example', 'e', async () => [])).rejects.toThrow('e: embed.example does not resolve');
      await expect(resolvePublicAddresses('[fd00::1]', 'e')).rejects.toThrow(/unique-local/);
      await expect(resolvePublicAddresses('0.0.0.0', 'e')).rejects.toThrow(/0\.0\.0\.0, an unspecified/);
      expect(await resolvePublicAddresses('embed.example', 'e', async () => [{ address: '2606:4700::1', family: 6 }])).toEqual([{ address: '2606:4700::1', family: 6 }]);
    });
  });
});
