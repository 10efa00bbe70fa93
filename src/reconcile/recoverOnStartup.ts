import { uuidBytes, uuidV5 } from '../events/eventId.js';
import type { LifecycleEvent } from '../events/lifecycleEvents.js';
import { isLive } from '../projections/lifecycleState.js';
import { createLifecycleProjection } from '../projections/lifecycleProjection.js';
import { CORRECTION_NAMESPACE } from './correctionId.js';
import { observeProcesses } from './observeProcesses.js';
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
  /**
   * The orchestrator on this host (re)started (SPEC §7.1): before anything else, append one
   * OrchestratorStarted with the host's next epoch, adopting its live sessions whose pid is seen
   * alive; every other live session of the host ends with it (orchestrator_restarted).
   */
  restartHost?: string;
}

export interface RecoverResult {
  /** The projection after the corrections: what the orchestrator should dispatch from. */
  view: ProjectionJson;
  /** Every correction appended during recovery. */
  appended: Decision[];
  /** The OrchestratorStarted appended for `restartHost` (null when not asked, or another recovery appended the same one). */
  restarted: LifecycleEvent | null;
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
  const config = { disconnectGraceMs: null, suspectAfterMs: null, ...rest.config };
  const metrics = emptyMetrics();
  const appended: Decision[] = [];
  const restarted = rest.restartHost === undefined ? null : await announceRestart(store, rest.restartHost, options, now ?? new Date().toISOString());
  for (let i = 0; i < maxPasses; i++) {
    const pass = await reconcileOnce(store, { ...rest, config, now: now ?? new Date().toISOString() });
    addMetrics(metrics, pass.metrics);
    appended.push(...pass.appended);
    // A conflict means someone else wrote to that agent meanwhile: decide again on the new state.
    if (pass.conflicts.length === 0) break;
  }
  const projection = createLifecycleProjection(rest.retentionMs === undefined ? {} : { retentionMs: rest.retentionMs });
  const { state } = await replayStore(store, projection, { skipInvalid: rest.skipInvalid ?? false });
  return { view: projection.view(state), appended, restarted, metrics };
};

const namespace = uuidBytes(CORRECTION_NAMESPACE);

/**
 * One OrchestratorStarted for `host`: epoch = the log's + 1, adopting the host's live sessions
 * whose pid the observer sees alive. Its id is a function of host and epoch, so reconcilers that
 * recover the same host at once append one event (the store's id idempotency keeps one); a
 * recovery that read an older epoch appends a stale one, which the projection ignores.
 */
const announceRestart = async (store: EventStore, host: string, options: RecoverOptions, now: string): Promise<LifecycleEvent | null> => {
  const projection = createLifecycleProjection(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs });
  const { state } = await replayStore(store, projection, { skipInvalid: options.skipInvalid ?? false });
  const view = projection.view(state);
  const epoch = (view.hosts[host]?.epoch ?? 0) + 1;
  const observations = await (options.observe ?? ((v) => observeProcesses(v, { host })))(view, { host });
  const adopted: Array<{ agentId: string; sessionId: string; pid: number }> = [];
  for (const s of Object.values(view.sessions)) {
    if (!isLive(s.state) || s.host !== host || s.pid === null) continue;
    if (observations.pids?.[s.pid]?.alive === true) adopted.push({ agentId: s.agentId, sessionId: s.sessionId, pid: s.pid });
  }
  const event = {
    id: uuidV5(`orchestrator-started/${host}/${epoch}`, namespace),
    type: 'OrchestratorStarted',
    data: adopted.length > 0 ? { host, epoch, adopted } : { host, epoch },
    metadata: { at: now, source: 'rollcall-reconciler', observed: { alive: adopted.map((a) => a.pid) } },
  } as LifecycleEvent;
  const result = await store.appendBatch([event]);
  return result.appended > 0 ? event : null;
};
