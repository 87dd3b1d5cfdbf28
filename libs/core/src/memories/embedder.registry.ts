import { Injectable } from '@nestjs/common';
import { Embedder, HashEmbedder } from '@engram/plaintext';
import { EngramError } from '../errors/engram.error';

/** A cube's embedder, as chosen in `settings.embedder` at creation. */
export type EmbedderSettings = { type: 'hash'; dimension: number };

export const DEFAULT_EMBEDDER: EmbedderSettings = { type: 'hash', dimension: 256 };

/** Reads and validates `settings.embedder`; throws a 400 naming the problem. */
export function parseEmbedderSettings(value: unknown): EmbedderSettings {
  if (value === undefined || value === null) return DEFAULT_EMBEDDER;
  const fail = (problem: string) => EngramError.validation([{ field: 'settings.embedder', problems: [problem] }]);
  if (typeof value === 'string') return parseEmbedderSettings({ type: value });
  if (typeof value !== 'object' || Array.isArray(value)) throw fail('settings.embedder must be an object such as { "type": "hash" }');
  const spec = value as Record<string, unknown>;
  switch (spec.type) {
    case 'hash': {
      const unknown = Object.keys(spec).filter((k) => !['type', 'dimension'].includes(k));
      if (unknown.length) throw fail(`unknown field(s) for the hash embedder: ${unknown.join(', ')}`);
      const dimension = spec.dimension ?? DEFAULT_EMBEDDER.dimension;
      if (!Number.isInteger(dimension) || (dimension as number) < 8 || (dimension as number) > 4096) {
        throw fail('settings.embedder.dimension must be an integer between 8 and 4096');
      }
      return { type: 'hash', dimension: dimension as number };
    }
    default:
      throw fail(`settings.embedder.type must be one of: hash (got ${JSON.stringify(spec.type)})`);
  }
}

/** One embedder instance per distinct settings; embedders are stateless and shared. */
@Injectable()
export class EmbedderRegistry {
  private readonly cache = new Map<string, Embedder>();

  forSettings(settings: Record<string, unknown>): Embedder {
    const spec = parseEmbedderSettings(settings.embedder);
    const key = JSON.stringify(spec);
    let embedder = this.cache.get(key);
    if (!embedder) {
      embedder = new HashEmbedder({ dimension: spec.dimension });
      this.cache.set(key, embedder);
    }
    return embedder;
  }
}
