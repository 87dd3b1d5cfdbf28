import type { MemoryState } from '@engram/persistence';
import { analyseText, AnalysedText, compareTexts } from './duplicate.rules';
import { normaliseFactPart } from './fact-triple';
import { LifecyclePolicy } from './lifecycle-policy';
import { schedulerMayApply } from './lifecycle-state.machine';

/**
 * The pure half of "plan, then apply": reads a snapshot of memories and a policy and
 * returns the actions to take, each with its reason. No I/O, no clock (time comes in).
 * A dry run is this planner alone; the executor applies each action in its own
 * transaction after re-checking every memory's version.
 */

/** What the planner needs to know of a memory. */
export interface PlanMemory {
  id: string;
  label: number;
  text: string;
  kind: string;
  role: string | null;
  tags: string[];
  state: MemoryState;
  pinned: boolean;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  observedAt: Date | null;
  validFrom: Date | null;
  expiresAt: Date | null;
  lastAccessedAt: Date | null;
  restoredAt: Date | null;
  factKey: string | null;
  factPredicate: string | null;
  factObject: string | null;
}

export type PlannedActionType = 'merge' | 'supersede' | 'expire' | 'archive';

export interface PlannedAction {
  type: PlannedActionType;
  /** The memories whose state changes (one per action). */
  memoryIds: string[];
  /** merge: the survivor; supersede: the newer fact. */
  targetId?: string;
  reason: Record<string, unknown> & { policy: string; rule: string };
  /** merge in LLM mode: the survivor's new text, the endpoint's merge of both (it says each detail once). */
  text?: string;
  /** The version of every memory involved when planned; the executor applies only if they still hold. */
  versions: Record<string, number>;
}

/** The snapshot of a fusion / invalidation pass over a batch of changed memories. */
export interface ChangePlanInput {
  policy: LifecyclePolicy;
  /** Memories changed since the last pass (any state; only active ones are acted on). */
  changed: PlanMemory[];
  /** Candidates from the cube's own index for each changed memory id. */
  neighbours: ReadonlyMap<string, PlanMemory[]>;
  /** Every active memory per fact key of the changed memories. */
  factPeers: ReadonlyMap<string, PlanMemory[]>;
  /** LLM mode: the endpoint's verdict per pair (pairKey(changed, neighbour)), gathered before planning. */
  verdicts?: ReadonlyMap<string, { relation: 'duplicate' | 'update' | 'contradiction' | 'independent'; mergedText: string | null }>;
}

/** The key of a (changed memory, neighbour) pair in `verdicts`. */
export const pairKey = (changed: string, neighbour: string) => `${changed}|${neighbour}`;

const time = (m: PlanMemory) => (m.validFrom ?? m.observedAt ?? m.createdAt).getTime();
const older = (a: PlanMemory, b: PlanMemory) => a.createdAt.getTime() - b.createdAt.getTime() || a.label - b.label;

/** A person's restore wins over partners the memory already had when it was restored. */
function heldByRestore(loser: PlanMemory, partner: PlanMemory): boolean {
  return loser.restoredAt !== null && partner.createdAt.getTime() <= loser.restoredAt.getTime();
}

export function planChanges(input: ChangePlanInput): PlannedAction[] {
  const actions: PlannedAction[] = [];
  const losing = new Set<string>();
  const surviving = new Set<string>();
  const { policy } = input;
  /** `loser` merges into or is superseded by `winner`; both are taken for the rest of the plan. */
  /** Survivors whose text an LLM merge of this plan rewrites: a second merge keeps that text (it was written from the first pair). */
  const rewritten = new Set<string>();
  const take = (type: 'merge' | 'supersede', loser: PlanMemory, winner: PlanMemory, reason: PlannedAction['reason'], text?: string) => {
    losing.add(loser.id);
    surviving.add(winner.id);
    const rewrite = text !== undefined && text !== winner.text && !rewritten.has(winner.id);
    if (rewrite) rewritten.add(winner.id);
    actions.push({ type, memoryIds: [loser.id], targetId: winner.id, reason, ...(rewrite ? { text } : {}), versions: { [loser.id]: loser.version, [winner.id]: winner.version } });
  };

  if (policy.invalidation.enabled) {
    const multiValued = new Set(policy.invalidation.multiValued.map(normaliseFactPart));
    const keys = new Set(input.changed.filter((m) => m.state === 'active' && m.factKey !== null).map((m) => m.factKey!));
    for (const key of keys) {
      const peers = (input.factPeers.get(key) ?? []).filter((m) => m.state === 'active');
      if (peers.length < 2 || multiValued.has(normaliseFactPart(peers[0].factPredicate ?? ''))) continue;
      const ordered = [...peers].sort((a, b) => time(a) - time(b) || older(a, b));
      const newest = ordered[ordered.length - 1];
      for (let i = 0; i < ordered.length - 1; i++) {
        const stale = ordered[i];
        const next = ordered[i + 1];
        if (!schedulerMayApply(stale, 'supersede') || losing.has(stale.id) || heldByRestore(stale, next)) continue;
        // The same value stated again is no update: the older statement stays true.
        if (normaliseFactPart(stale.factObject ?? '') === normaliseFactPart(next.factObject ?? '')) continue;
        take('supersede', stale, next, { policy: 'invalidation', rule: 'same-subject-predicate', factKey: key, validTo: new Date(time(next)).toISOString(), current: newest.id });
      }
    }
  }

  if (policy.fusion.enabled) {
    const llm = policy.fusion.mode === 'llm';
    const analysed = new Map<string, AnalysedText>();
    const analyse = (m: PlanMemory) => {
      let a = analysed.get(m.id);
      if (!a) analysed.set(m.id, (a = analyseText(m.text)));
      return a;
    };
    for (const m of input.changed) {
      // Conversation turns (kind `message`) are a transcript, not knowledge: "Sure, done." said
      // on Monday and on Friday are two turns of two sessions, and merging them would take a
      // turn out of a session. Fusion dedupes what is known (facts, episodes, …), never turns.
      if (m.state !== 'active' || m.pinned || losing.has(m.id) || m.kind === 'message') continue;
      for (const c of input.neighbours.get(m.id) ?? []) {
        if (c.id === m.id || c.state !== 'active' || c.pinned || losing.has(c.id) || losing.has(m.id)) continue;
        if (c.kind !== m.kind || (c.role ?? null) !== (m.role ?? null)) continue;
        // Two structured facts that disagree are invalidation's business, never fusion's.
        if (m.factKey !== null && c.factKey !== null && (m.factKey !== c.factKey || normaliseFactPart(m.factObject ?? '') !== normaliseFactPart(c.factObject ?? ''))) continue;
        const verdict = compareTexts(analyse(m), analyse(c), policy.fusion.threshold);
        if (llm && !(verdict.duplicate && verdict.rule === 'same-content')) {
          const answer = input.verdicts?.get(pairKey(m.id, c.id));
          if (!answer || answer.relation === 'independent') continue;
          if (answer.relation === 'update' || answer.relation === 'contradiction') {
            // The newer statement wins; the older is superseded, not merged.
            const [stale, next] = time(m) < time(c) || (time(m) === time(c) && older(m, c) < 0) ? [m, c] : [c, m];
            if (surviving.has(stale.id) || losing.has(next.id) || heldByRestore(stale, next)) continue;
            take('supersede', stale, next, { policy: 'fusion.llm', rule: answer.relation, validTo: new Date(time(next)).toISOString() });
            continue;
          }
          // A duplicate by the LLM's word, still never across a changed number, date, name or negation.
          if (!verdict.duplicate && verdict.reason.startsWith('differs in')) continue;
          const survivor = older(m, c) <= 0 ? m : c;
          const loser = survivor === m ? c : m;
          if (surviving.has(loser.id) || heldByRestore(loser, survivor)) continue;
          take('merge', loser, survivor, { policy: 'fusion.llm', rule: 'duplicate' }, answer.mergedText ?? undefined);
          continue;
        }
        if (!verdict.duplicate) continue;
        // The survivor: the text that holds the other's words; else the older memory, whose id clients have had longest.
        let survivor = older(m, c) <= 0 ? m : c;
        if (verdict.container === 'a') survivor = m;
        if (verdict.container === 'b') survivor = c;
        const loser = survivor === m ? c : m;
        if (surviving.has(loser.id) || heldByRestore(loser, survivor)) continue;
        take('merge', loser, survivor, { policy: 'fusion.rules', rule: verdict.rule, similarity: Math.round(verdict.similarity * 1000) / 1000, threshold: policy.fusion.threshold });
      }
    }
  }
  return actions;
}

const DAY_MS = 86_400_000;

/** Time-based actions (TTL, idleness) for a batch of memories at `now`. */
export function planSweep(memories: PlanMemory[], policy: LifecyclePolicy, now: number): PlannedAction[] {
  const actions: PlannedAction[] = [];
  for (const m of memories) {
    if (!schedulerMayApply(m, 'expire')) continue;
    // A restore restarts the clocks.
    const born = Math.max(m.createdAt.getTime(), m.restoredAt?.getTime() ?? 0);
    let expiry: { at: number; rule: string } | null = null;
    if (m.expiresAt !== null && (m.restoredAt === null || m.expiresAt.getTime() > m.restoredAt.getTime())) expiry = { at: m.expiresAt.getTime(), rule: 'expiresAt' };
    const byKind = policy.ttl.byKind[m.kind];
    if (byKind !== undefined) {
      const at = born + byKind * DAY_MS;
      if (!expiry || at < expiry.at) expiry = { at, rule: `ttl.byKind.${m.kind}` };
    }
    for (const tag of m.tags) {
      const days = policy.ttl.byTag[tag];
      if (days === undefined) continue;
      const at = born + days * DAY_MS;
      if (!expiry || at < expiry.at) expiry = { at, rule: `ttl.byTag.${tag}` };
    }
    if (expiry && expiry.at <= now) {
      actions.push({ type: 'expire', memoryIds: [m.id], reason: { policy: 'ttl', rule: expiry.rule, expiredAt: new Date(expiry.at).toISOString() }, versions: { [m.id]: m.version } });
      continue;
    }
    if (policy.archiveAfterIdleDays !== null) {
      const lastUse = Math.max(m.lastAccessedAt?.getTime() ?? 0, m.updatedAt.getTime(), born);
      const idleDays = (now - lastUse) / DAY_MS;
      if (idleDays >= policy.archiveAfterIdleDays) {
        actions.push({
          type: 'archive',
          memoryIds: [m.id],
          reason: { policy: 'archiveAfterIdleDays', rule: 'idle', idleDays: Math.floor(idleDays), limit: policy.archiveAfterIdleDays },
          versions: { [m.id]: m.version },
        });
      }
    }
  }
  return actions;
}
