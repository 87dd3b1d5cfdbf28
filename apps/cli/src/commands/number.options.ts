import { InvalidArgumentError } from 'commander';

// Option parsers for numbers: `Number("abc")` is NaN, which JSON sends as null and the
// server then ignores; commander reports an InvalidArgumentError as
// "option '--x <n>' argument 'abc' is invalid. <message>" and exits 1.

/** An integer from 1 to `max`. */
export const positiveInt =
  (max: number) =>
  (value: string): number => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`must be an integer from 1 to ${max}`);
    return n;
  };

/** A finite number from `min` to `max`. */
export const numberIn =
  (min: number, max: number) =>
  (value: string): number => {
    const n = value.trim() === '' ? NaN : Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`must be a number from ${min} to ${max}`);
    return n;
  };
