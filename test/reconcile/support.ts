import { expect } from 'vitest';
import { decodeEvent } from '../../src/events/decodeEvent.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import type { ProjectionJson } from '../../src/projections/lifecycleView.js';
import { decide, type Decision, type Observations } from '../../src/reconcile/decide.js';
import type { ReconcileConfigInput } from '../../src/reconcile/reconcileConfig.js';
import { T0, foldView } from '../support/lifecycle.js';

export const SEC = 1;
export const MIN = 60;

/** ISO time `s` seconds after T0 (the same clock `ev({ at })` uses). */
export const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

export interface Outcome {
  decisions: Decision[];
  /** The projection the reconciler decided on. */
  before: ProjectionJson;
  /** The projection after its corrections were appended to the log. */
  after: ProjectionJson;
}

/**
 * Given events, when the reconciler observes `observations` at `now` (seconds after T0), then the
 * check runs on its decisions and on the projection with them appended. Every spec also checks
 * that each correction is a valid event (strict schema, zod uuid id), that the projection applies
 * it without an anomaly, and that deciding again on the corrected projection finds nothing.
 */
export const given = (...events: LifecycleEvent[]) => ({
  when: (now: number, observations: Observations = {}, given: ReconcileConfigInput = {}) => ({
    then: async (check: (o: Outcome) => void): Promise<Outcome> => {
      // The SPEC §4 rules are specified with suspicion (§7.3) off; its own specs turn it on.
      const config: ReconcileConfigInput = { suspectAfterMs: null, ...given };
      const before = await foldView(events);
      const decisions = decide(before, observations, at(now), config);
      for (const d of decisions) {
        const decoded = decodeEvent(d.event);
        expect(decoded.success, JSON.stringify(decoded)).toBe(true);
        // A lapsed lease is stamped at its expiry, as the fold ends it; every other correction at `now`.
        const stamp = d.rule === 'lease-expired' ? before.sessions[d.sessionId]!.leaseExpiresAt : at(now);
        expect(d.event.metadata).toMatchObject({ at: stamp, source: 'rollcall-reconciler', observed: { rule: d.rule } });
      }
      const after = await foldView([...events, ...decisions.map((d) => d.event)]);
      expect(after.anomalies.count).toBe(before.anomalies.count);
      expect(decide(after, observations, at(now), config)).toEqual([]);
      const outcome = { decisions, before, after };
      check(outcome);
      return outcome;
    },
  }),
});

/** A shorthand for "the reconciler leaves this alone". */
export const nothing = ({ decisions, before, after }: Outcome): void => {
  expect(decisions).toEqual([]);
  expect(after).toEqual(before);
};

/** The SPEC §4 rules alone: suspicion (SPEC §7.3, specified in liveness.test.ts) off. */
export const SPEC4 = { suspectAfterMs: null } as const;
