import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Response } from 'express';

/** Where `npm run build` puts the dashboard: beside the compiled server, or under dist/ when running from source (tests). */
const CANDIDATES = [path.resolve(__dirname, '../../../../ui'), path.resolve(__dirname, '../../../../dist/ui')];

/**
 * Serves the dashboard's static build at /ui (packages/dashboard, ADR 0503). Everything is
 * same-origin: the CSP allows no other host, so nothing loads from a CDN.
 */
export function serveDashboard(app: NestExpressApplication): boolean {
  const dir = CANDIDATES.find((candidate) => fs.existsSync(path.join(candidate, 'index.html')));
  if (!dir) return false;
  app.useStaticAssets(dir, {
    prefix: '/ui',
    index: 'index.html',
    setHeaders: (res: Response) => {
      res.setHeader('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'");
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Cache-Control', 'no-cache');
    },
  });
  return true;
}
