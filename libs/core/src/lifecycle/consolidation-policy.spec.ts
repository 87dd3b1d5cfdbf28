import { EngramError } from '../errors/engram.error';
import { DEFAULT_CONSOLIDATION_POLICY } from './consolidation-policy';
import { DEFAULT_LIFECYCLE_POLICY, effectivePolicy, parseLifecyclePolicy } from './lifecycle-policy';

const BANK = '22222222-2222-4222-8222-222222222222';

function fieldsOf(raw: unknown): string[] {
  try {
    parseLifecyclePolicy(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(EngramError);
    return ((e as EngramError).details as { field: string }[]).map((p) => p.field).sort();
  }
  return [];
}

describe('consolidation policy', () => {
  it('is off by default', () => {
    expect(DEFAULT_LIFECYCLE_POLICY.consolidation.bankId).toBeNull();
    expect(effectivePolicy([]).consolidation).toEqual(DEFAULT_CONSOLIDATION_POLICY);
  });

  it('inherits field by field, thresholds too, without changing the defaults', () => {
    const policy = effectivePolicy([{ consolidation: { minAccesses: 5, thresholds: { minRecall: 0.8 } } }, { consolidation: { bankId: BANK, thresholds: { maxPerplexityIncrease: 0.01 } } }]);
    expect(policy.consolidation).toEqual({ ...DEFAULT_CONSOLIDATION_POLICY, bankId: BANK, minAccesses: 5, thresholds: { minRecall: 0.8, maxPerplexityIncrease: 0.01 } });
    expect(DEFAULT_CONSOLIDATION_POLICY.thresholds).toEqual({ minRecall: 0.5, maxPerplexityIncrease: 0.05 });
  });

  it('parses a full section and lowers the bank id', () => {
    const raw = { consolidation: { bankId: BANK.toUpperCase(), minAccesses: 0, minAgeHours: 0.5, maxPerRun: 10, minRouteSimilarity: -1, thresholds: { minRecall: 1, maxPerplexityIncrease: 0 } } };
    expect(parseLifecyclePolicy(raw).consolidation).toEqual({ ...raw.consolidation, bankId: BANK });
    expect(parseLifecyclePolicy({ consolidation: { bankId: null } }).consolidation).toEqual({ bankId: null });
  });

  it('names every bad field', () => {
    expect(fieldsOf({ consolidation: 'yes' })).toEqual(['consolidation']);
    expect(
      fieldsOf({ consolidation: { bankId: 'bank-1', minAccesses: -1, minAgeHours: 'a day', maxPerRun: 0, minRouteSimilarity: 2, thresholds: { minRecall: 1.5, maxPerplexityIncrease: -0.1, recall: 1 }, epochs: 3 } }),
    ).toEqual([
      'consolidation.bankId',
      'consolidation.epochs',
      'consolidation.maxPerRun',
      'consolidation.minAccesses',
      'consolidation.minAgeHours',
      'consolidation.minRouteSimilarity',
      'consolidation.thresholds.maxPerplexityIncrease',
      'consolidation.thresholds.minRecall',
      'consolidation.thresholds.recall',
    ]);
    expect(fieldsOf({ consolidation: { thresholds: [] } })).toEqual(['consolidation.thresholds']);
  });
});
