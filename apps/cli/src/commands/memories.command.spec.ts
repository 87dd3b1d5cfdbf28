import { EngramApiError, EngramValidationError } from '@engram/client';
import { atFileLines, parseMemoryLine } from './memories.command';

describe('memories import errors', () => {
  const lines = Array.from({ length: 100 }, (_, i) => 501 + i * 2); // a batch from a file with blank lines

  it("names the file line of the server's items.N, and what was stored before it", () => {
    const refused = new EngramValidationError(400, 'validation_failed', 'invalid request: items.49.kind: kind must be one of fact, episode', [
      { field: 'items.49.kind', problems: ['kind must be one of fact, episode'] },
      { field: 'items.3', problems: ['text must not be empty'] },
    ]);
    const error = atFileLines(refused, 'm.jsonl', lines, 500) as Error;
    expect(error.message).toBe(
      'validation_failed: m.jsonl:599 (kind): kind must be one of fact, episode, m.jsonl:507: text must not be empty\n' +
        '500 memories from the lines before it were stored; fix the line and run the same import again (they are not stored twice)',
    );
    expect((atFileLines(refused, 'm.jsonl', lines, 0) as Error).message).toMatch(/\nnothing was stored; fix the line and run the import again$/);
  });

  it('leaves other errors as they are', () => {
    const other = new EngramApiError(403, 'forbidden', 'key lacks memories:write');
    expect(atFileLines(other, 'm.jsonl', lines, 0)).toBe(other);
    const cubeField = new EngramValidationError(400, 'validation_failed', 'invalid', [{ field: 'cubeId', problems: ['bad'] }]);
    expect(atFileLines(cubeField, 'm.jsonl', lines, 0)).toBe(cubeField);
  });

  it('reads a line as a string or an object with text, and names a bad one', () => {
    expect(parseMemoryLine('"hi"', 1)).toEqual({ text: 'hi' });
    expect(parseMemoryLine('{"text":"hi","kind":"fact"}', 2)).toEqual({ text: 'hi', kind: 'fact' });
    expect(() => parseMemoryLine('{nope', 3)).toThrow('line 3: not JSON');
    expect(() => parseMemoryLine('[1]', 4)).toThrow('line 4: expected a JSON string or an object with "text"');
  });
});
