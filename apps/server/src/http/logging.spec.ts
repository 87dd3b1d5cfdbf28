import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { createLogger, EngramLogger, requestLevel, requestLog } from './logging';

/** A pino destination that keeps the parsed lines. */
function capture(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

async function serve(level: 'debug' | 'info') {
  const out = capture();
  const logger = createLogger(level, false, out.stream);
  const app = express();
  app.use((req, _res, next) => {
    (req as unknown as { id: string }).id = 'req-1';
    next();
  });
  app.use(requestLog(logger));
  app.get('/ok', (_req, res) => void res.json({ ok: true }));
  app.get('/missing', (_req, res) => void res.status(404).json({ error: 'nope' }));
  app.get('/broken', (_req, res) => void res.status(500).json({ error: 'broken' }));
  app.get('/slow', (_req, res) => void setTimeout(() => res.headersSent || res.json({}), 2000));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { out, base, close: () => new Promise((resolve) => server.close(resolve)) };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('request log', () => {
  it('writes one line per request, at debug for success, info for 4xx, error for 5xx, without headers', async () => {
    const s = await serve('debug');
    try {
      await fetch(`${s.base}/ok?x=1`, { headers: { authorization: 'Bearer secret-token' } });
      await fetch(`${s.base}/missing`);
      await fetch(`${s.base}/broken`);
      await settle();
      expect(s.out.lines.map((l) => [l.level, (l.req as { url: string }).url, (l.res as { statusCode: number }).statusCode, l.msg])).toEqual([
        [20, '/ok?x=1', 200, 'request completed'],
        [30, '/missing', 404, 'request completed'],
        [50, '/broken', 500, 'request completed'],
      ]);
      expect(s.out.lines[0]).toMatchObject({ req: { id: 'req-1', method: 'GET' } });
      expect(typeof s.out.lines[0].responseTime).toBe('number');
      expect(JSON.stringify(s.out.lines)).not.toContain('secret-token');
    } finally {
      await s.close();
    }
  });

  it('leaves out the lines its level excludes: at info, successful requests write nothing', async () => {
    const s = await serve('info');
    try {
      await fetch(`${s.base}/ok`);
      await fetch(`${s.base}/missing`);
      await settle();
      expect(s.out.lines.map((l) => (l.res as { statusCode: number }).statusCode)).toEqual([404]);
    } finally {
      await s.close();
    }
  });

  it('logs a request the client gave up on as aborted', async () => {
    const s = await serve('debug');
    try {
      const controller = new AbortController();
      const pending = fetch(`${s.base}/slow`, { signal: controller.signal }).catch(() => null);
      await settle();
      controller.abort();
      await pending;
      for (let i = 0; i < 40 && s.out.lines.length === 0; i++) await settle();
      expect(s.out.lines).toHaveLength(1);
      expect(s.out.lines[0]).toMatchObject({ level: 30, msg: 'request aborted', req: { url: '/slow' } });
    } finally {
      await s.close();
    }
  });

  it('levels by status', () => {
    expect([200, 204, 301, 400, 404, 429, 500, 503].map(requestLevel)).toEqual(['debug', 'debug', 'debug', 'info', 'info', 'info', 'error', 'error']);
  });
});

describe('EngramLogger (Nest calls on pino)', () => {
  const logged = () => {
    const out = capture();
    return { out, logger: new EngramLogger(createLogger('debug', false, out.stream)) };
  };

  it('takes the last extra argument as the context, an object as fields and an Error as err', async () => {
    const { out, logger } = logged();
    logger.log('engram listening', 'Bootstrap');
    logger.warn({ errorId: 'e1', requestId: 'r1' }, 'slow answer', 'Errors');
    logger.error(new Error('disk full'), 'Jobs');
    logger.error('unhandled', 'Error: unhandled\n    at somewhere (file.ts:1:1)', 'ExceptionsHandler');
    logger.debug('plain');
    logger.verbose('dropped below debug');
    await settle();
    expect(out.lines.map((l) => [l.level, l.context, l.msg])).toEqual([
      [30, 'Bootstrap', 'engram listening'],
      [40, 'Errors', 'slow answer'],
      [50, 'Jobs', 'disk full'],
      [50, 'ExceptionsHandler', 'unhandled'],
      [20, undefined, 'plain'],
    ]);
    expect(out.lines[1]).toMatchObject({ errorId: 'e1', requestId: 'r1' });
    expect(out.lines[2]).toMatchObject({ err: { message: 'disk full', type: 'Error' } });
    expect((out.lines[3].err as { stack: string }).stack).toContain('at somewhere');
  });
});
