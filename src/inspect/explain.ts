import type { RecordedEvent } from '../events/lifecycleEvents.js';
import { explainAgentIn, explainPoolIn, type ExplainRules } from '../projections/explainState.js';
import type { LifecycleProjection } from '../projections/lifecycleProjection.js';
import type { LifecycleState } from '../projections/lifecycleState.js';
import type { AgentExplainJson, PoolExplainJson } from '../projections/viewJson.js';
import { applyItemsInPlace, type ReplaySource } from '../replay/foldEvents.js';
import { isDuplicate, isInvalid } from '../replay/replayItem.js';

// The answers' JSON is part of the wire format, written once beside the view's (the dashboard reads it).
export type { AgentExplainJson, HolderJson, LiveSince, PoolExplainJson, ReleasedBy } from '../projections/viewJson.js';
export { explainAgentIn, explainIn, explainPoolIn, releasedBy, type ExplainQuestion, type ExplainRules } from '../projections/explainState.js';

export interface ExplainOptions {
  rules: ExplainRules;
  /** The answer as of this position (inclusive) … */
  until?: bigint | null;
  /** … or as of this event time (inclusive). */
  asOf?: string | null;
}

/** Folds the log up to `until`/`asOf` (inclusive). */
const foldUntil = async (projection: LifecycleProjection, source: ReplaySource, options: ExplainOptions): Promise<LifecycleState> => {
  const state = projection.initialState();
  const until = options.until ?? null;
  const asOfMs = options.asOf == null ? null : Date.parse(options.asOf);
  outer: for await (const chunk of source) {
    for (const item of chunk) {
      if (isInvalid(item)) throw item.invalid;
      const event: RecordedEvent = isDuplicate(item) ? item.event : item;
      if (until !== null && event.position > until) break outer;
      if (asOfMs !== null && Date.parse(event.metadata.at) > asOfMs) break outer;
      applyItemsInPlace(projection, state, [item]);
    }
  }
  return state;
};

/** `explainPoolIn` of the log folded up to `options.until`/`asOf`. */
export const explainPool = async (projection: LifecycleProjection, source: ReplaySource, poolId: string, options: ExplainOptions): Promise<PoolExplainJson> =>
  explainPoolIn(await foldUntil(projection, source, options), poolId, options.rules);

/** `explainAgentIn` of the log folded up to `options.until`/`asOf`. */
export const explainAgent = async (projection: LifecycleProjection, source: ReplaySource, agentId: string, options: ExplainOptions): Promise<AgentExplainJson> =>
  explainAgentIn(await foldUntil(projection, source, options), agentId, options.rules);
