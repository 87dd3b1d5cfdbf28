import type { MemoryState } from '@engram/persistence';

/**
 * Every lifecycle transition of a memory, in one place. `deleted` is the only state a
 * person reaches by hand alone; the scheduler moves active memories to archived, expired,
 * merged or superseded, and `restore` brings any of them back to active.
 */
export type LifecycleAction = 'merge' | 'supersede' | 'expire' | 'archive' | 'delete' | 'restore';

const TARGET: Record<LifecycleAction, MemoryState> = {
  merge: 'merged',
  supersede: 'superseded',
  expire: 'expired',
  archive: 'archived',
  delete: 'deleted',
  restore: 'active',
};

const FROM: Record<LifecycleAction, readonly MemoryState[]> = {
  merge: ['active'],
  supersede: ['active'],
  expire: ['active'],
  archive: ['active'],
  delete: ['active', 'archived', 'expired', 'merged', 'superseded'],
  restore: ['archived', 'expired', 'merged', 'superseded', 'deleted'],
};

/** The states `action` may start from. */
export function sourceStates(action: LifecycleAction): readonly MemoryState[] {
  return FROM[action];
}

/** The state `action` leads to. */
export function targetState(action: LifecycleAction): MemoryState {
  return TARGET[action];
}

/** True when `action` may be applied to a memory in `state`. */
export function canTransition(state: MemoryState, action: LifecycleAction): boolean {
  return FROM[action].includes(state);
}

/** Actions the scheduler may take on its own; it never touches pinned memories. */
export function schedulerMayApply(memory: { state: MemoryState; pinned: boolean }, action: LifecycleAction): boolean {
  if (memory.pinned) return false;
  if (action === 'delete' || action === 'restore') return false;
  return canTransition(memory.state, action);
}
