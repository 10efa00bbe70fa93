import type { Patch } from 'immer';
import type { RecordedEvent } from '../events/lifecycleEvents.js';
import type { Projection } from '../projections/defineProjection.js';
import { isLive, type LifecycleState } from '../projections/lifecycleState.js';
import type { EventStore } from '../stores/eventStore.js';
import { decodeStored } from './decodeStored.js';
import { applyEvent, applyItems } from './foldEvents.js';
import { isInvalid } from './replayItem.js';
import { replayStore } from './replayLog.js';

export interface Changed {
  pools: string[];
  agents: string[];
  sessions: string[];
}

export interface FollowUpdate {
  position: bigint;
  type: string;
  changed: Changed;
  state: LifecycleState;
}

/**
 * Which entities of the SPEC §3 view an event changed, from immer's patches plus what is derived:
 * a session changing liveness changes its agent's status and its pool's occupancy.
 */
export const changedBy = (before: LifecycleState, after: LifecycleState, patches: readonly Patch[]): Changed => {
  const pools = new Set<string>();
  const agents = new Set<string>();
  const sessions = new Set<string>();
  for (const p of patches) {
    const [root, id] = p.path as [string, string | undefined];
    if (id === undefined) continue;
    if (root === 'pools') pools.add(id);
    else if (root === 'agents') agents.add(id);
    else if (root === 'sessions') sessions.add(id);
  }
  for (const id of sessions) {
    const b = before.sessions.get(id);
    const a = after.sessions.get(id);
    const owner = a?.agentId ?? b?.agentId;
    if (owner !== undefined) agents.add(owner);
    if ((b !== undefined && isLive(b.state)) !== (a !== undefined && isLive(a.state))) {
      for (const poolId of [b?.poolId, a?.poolId]) if (poolId != null && after.pools.has(poolId)) pools.add(poolId);
    }
  }
  const sort = (s: Set<string>) => [...s].sort();
  return { pools: sort(pools), agents: sort(agents), sessions: sort(sessions) };
};

/**
 * Catches up on the log (silently, batched) up to `from` (default: the log's head when called), then
 * follows the store live and yields one update per event applied after it.
 */
export async function* followStore(
  store: EventStore,
  projection: Projection<LifecycleState, RecordedEvent>,
  options: { from?: bigint | null; signal?: AbortSignal; skipInvalid?: boolean } = {},
): AsyncGenerator<FollowUpdate> {
  const from = options.from ?? (await store.head()) ?? 0n;
  const caughtUp = await replayStore(store, projection, { until: from, skipInvalid: options.skipInvalid ?? false, noSnapshot: true });
  let state = caughtUp.state;
  const after = state.position;
  for await (const stored of store.subscribe({ after, ...(options.signal ? { signal: options.signal } : {}) })) {
    const item = decodeStored(stored);
    if (isInvalid(item)) {
      if (!options.skipInvalid) throw item.invalid;
      state = applyItems(projection, state, [item]);
      yield { position: item.position, type: item.type ?? 'invalid', changed: { pools: [], agents: [], sessions: [] }, state };
      continue;
    }
    const before = state;
    const { state: next, patches } = applyEvent(projection, state, item);
    state = next;
    yield { position: item.position, type: item.type, changed: changedBy(before, state, patches), state };
  }
}
