import { hostname } from 'node:os';
import { isRollcallError } from '../errors.js';
import { streamOf } from '../events/lifecycleEvents.js';
import { groupCommitFor } from '../ingest/groupCommit.js';
import { createLifecycleProjection } from '../projections/lifecycleProjection.js';
import { isLive } from '../projections/lifecycleState.js';
import type { ProjectionJson } from '../projections/lifecycleView.js';
import { replayStore } from '../replay/replayLog.js';
import type { EventStore, ExpectedRevision } from '../stores/eventStore.js';
import { pause } from '../stores/pause.js';
import { decide, pidFactOf, type Decision, type Observations } from './decide.js';
import { observeProcesses } from './observeProcesses.js';
import { reconcileRules, type ReconcileConfigInput, type ReconcileRule } from './reconcileConfig.js';
import { instruments } from '../telemetry/instruments.js';
import { storeKind, traced } from '../telemetry/traced.js';

/**
 * Gathers the facts `decide` needs; it is handed the view so it knows which pids and agents to look
 * at, and the host it runs for (its pid facts are about that host: say so in `Observations.host`).
 */
export type Observer = (view: ProjectionJson, context: { host: string }) => Observations | Promise<Observations>;

export interface ReconcileOptions {
  /** Default: `observeProcesses`, the pid check of every live session on this host. */
  observe?: Observer;
  /** The host this reconciler checks pids on (SPEC §4). Default: `os.hostname()`. */
  host?: string;
  /** The time of the pass (ISO). Default: the wall clock. */
  now?: string;
  config?: ReconcileConfigInput;
  /** The projection's retention window (default 24 h); must match other readers' to share snapshots. */
  retentionMs?: number;
  /**
   * Append with the agent stream's revision as of the replay (default true), so a correction
   * decided on stale state fails instead of landing after something newer.
   */
  fenceRevision?: boolean;
  /** Replay past undecodable stored events (recorded as anomalies) instead of failing the pass. */
  skipInvalid?: boolean;
}

/** Counts kept per pass and, by `runReconciler`, cumulatively. */
export interface ReconcileMetrics {
  passes: number;
  /** Corrections decided (appended, already stored, or lost to a conflict). */
  decided: number;
  /** Corrections appended, by rule. */
  corrections: Record<ReconcileRule, number>;
  appended: number;
  /** Corrections whose id was already in the store: another reconciler appended the same one. */
  alreadyStored: number;
  /** Corrections not appended because the agent's stream moved on (`wrong-expected-revision`): re-decided next pass. */
  conflicts: number;
  /** Live sessions on this host whose pid could not be checked (no rule fired on them). */
  unchecked: number;
}

/** A live session on this host whose pid the observer could not check: reported, never assumed alive or dead. */
export interface UncheckedPid {
  agentId: string;
  sessionId: string;
  pid: number;
  detail: string;
}

export interface ReconcilePass {
  /** The projection position the decisions were made on. */
  position: string | null;
  /** The view the decisions were made on (before the corrections). */
  view: ProjectionJson;
  observations: Observations;
  decisions: Decision[];
  appended: Decision[];
  alreadyStored: Decision[];
  conflicts: Decision[];
  unchecked: UncheckedPid[];
  metrics: ReconcileMetrics;
}

export const emptyMetrics = (): ReconcileMetrics => ({
  passes: 0,
  decided: 0,
  corrections: Object.fromEntries(reconcileRules.map((r) => [r, 0])) as Record<ReconcileRule, number>,
  appended: 0,
  alreadyStored: 0,
  conflicts: 0,
  unchecked: 0,
});

/** Adds `b` into `a` (cumulative metrics). */
export const addMetrics = (a: ReconcileMetrics, b: ReconcileMetrics): ReconcileMetrics => {
  a.passes += b.passes;
  a.decided += b.decided;
  for (const r of reconcileRules) a.corrections[r] += b.corrections[r];
  a.appended += b.appended;
  a.alreadyStored += b.alreadyStored;
  a.conflicts += b.conflicts;
  a.unchecked += b.unchecked;
  return a;
};

/** The stream's revision as of `position` (what the replay saw), or 'no-stream'. */
const revisionAt = async (store: EventStore, stream: string, position: bigint): Promise<ExpectedRevision> => {
  let revision: ExpectedRevision = 'no-stream';
  for await (const e of store.readStream(stream)) {
    if (e.position > position) break;
    revision = e.revision;
  }
  return revision;
};

/**
 * One reconcile pass: replay the projection, observe, decide, append. Corrections have
 * deterministic ids and are appended per agent stream with the revision the replay saw, so a pass
 * racing another reconciler (or a live writer) never doubles a correction and never lands one on
 * newer state; a conflict is counted and left to the next pass.
 */
export const reconcileOnce = (store: EventStore, options: ReconcileOptions = {}): Promise<ReconcilePass> =>
  // One `rollcall.reconcile` span per pass (its replay and appends are its children), counted in
  // `rollcall.reconcile.passes`; the corrections appended in `rollcall.reconcile.corrections` by rule.
  traced(
    'rollcall.reconcile',
    {
      attributes: { 'rollcall.store.kind': storeKind(store.url) },
      onEnd: (failure) => instruments().reconcilePasses.add(1, failure === null ? {} : { 'error.type': failure }),
    },
    async (span) => {
      const pass = await reconcilePass(store, options);
      const m = pass.metrics;
      span.setAttributes({
        'rollcall.reconcile.actions': m.decided,
        'rollcall.reconcile.appended': m.appended,
        'rollcall.reconcile.already_stored': m.alreadyStored,
        'rollcall.reconcile.conflicts': m.conflicts,
        'rollcall.reconcile.unchecked': m.unchecked,
      });
      if (pass.position !== null) span.setAttribute('rollcall.position.last', Number(pass.position));
      for (const rule of reconcileRules) if (m.corrections[rule] > 0) instruments().reconcileCorrections.add(m.corrections[rule], { 'rollcall.reconcile.rule': rule });
      return pass;
    },
  );

const reconcilePass = async (store: EventStore, options: ReconcileOptions): Promise<ReconcilePass> => {
  const projection = createLifecycleProjection(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs });
  const { state } = await replayStore(store, projection, { skipInvalid: options.skipInvalid ?? false });
  const view = projection.view(state);
  const host = options.host ?? hostname();
  const observations = await (options.observe ?? ((v) => observeProcesses(v, { host })))(view, { host });
  const decisions = decide(view, observations, options.now ?? new Date().toISOString(), options.config);

  const unchecked: UncheckedPid[] = [];
  for (const s of Object.values(view.sessions)) {
    const fact = isLive(s.state) ? pidFactOf(s, observations) : undefined;
    if (fact !== undefined && fact.alive === null) unchecked.push({ agentId: s.agentId, sessionId: s.sessionId, pid: s.pid!, detail: fact.detail ?? 'cannot check' });
  }
  const metrics = emptyMetrics();
  metrics.passes = 1;
  metrics.decided = decisions.length;
  metrics.unchecked = unchecked.length;
  const pass: ReconcilePass = { position: view.position, view, observations, decisions, appended: [], alreadyStored: [], conflicts: [], unchecked, metrics };
  if (decisions.length === 0 || view.position === null) return pass;

  const position = BigInt(view.position);
  const fence = options.fenceRevision ?? true;
  const appends = groupCommitFor(store);
  // Lapsed leases first: each is stamped at its expiry, the others at `now`. Were one of those
  // stored before it, the fold's clock would pass the expiry there and end the session itself,
  // leaving this end a redundant `invalid-transition`.
  const phases = [decisions.filter((d) => d.rule === 'lease-expired'), decisions.filter((d) => d.rule !== 'lease-expired')];
  const nextExpected = new Map<string, ExpectedRevision>();
  const conflicted = new Set<string>();
  for (const phase of phases) {
    const byStream = new Map<string, Decision[]>();
    for (const d of phase) {
      const stream = streamOf(d.event);
      const list = byStream.get(stream);
      if (list === undefined) byStream.set(stream, [d]);
      else list.push(d);
    }
    // Streams are appended to concurrently, so that one pass's corrections share group commits;
    // within a stream one event per append, so each correction is known to be appended or already stored.
    const perStream = await Promise.all(
      [...byStream].map(async ([stream, group]) => {
        const done = { appended: [] as Decision[], alreadyStored: [] as Decision[], conflicts: [] as Decision[] };
        if (conflicted.has(stream)) {
          done.conflicts.push(...group);
          return done;
        }
        let expected: ExpectedRevision = fence ? (nextExpected.get(stream) ?? (await revisionAt(store, stream, position))) : 'any';
        for (let i = 0; i < group.length; i++) {
          const d = group[i]!;
          try {
            const result = await appends.appendToStream(stream, [d.event], { expectedRevision: expected });
            (result.appended > 0 ? done.appended : done.alreadyStored).push(d);
            if (fence) expected = result.nextExpectedRevision;
          } catch (error) {
            if (!isRollcallError(error) || error.code !== 'wrong-expected-revision') throw error;
            // Someone else acted on this agent since the replay: what we decided may be stale.
            done.conflicts.push(...group.slice(i));
            conflicted.add(stream);
            break;
          }
        }
        nextExpected.set(stream, expected);
        return done;
      }),
    );
    for (const done of perStream) {
      pass.appended.push(...done.appended);
      pass.alreadyStored.push(...done.alreadyStored);
      pass.conflicts.push(...done.conflicts);
      for (const d of done.appended) metrics.corrections[d.rule]++;
    }
  }
  metrics.appended = pass.appended.length;
  metrics.alreadyStored = pass.alreadyStored.length;
  metrics.conflicts = pass.conflicts.length;
  return pass;
};

export interface RunReconcilerOptions extends Omit<ReconcileOptions, 'now'> {
  /** Pause between the end of one pass and the start of the next. */
  everyMs: number;
  /** Stops the loop (after the pass in flight). */
  signal?: AbortSignal;
  /** The time of each pass (ISO). Default: the wall clock. */
  clock?: () => string;
  /** Called after every pass with that pass and the cumulative metrics. */
  onPass?: (pass: ReconcilePass, total: ReconcileMetrics) => void | Promise<void>;
  /** When given, a failed pass is reported here and the loop goes on; otherwise the error ends the loop. */
  onError?: (error: unknown) => void;
}

/** Runs `reconcileOnce` every `everyMs` until the signal aborts; returns the cumulative metrics. */
export const runReconciler = async (store: EventStore, options: RunReconcilerOptions): Promise<ReconcileMetrics> => {
  const { everyMs, signal, clock, onPass, onError, ...once } = options;
  const total = emptyMetrics();
  while (!signal?.aborted) {
    try {
      const pass = await reconcileOnce(store, { ...once, now: clock?.() ?? new Date().toISOString() });
      addMetrics(total, pass.metrics);
      await onPass?.(pass, total);
    } catch (error) {
      if (onError === undefined) throw error;
      onError(error);
    }
    await pause(everyMs, signal);
  }
  return total;
};
