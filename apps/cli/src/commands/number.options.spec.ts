import { InvalidArgumentError } from 'commander';
import { numberIn, positiveInt } from './number.options';

describe('numeric option parsers', () => {
  it('takes integers in range and refuses junk, fractions and out-of-range values', () => {
    const topK = positiveInt(50);
    expect(topK('5')).toBe(5);
    for (const junk of ['abc', '', ' ', '2.5', '0', '51', '1e1', '0x10', '-3']) expect(() => topK(junk)).toThrow(InvalidArgumentError);
    expect(() => topK('abc')).toThrow('must be an integer from 1 to 50');
  });

  it('takes finite numbers in range and refuses junk', () => {
    const temperature = numberIn(0, 2);
    expect(temperature('0')).toBe(0);
    expect(temperature('0.7')).toBe(0.7);
    for (const junk of ['abc', '', ' ', 'NaN', 'Infinity', '-0.1', '2.01']) expect(() => temperature(junk)).toThrow(InvalidArgumentError);
    expect(() => temperature('abc')).toThrow('must be a number from 0 to 2');
  });
});
