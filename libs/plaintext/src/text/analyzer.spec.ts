import { analyze, analyzeQuery, stem, suffixStem } from './analyzer';

describe('analyze', () => {
  it('lower-cases, drops stop words and punctuation', () => {
    expect(analyze("I'm going to the Farmers' Market!")).toEqual(['go', 'farmer', 'market']);
  });

  it('joins common word forms on one stem', () => {
    expect(stem('recipes')).toEqual(stem('recipe'));
    expect(stem('baking')).toEqual(stem('bake'));
    expect(stem('played')).toEqual(stem('play'));
    expect(stem('stories')).toEqual(stem('story'));
  });

  it('keeps apart words the suffix rules would join with a different word', () => {
    expect(stem('evening')).not.toEqual(stem('even'));
    expect(stem('evenings')).toEqual(stem('evening'));
    expect(stem('news')).not.toEqual(stem('new'));
    expect(stem('goods')).not.toEqual(stem('good'));
    // The hash embedder (v2) hashes the plain suffix stems: its stored vectors stay valid.
    expect(suffixStem('evening')).toEqual('even');
  });

  it('keeps numbers and non-Latin letters', () => {
    expect(analyze('Room 42 in Zürich, 東京')).toEqual(['room', '42', 'zürich', '東京']);
  });
});

describe('analyzeQuery', () => {
  it('drops the words that only frame a request', () => {
    expect(analyzeQuery('Can you suggest some tips for my sourdough?')).toEqual(['sourdough']);
    expect(analyzeQuery('Any useful accessories for my phone?')).toEqual(analyze('accessories phone'));
  });

  it('falls back to every term when nothing else is left', () => {
    expect(analyzeQuery('any tips?')).toEqual(analyze('any tips?'));
  });
});
