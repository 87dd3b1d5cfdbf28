import type { ArchiveColumn } from '@engram/persistence';
import { checkColumns, checkMemoryLine, checkStorable, MemoryLineRules } from './archive-rows.validator';

const col = (name: string, udt: string, required = false): ArchiveColumn => ({ name, udt, required });
const RULES: MemoryLineRules = {
  memory: [col('text', 'text', true), col('kind', 'text'), col('tags', '_text'), col('metadata', 'jsonb'), col('importance', 'float4'), col('version', 'int4'), col('created_at', 'timestamptz'), col('valid_from', 'timestamptz'), col('valid_to', 'timestamptz')],
  version: [col('version', 'int4', true), col('action', 'text', true), col('actor_type', 'text', true), col('actor_id', 'uuid'), col('at', 'timestamptz')],
  maxMetadataBytes: 1024,
};
const at = 'memories.jsonl line 1';

describe('archive rows', () => {
  it('accepts a row as an export writes it and leaves its values as they are, microseconds included', () => {
    const memory = { id: 'm-1', text: 'Alice lives in Lisbon', kind: 'fact', tags: ['alice'], metadata: { topic: 'home' }, importance: 0.8, version: 2, created_at: '2024-03-01T10:00:00.123456+00:00', valid_from: null };
    const versions = [{ version: 1, action: 'create', actor_type: 'key', actor_id: 'not-a-uuid-it-is-dropped', at: '2024-03-01T10:00:00.123456+00:00' }];
    const copy = structuredClone(memory);
    expect(checkMemoryLine(memory, versions, at, RULES)).toEqual(versions);
    expect(memory).toEqual(copy);
  });

  it('writes a time without an offset as the UTC instant REST reads it', () => {
    const row: Record<string, unknown> = { created_at: '2024-03-01T10:00:00', valid_from: '2024-03-05' };
    checkColumns(row, RULES.memory.filter((c) => c.name !== 'text'), at, 'memory');
    expect(row).toEqual({ created_at: '2024-03-01T10:00:00.000Z', valid_from: '2024-03-05T00:00:00.000Z' });
  });

  it('refuses a lone surrogate but keeps a pair, in keys too', () => {
    expect(() => checkStorable({ a: 'paired 😀' }, at, 'memory')).not.toThrow();
    expect(() => checkStorable({ a: 'x\ud83d' }, at, 'memory')).toThrow('memories.jsonl line 1: memory.a must not contain a lone UTF-16 surrogate');
    expect(() => checkStorable({ ['k\udc00']: 1 }, at, 'memory')).toThrow('memories.jsonl line 1: memory must not have a key that contains a lone UTF-16 surrogate');
  });

  it('names a required column that is missing and a value of the wrong type', () => {
    expect(() => checkMemoryLine({ id: 'm', text: 'x' }, [{ version: 1, action: 'create' }], at, RULES)).toThrow('memories.jsonl line 1: versions[0].actor_type is required');
    expect(() => checkMemoryLine({ id: 'm', text: 'x', tags: ['a', null, 3] }, [], at, RULES)).toThrow('memories.jsonl line 1: memory.tags must be a list, and each item must be a string');
    expect(() => checkMemoryLine({ id: 'm', text: 'x', metadata: { big: 'x'.repeat(2000) } }, [], at, RULES)).toThrow('memory.metadata must be at most 1024 bytes');
  });
});
