import { extractEntities } from './entities';
import { EntityIndex } from './entity-index';

describe('extractEntities', () => {
  it('takes capitalised spans and their words, years and quoted titles', () => {
    const keys = extractEntities('He was coached by Pete Sampras in 1998 and earned the nickname "Pistol Pete" at the Bank of America.');
    expect(keys).toEqual(expect.arrayContaining(['pete sampras', 'sampras', '1998', 'pistol pete', 'bank of america', 'america']));
  });

  it('leaves out sentence openers, stop words, "I" and small numbers', () => {
    const keys = extractEntities('Yeah, I went there. The trip took 3 days. Thanks! It was fun.');
    expect(keys).toEqual([]);
  });

  it('keeps a name that opens a sentence, and folds possessives', () => {
    expect(extractEntities("Caroline's painting sold. Melanie liked it.")).toEqual(expect.arrayContaining(['caroline', 'melanie']));
  });
});

describe('EntityIndex', () => {
  function built(): EntityIndex {
    const index = new EntityIndex();
    index.add(0, 'Shirley Temple starred in Kiss and Tell');
    index.add(1, 'Shirley Temple Black was an ambassador to Ghana');
    index.add(2, 'Ghana won in 2010');
    return index;
  }
  const idOf = (index: EntityIndex, key: string): number => {
    for (let id = 0; ; id++) if (index.keyOf(id) === key) return id;
  };

  it('links the memories that name an entity, and forgets removed ones', () => {
    const index = built();
    const ghana = idOf(index, 'ghana');
    expect(index.slotsOf(ghana)).toEqual([1, 2]);
    expect(index.dfOf(ghana)).toBe(2);
    index.remove(1);
    expect(index.slotsOf(ghana)).toEqual([2]);
    expect(index.dfOf(ghana)).toBe(1);
    expect(index.idsOf(1).length).toBe(0);
    expect(index.size).toBe(2);
  });

  it('decodes what it encoded, removals included', () => {
    const index = built();
    index.remove(0);
    const decoded = EntityIndex.decode(index.encode());
    for (const key of ['temple', 'ghana', '2010', 'kiss']) {
      const id = idOf(index, key);
      expect(decoded.keyOf(id)).toBe(key);
      expect(decoded.slotsOf(id)).toEqual(index.slotsOf(id));
      expect(decoded.dfOf(id)).toBe(index.dfOf(id));
    }
    expect(decoded.size).toBe(2);
  });

  it('rejects bytes that are not an entity index, a truncated one and one naming unknown entities', () => {
    expect(() => EntityIndex.decode(Buffer.from('{"format":"engram-entities/1"}'))).toThrow('not an entity index');
    const bytes = built().encode();
    expect(() => EntityIndex.decode(bytes.subarray(0, bytes.length - 2))).toThrow('truncated');
    const bad = Buffer.from(bytes);
    bad.writeInt32LE(99_999, bad.length - 4); // the last slot's last id
    expect(() => EntityIndex.decode(bad)).toThrow('bad entities');
  });

  it('compacts after many removals without losing live links', () => {
    const index = new EntityIndex();
    for (let slot = 0; slot < 6000; slot++) index.add(slot, `Alpha Beta met Gamma${slot % 7} in ${1000 + (slot % 50)}`);
    for (let slot = 0; slot < 5990; slot++) index.remove(slot);
    const alpha = idOf(index, 'alpha');
    expect(index.slotsOf(alpha)).toEqual([5990, 5991, 5992, 5993, 5994, 5995, 5996, 5997, 5998, 5999]);
    expect(index.dfOf(alpha)).toBe(10);
  });
});
