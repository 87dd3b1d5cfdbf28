import { CubeRecord } from '@engram/persistence';
import { SearchResultDto } from '../dtos/memory.dto';
import { AccessRecorder } from '../memories/access-recorder';
import { SearchService } from '../memories/search.service';
import { ChatRetrieval } from './chat-retrieval';

/** A strict mock: calling anything that was not stubbed fails the test. */
function strictMock<T extends object>(stubs: Partial<Record<keyof T, unknown>>): T {
  return new Proxy(stubs as T, {
    get: (target, prop) => {
      if (prop in target) return (target as Record<string | symbol, unknown>)[prop];
      if (prop === 'then') return undefined;
      throw new Error(`unexpected call: ${String(prop)}`);
    },
  });
}

const cube = { id: 'c1', tenantId: 't' } as CubeRecord;
const hit = (id: string, text: string) => ({ id, text }) as SearchResultDto;

describe('ChatRetrieval', () => {
  it('skips a memory too long for the room left without tokenizing it, and still takes a shorter one after it', async () => {
    const long = 'alice lisbon tea '.repeat(2000); // 34,000 characters: at least 2,834 tokens at 12 characters a token
    const search = strictMock<SearchService>({ searchCube: jest.fn().mockResolvedValue([hit('m1', long), hit('m2', 'Alice moved to Lisbon')]) });
    const record = jest.fn();
    const retrieval = new ChatRetrieval(search, strictMock<AccessRecorder>({ record }));
    const countTokens = jest.fn((text: string) => Math.ceil(text.length / 4));
    const budget = { countTokens, fewestTokens: (text: string) => Math.ceil(text.length / 12), available: 1000 };
    const got = await retrieval.retrieve(cube, 1, [{ role: 'user', content: 'where does alice live?' }], { topK: 5 }, budget, new Set());
    expect(got.memoryIds).toEqual(['m2']);
    expect(got.message).toContain('- Alice moved to Lisbon');
    expect(countTokens.mock.calls.map(([text]) => text.length).filter((n) => n > 1000)).toEqual([]);
    expect(record).toHaveBeenCalledWith(['m2']);
  });
});
