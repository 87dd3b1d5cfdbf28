import { analyseText, compareTexts } from './duplicate.rules';

const verdict = (a: string, b: string, threshold = 0.8) => compareTexts(analyseText(a), analyseText(b), threshold);

describe('rules-mode duplicate detection', () => {
  it.each([
    ['Alice moved to Lisbon in 2021.', 'In 2021, Alice moved to Lisbon'],
    ['Alice moved to Lisbon in 2021.', 'alice moved to lisbon in 2021'],
    ['Alice moved to Lisbon in 2021.', 'By the way, Alice moved to Lisbon in 2021!!'],
    ['I do not eat meat.', "Actually, I don't eat meat"],
  ])('merges "%s" and "%s" (same content after normalisation)', (a, b) => {
    expect(verdict(a, b)).toMatchObject({ duplicate: true, rule: 'same-content' });
  });

  it.each([
    ['Alice moved to Lisbon in 2021', 'Alice moved to Berlin in 2021'],
    ['Alice moved to Lisbon in 2021', 'Alice moved to Lisbon in 2022'],
    ['Alice moved to Lisbon in 2021', 'Bob moved to Lisbon in 2021'],
    ['The meeting is on Monday', 'The meeting is on Tuesday'],
    ['I like spicy food', 'I do not like spicy food'],
    ['I have two cats', 'I have three cats'],
    ['alice moved to lisbon', 'Alice moved to Lisbon in 2021'],
  ])('never merges "%s" and "%s" (a number, date, name or negation differs)', (a, b) => {
    expect(verdict(a, b).duplicate).toBe(false);
  });

  it('merges a contained text only above the threshold, naming the container', () => {
    const a = 'my sister works at the hospital downtown as a nurse on weekends';
    const b = 'my sister works at the big hospital downtown as a nurse on weekends';
    expect(verdict(a, b, 0.8)).toMatchObject({ duplicate: true, rule: 'containment', container: 'b' });
    expect(verdict(a, b, 0.95).duplicate).toBe(false);
  });
});
