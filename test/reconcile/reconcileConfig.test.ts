import { describe, expect, it } from 'vitest';
import { defaultReconcileConfig, reconcileRules, resolveReconcileConfig } from '../../src/reconcile/reconcileConfig.js';

// reconcileConfig only fills a partial config with the defaults: it parses and validates nothing
// (the CLI checks its flags before building the input). These pin what each option does.

const defaults = {
  leaseExpiry: true,
  pidCheck: true,
  terminatingTimeoutMs: 600_000,
  startingTimeoutMs: 600_000,
  disconnectGraceMs: 30_000,
  suspectAfterMs: 60_000,
  reasons: {
    deadPid: 'Process no longer alive (PID check)',
    agentDisconnected: 'agent_disconnected',
    stuckTerminating: 'agent_unavailable',
    startTimeout: 'start_timeout',
  },
};

describe('reconcile rules', () => {
  it('are the six rules, in the order they take precedence (a lapsed lease first, suspicion last)', () => {
    expect(reconcileRules).toEqual(['lease-expired', 'dead-pid', 'agent-disconnected', 'stuck-terminating', 'start-timeout', 'suspect']);
  });
});

describe('defaultReconcileConfig (SPEC §4, §7.2, §7.3)', () => {
  it('is 10 min terminating, 10 min starting, 30 s disconnect grace, 60 s suspect, pid check and lease expiry on, and the seed reasons', () => {
    expect(defaultReconcileConfig).toEqual(defaults);
  });
});

describe('resolveReconcileConfig', () => {
  it('with no input, or an empty one, is the defaults (a copy, not the shared object)', () => {
    expect(resolveReconcileConfig()).toEqual(defaults);
    expect(resolveReconcileConfig({})).toEqual(defaults);
    const resolved = resolveReconcileConfig({});
    expect(resolved).not.toBe(defaultReconcileConfig);
    expect(resolved.reasons).not.toBe(defaultReconcileConfig.reasons);
    resolved.reasons.deadPid = 'changed';
    expect(defaultReconcileConfig.reasons.deadPid).toBe('Process no longer alive (PID check)');
  });

  it('pidCheck: false turns the pid rule off; true keeps it on', () => {
    expect(resolveReconcileConfig({ pidCheck: false })).toEqual({ ...defaults, pidCheck: false });
    expect(resolveReconcileConfig({ pidCheck: true })).toEqual(defaults);
  });

  it('leaseExpiry: false turns the lease rule off', () => {
    expect(resolveReconcileConfig({ leaseExpiry: false })).toEqual({ ...defaults, leaseExpiry: false });
  });

  it.each(['terminatingTimeoutMs', 'startingTimeoutMs', 'disconnectGraceMs', 'suspectAfterMs'] as const)('%s: a number replaces the default, null turns the rule off, undefined keeps the default', (key) => {
    expect(resolveReconcileConfig({ [key]: 1234 })).toEqual({ ...defaults, [key]: 1234 });
    expect(resolveReconcileConfig({ [key]: 0 })).toEqual({ ...defaults, [key]: 0 });
    expect(resolveReconcileConfig({ [key]: null })).toEqual({ ...defaults, [key]: null });
    expect(resolveReconcileConfig({ [key]: undefined })).toEqual(defaults);
  });

  it('each threshold is independent of the others', () => {
    expect(resolveReconcileConfig({ terminatingTimeoutMs: 1, startingTimeoutMs: 2, disconnectGraceMs: 3, pidCheck: false })).toEqual({
      ...defaults, terminatingTimeoutMs: 1, startingTimeoutMs: 2, disconnectGraceMs: 3, pidCheck: false,
    });
  });

  it('reasons may be given in part: the rest keep their defaults', () => {
    expect(resolveReconcileConfig({ reasons: { deadPid: 'gone' } }).reasons).toEqual({ ...defaults.reasons, deadPid: 'gone' });
    expect(resolveReconcileConfig({ reasons: { startTimeout: 'slow', stuckTerminating: 'stuck' } }).reasons).toEqual({
      ...defaults.reasons, startTimeout: 'slow', stuckTerminating: 'stuck',
    });
    expect(resolveReconcileConfig({ reasons: {} }).reasons).toEqual(defaults.reasons);
    const all = { deadPid: 'a', agentDisconnected: 'b', stuckTerminating: 'c', startTimeout: 'd' };
    expect(resolveReconcileConfig({ reasons: all })).toEqual({ ...defaults, reasons: all });
  });

  it('takes any finite number of milliseconds ≥ 0, fractions included', () => {
    expect(resolveReconcileConfig({ disconnectGraceMs: 0, startingTimeoutMs: 1.5 })).toEqual({ ...defaults, disconnectGraceMs: 0, startingTimeoutMs: 1.5 });
  });

  it.each(['terminatingTimeoutMs', 'startingTimeoutMs', 'disconnectGraceMs', 'suspectAfterMs'] as const)('refuses a negative, NaN, infinite or non-number %s, naming it', (name) => {
    for (const [v, shown] of [[-1, '-1'], [-0.001, '-0.001'], [Number.NaN, 'NaN'], [Infinity, 'Infinity'], ['5', '5']] as const) {
      expect(() => resolveReconcileConfig({ [name]: v as number })).toThrow(
        expect.objectContaining({ code: 'usage', message: `reconcile: ${name} must be a number of milliseconds ≥ 0, or null to turn the rule off; got ${shown}` }),
      );
    }
  });
});
