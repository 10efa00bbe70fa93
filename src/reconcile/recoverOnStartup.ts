import { createLifecycleProjection } from '../projections/lifecycleProjection.js';
import type { ProjectionJson } from '../projections/lifecycleView.js';
import { replayStore } from '../replay/replayLog.js';
import type { EventStore } from '../stores/eventStore.js';
import type { Decision } from './decide.js';
import { addMetrics, emptyMetrics, reconcileOnce, type ReconcileMetrics, type ReconcileOptions } from './reconciler.js';

export interface RecoverOptions extends Omit<ReconcileOptions, 'now'> {
  /** The time of the recovery (ISO). Default: the wall clock, read once per pass. */
  now?: string;
  /** Passes to try while other writers keep causing conflicts. Default 3. */
  maxPasses?: number;
}

export interface RecoverResult {
  /** The projection after the corrections: what the orchestrator should dispatch from. */
  view: ProjectionJson;
  /** Every correction appended during recovery. */
  appended: Decision[];
  metrics: ReconcileMetrics;
}

/**
 * Run at boot, before any work is dispatched: checks every live session against reality (the pid
 * of every starting/running/terminating session, stuck terminating, stuck starting), appends the
 * corrections, and returns the fresh view. Replaying the log afterwards gives the same answer, so a
 * process that died while the orchestrator was down is never resurrected (seed 002).
 *
 * The disconnect rule is off by default here: the log's connection states are from before the
 * restart, and agents cannot reconnect to an orchestrator that is down. Pass `disconnectGraceMs`
 * in `config` to turn it on.
 */
export const recoverOnStartup = async (store: EventStore, options: RecoverOptions = {}): Promise<RecoverResult> => {
  const { maxPasses = 3, now, ...rest } = options;
  const config = { disconnectGraceMs: null, ...rest.config };
  const metrics = emptyMetrics();
  const appended: Decision[] = [];
  for (let i = 0; i < maxPasses; i++) {
    const pass = await reconcileOnce(store, { ...rest, config, now: now ?? new Date().toISOString() });
    addMetrics(metrics, pass.metrics);
    appended.push(...pass.appended);
    // A conflict means someone else wrote to that agent meanwhile: decide again on the new state.
    if (pass.conflicts.length === 0) break;
  }
  const projection = createLifecycleProjection(rest.retentionMs === undefined ? {} : { retentionMs: rest.retentionMs });
  const { state } = await replayStore(store, projection, { skipInvalid: rest.skipInvalid ?? false });
  return { view: projection.view(state), appended, metrics };
};
