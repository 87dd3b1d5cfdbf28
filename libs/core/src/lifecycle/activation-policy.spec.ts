import { EngramError } from '../errors/engram.error';
import { DEFAULT_ACTIVATION_POLICY } from './activation-policy';
import { effectivePolicy, parseLifecyclePolicy } from './lifecycle-policy';

describe('the activation section of a lifecycle policy', () => {
  it('is off by default and inherits field by field', () => {
    expect(effectivePolicy([]).activation).toEqual(DEFAULT_ACTIVATION_POLICY);
    expect(effectivePolicy([{ activation: { model: 'tiny', maxTokens: 512 } }, { activation: { debounceMs: 0 } }]).activation).toEqual({ model: 'tiny', maxTokens: 512, debounceMs: 0 });
    expect(effectivePolicy([{ activation: { model: 'tiny' } }, { activation: { model: null } }]).activation.model).toBeNull();
    expect(DEFAULT_ACTIVATION_POLICY.model).toBeNull();
  });

  it('parses a valid section and names every bad field', () => {
    expect(parseLifecyclePolicy({ activation: { model: 'tiny', maxTokens: 1024, debounceMs: 500 } })).toEqual({ activation: { model: 'tiny', maxTokens: 1024, debounceMs: 500 } });
    let error: unknown;
    try {
      parseLifecyclePolicy({ activation: { model: '', maxTokens: 8, debounceMs: -1, size: 3 } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EngramError);
    const fields = ((error as EngramError).details as { field: string }[]).map((p) => p.field).sort();
    expect(fields).toEqual(['activation.debounceMs', 'activation.maxTokens', 'activation.model', 'activation.size']);
    expect(() => parseLifecyclePolicy({ activation: 'tiny' })).toThrow(/activation must be/);
    expect(() => parseLifecyclePolicy({ activation: { maxTokens: 1.5 } })).toThrow(/activation.maxTokens/);
  });
});
