import { effectivePolicy } from './lifecycle-policy';
import { pairKey, PlanMemory, planChanges, planSweep } from './lifecycle.planner';
import { factKey } from './fact-triple';

let label = 0;
function memory(overrides: Partial<PlanMemory> = {}): PlanMemory {
  label += 1;
  const createdAt = overrides.createdAt ?? new Date(Date.UTC(2024, 0, 1, 0, 0, label));
  return {
    id: `m${label}`,
    label,
    text: 'text',
    kind: 'fact',
    role: null,
    tags: [],
    state: 'active',
    pinned: false,
    version: 1,
    createdAt,
    updatedAt: createdAt,
    observedAt: null,
    validFrom: null,
    expiresAt: null,
    lastAccessedAt: null,
    restoredAt: null,
    factKey: null,
    factPredicate: null,
    factObject: null,
    ...overrides,
  };
}

const fact = (subject: string, predicate: string, object: string, validFrom: string, extra: Partial<PlanMemory> = {}) =>
  memory({ text: `${subject} ${predicate} ${object}`, factKey: factKey({ subject, predicate }), factPredicate: predicate, factObject: object, validFrom: new Date(validFrom), ...extra });

describe('lifecycle planner', () => {
  const policy = effectivePolicy([]);

  it('merges the newer duplicate into the older memory and records the versions it saw', () => {
    const a = memory({ text: 'Alice moved to Lisbon in 2021' });
    const b = memory({ text: 'in 2021, alice moved to lisbon', version: 3 });
    const actions = planChanges({ policy, changed: [b], neighbours: new Map([[b.id, [a, b]]]), factPeers: new Map() });
    expect(actions).toEqual([expect.objectContaining({ type: 'merge', memoryIds: [b.id], targetId: a.id, versions: { [b.id]: 3, [a.id]: 1 } })]);
  });

  it('does not merge a hard negative, a pinned memory, or across kinds', () => {
    const a = memory({ text: 'Alice moved to Lisbon in 2021' });
    const b = memory({ text: 'Alice moved to Berlin in 2021' });
    const pinned = memory({ text: 'Alice moved to Lisbon in 2021', pinned: true });
    const episode = memory({ text: 'Alice moved to Lisbon in 2021', kind: 'episode' });
    const actions = planChanges({ policy, changed: [b, pinned, episode], neighbours: new Map([[b.id, [a]], [pinned.id, [a]], [episode.id, [a]]]), factPeers: new Map() });
    expect(actions).toEqual([]);
  });

  it('does not merge a memory a person restored back into a partner it already had', () => {
    const a = memory({ text: 'Alice moved to Lisbon in 2021' });
    const b = memory({ text: 'Alice moved to Lisbon in 2021', restoredAt: new Date(Date.UTC(2025, 0, 1)) });
    expect(planChanges({ policy, changed: [b], neighbours: new Map([[b.id, [a]]]), factPeers: new Map() })).toEqual([]);
  });

  it('supersedes the older fact with the same subject and predicate, not a multi-valued one', () => {
    const old = fact('Alice', 'lives in', 'Lisbon', '2021-01-01');
    const current = fact(' alice ', 'Lives  in', 'Berlin', '2023-01-01');
    const peers = new Map([[old.factKey!, [current, old]]]);
    const actions = planChanges({ policy, changed: [current], neighbours: new Map(), factPeers: peers });
    expect(actions).toEqual([expect.objectContaining({ type: 'supersede', memoryIds: [old.id], targetId: current.id })]);
    expect(actions[0].reason.validTo).toBe('2023-01-01T00:00:00.000Z');
    const multi = effectivePolicy([{ invalidation: { multiValued: ['LIVES IN'] } }]);
    expect(planChanges({ policy: multi, changed: [current], neighbours: new Map(), factPeers: peers })).toEqual([]);
  });

  it('in llm mode supersedes on an update and merges a duplicate by the verdicts it is given', () => {
    const llm = effectivePolicy([{ fusion: { mode: 'llm' } }]);
    const job = memory({ text: 'Kai works at Globex' });
    const tea = memory({ text: 'Kai likes green tea' });
    const newJob = memory({ text: 'Kai works at Initech now' });
    const sameTea = memory({ text: 'Kai really enjoys green tea' });
    const verdicts = new Map([
      [pairKey(newJob.id, job.id), { relation: 'update' as const, mergedText: null }],
      [pairKey(sameTea.id, tea.id), { relation: 'duplicate' as const, mergedText: 'Kai likes green tea' }],
    ]);
    const actions = planChanges({ policy: llm, changed: [newJob, sameTea], neighbours: new Map([[newJob.id, [job, tea]], [sameTea.id, [tea, job]]]), factPeers: new Map(), verdicts });
    expect(actions.map((a) => [a.type, a.memoryIds[0], a.targetId, a.reason.policy])).toEqual([
      ['supersede', job.id, newJob.id, 'fusion.llm'],
      ['merge', sameTea.id, tea.id, 'fusion.llm'],
    ]);
  });

  it('expires by explicit time, kind and tag TTL, and archives idle memories; pinned ones stay', () => {
    const now = Date.UTC(2024, 6, 1);
    const p = effectivePolicy([{ ttl: { byKind: { message: 30 }, byTag: { temp: 1 } }, archiveAfterIdleDays: 90 }]);
    const explicit = memory({ expiresAt: new Date(now - 1) });
    const message = memory({ kind: 'message' });
    const tagged = memory({ tags: ['temp'], createdAt: new Date(now - 2 * 86_400_000) });
    const idle = memory({ createdAt: new Date(now - 100 * 86_400_000) });
    const fresh = memory({ createdAt: new Date(now - 86_400_000) });
    const pinned = memory({ kind: 'message', pinned: true });
    const actions = planSweep([explicit, message, tagged, idle, fresh, pinned], p, now);
    expect(actions.map((a) => [a.type, a.memoryIds[0], a.reason.rule])).toEqual([
      ['expire', explicit.id, 'expiresAt'],
      ['expire', message.id, 'ttl.byKind.message'],
      ['expire', tagged.id, 'ttl.byTag.temp'],
      ['archive', idle.id, 'idle'],
    ]);
  });
});
