import { RollcallError } from '../errors.js';

/** The reconciler's rules, in the order they take precedence on one session. */
export const reconcileRules = ['lease-expired', 'dead-pid', 'agent-disconnected', 'stuck-terminating', 'start-timeout', 'suspect'] as const;
export type ReconcileRule = (typeof reconcileRules)[number];

/**
 * What the reconciler corrects and after how long (SPEC §4). A threshold of `null` turns its rule
 * off; `pidCheck: false` turns off the dead-pid rule.
 */
export interface ReconcileConfig {
  /**
   * A live session whose lease (SPEC §7.2) the reconciler's clock has passed while the log stayed
   * quiet → SessionEnded "lease_expired", stamped at the expiry. Takes precedence over every rule.
   */
  leaseExpiry: boolean;
  /** A live session whose pid is observed dead → AgentCrashed with that pid. */
  pidCheck: boolean;
  /** A `terminating` session older than this whose agent is disconnected or gone → SessionEnded. */
  terminatingTimeoutMs: number | null;
  /** A `starting` session older than this → SessionStartFailed. */
  startingTimeoutMs: number | null;
  /** An agent absent (disconnected, not seen) longer than this with a starting/running session → AgentCrashed. */
  disconnectGraceMs: number | null;
  /**
   * SPEC §7.3: an agent with a live session and no sign of life for this long (or disconnected
   * within its grace, or with less than a fifth of its lease left) → AgentSuspected. A warning only.
   */
  suspectAfterMs: number | null;
  /** Reasons written into the correcting events. */
  reasons: {
    deadPid: string;
    agentDisconnected: string;
    stuckTerminating: string;
    startTimeout: string;
  };
}

/** SPEC §4 and §7 defaults (the rule table of `rollcall reconcile` in docs/cli.md): 10 min stuck, 30 s disconnected, 60 s silent. */
export const defaultReconcileConfig: ReconcileConfig = {
  leaseExpiry: true,
  pidCheck: true,
  terminatingTimeoutMs: 10 * 60_000,
  startingTimeoutMs: 10 * 60_000,
  disconnectGraceMs: 30_000,
  suspectAfterMs: 60_000,
  reasons: {
    deadPid: 'Process no longer alive (PID check)',
    agentDisconnected: 'agent_disconnected',
    stuckTerminating: 'agent_unavailable',
    startTimeout: 'start_timeout',
  },
};

/** A partial config as callers give it; `reasons` may be partial too. */
export type ReconcileConfigInput = Partial<Omit<ReconcileConfig, 'reasons'>> & { reasons?: Partial<ReconcileConfig['reasons']> };

const thresholds = ['terminatingTimeoutMs', 'startingTimeoutMs', 'disconnectGraceMs', 'suspectAfterMs'] as const;

/**
 * Fills a partial config with the defaults. A threshold is a finite number of milliseconds ≥ 0, or
 * null (the rule off): a negative one would fire at once, NaN would turn its rule off unseen.
 */
export const resolveReconcileConfig = (input: ReconcileConfigInput = {}): ReconcileConfig => {
  for (const name of thresholds) {
    const v = input[name];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new RollcallError('usage', `reconcile: ${name} must be a number of milliseconds ≥ 0, or null to turn the rule off; got ${String(v)}`);
    }
  }
  return {
    leaseExpiry: input.leaseExpiry ?? defaultReconcileConfig.leaseExpiry,
    pidCheck: input.pidCheck ?? defaultReconcileConfig.pidCheck,
    terminatingTimeoutMs: input.terminatingTimeoutMs === undefined ? defaultReconcileConfig.terminatingTimeoutMs : input.terminatingTimeoutMs,
    startingTimeoutMs: input.startingTimeoutMs === undefined ? defaultReconcileConfig.startingTimeoutMs : input.startingTimeoutMs,
    disconnectGraceMs: input.disconnectGraceMs === undefined ? defaultReconcileConfig.disconnectGraceMs : input.disconnectGraceMs,
    suspectAfterMs: input.suspectAfterMs === undefined ? defaultReconcileConfig.suspectAfterMs : input.suspectAfterMs,
    reasons: { ...defaultReconcileConfig.reasons, ...input.reasons },
  };
};
