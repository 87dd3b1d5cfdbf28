import { Writable } from 'node:stream';
import { countProgress, renderTable } from './table';

describe('renderTable', () => {
  it('aligns columns under upper-case headers and cuts the last one to the width', () => {
    const text = renderTable([{ id: 'a', text: 'short' }, { id: 'bbbb', text: 'x'.repeat(50) }], ['id', 'text'], 20);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('ID    TEXT');
    expect(lines[1]).toBe('a     short');
    expect(lines[2]).toBe(`bbbb  ${'x'.repeat(13)}…`);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(20);
  });

  it('shows lists joined, objects as JSON, missing values empty, and says when there are no rows', () => {
    expect(renderTable([{ tags: ['a', 'b'], m: { k: 1 } }], ['tags', 'm', 'none'])).toBe('TAGS  M        NONE\na,b   {"k":1}\n');
    expect(renderTable([], ['id'])).toBe('(none)\n');
  });
});

describe('countProgress', () => {
  it('draws the final state and ends the line', () => {
    let written = '';
    const out = new Writable({ write: (chunk, _e, done) => ((written += String(chunk)), done()) });
    const bar = countProgress('import', 4, out);
    bar.update(4);
    bar.end();
    expect(written).toBe(`\rimport [${'#'.repeat(30)}] 100% 4/4\n`);
  });
});
