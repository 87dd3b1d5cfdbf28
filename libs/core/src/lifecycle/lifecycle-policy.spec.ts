import { EngramError } from '../errors/engram.error';
import { DEFAULT_LIFECYCLE_POLICY, effectivePolicy, parseLifecyclePolicy } from './lifecycle-policy';

describe('lifecycle policy', () => {
  it('inherits field by field: instance, then tenant, then cube', () => {
    const policy = effectivePolicy([
      { ttl: { byKind: { message: 30 } }, fusion: { threshold: 0.9 } },
      { ttl: { byTag: { temp: 1 } }, fusion: { enabled: false } },
      { ttl: { byKind: { message: null } }, archiveAfterIdleDays: 60 },
    ]);
    expect(policy).toEqual({
      ...DEFAULT_LIFECYCLE_POLICY,
      ttl: { byKind: {}, byTag: { temp: 1 } },
      archiveAfterIdleDays: 60,
      fusion: { enabled: false, mode: 'rules', threshold: 0.9 },
    });
  });

  it('names every bad field', () => {
    let error: unknown;
    try {
      parseLifecyclePolicy({ ttl: { byKind: { blob: 3, message: -1 } }, fusion: { mode: 'magic', threshold: 2 }, invalidation: { multiValued: 'x' }, surprise: 1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EngramError);
    const fields = ((error as EngramError).details as { field: string }[]).map((p) => p.field).sort();
    expect(fields).toEqual(['fusion.mode', 'fusion.threshold', 'invalidation.multiValued', 'surprise', 'ttl.byKind.blob', 'ttl.byKind.message']);
  });
});
