import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { Decision } from '../../reconcile/decide.js';
import { reconcileRules, type ReconcileConfigInput } from '../../reconcile/reconcileConfig.js';
import { reconcileOnce, runReconciler, type ReconcileMetrics, type ReconcilePass } from '../../reconcile/reconciler.js';
import { recoverOnStartup, type RecoverResult } from '../../reconcile/recoverOnStartup.js';
import { maskUrl } from '../../stores/maskUrl.js';
import { defaultStoreUrl } from '../../stores/openStore.js';
import { EXIT, usageError, type CliIo } from '../cliIo.js';
import { counted } from '../counted.js';
import { parseIntervalSeconds, withStore } from '../options.js';
import type { Command } from './command.js';

/** A duration flag in seconds (fractions allowed), or `off` to turn its rule off. */
const seconds = (flag: string, value: string | undefined): number | null | undefined => {
  if (value === undefined) return undefined;
  if (value === 'off') return null;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw usageError(`${flag} must be a non-negative number of seconds or "off", got "${value}"`);
  return Math.round(n * 1000);
};

const reasonOf = (d: Decision): string => (d.event.data as { reason?: string }).reason ?? '';

/** One line per correction: rule, agent, session, reason (and the event that says it). */
const formatDecision = (d: Decision, prefix = ''): string =>
  `${prefix}${d.rule.padEnd(18)} agent=${d.agentId} session=${d.sessionId} reason=${JSON.stringify(reasonOf(d))} (${d.event.type})\n`;

const formatMetrics = (m: ReconcileMetrics): string => {
  const byRule = reconcileRules.filter((r) => m.corrections[r] > 0).map((r) => `${r} ${m.corrections[r]}`);
  return (
    `${counted(m.appended, 'correction')} appended` +
    (byRule.length ? ` (${byRule.join(', ')})` : '') +
    `, ${m.alreadyStored} already stored, ${counted(m.conflicts, 'conflict')}` +
    (m.conflicts > 0 ? ' (another writer moved those agents on; re-decided next pass)' : '') +
    (m.unchecked > 0 ? `, ${counted(m.unchecked, 'pid')} could not be checked` : '')
  );
};

/**
 * What a startup recovery (SPEC §7.1) did: the OrchestratorStarted it appended (or that another
 * recovery of the same host and epoch already had), then each correction.
 */
export const formatRecovery = (host: string, result: RecoverResult): string => {
  const epoch = result.view.hosts[host]?.epoch ?? null;
  const started = result.restarted;
  let out: string;
  if (started !== null && started.type === 'OrchestratorStarted') {
    const adopted = started.data.adopted ?? [];
    out =
      `${'orchestrator-started'.padEnd(18)} host=${host} epoch=${started.data.epoch} adopted=${adopted.length}` +
      (adopted.length > 0 ? ` (${adopted.map((a) => `${a.agentId}/${a.sessionId}${a.pid !== undefined ? ` pid ${a.pid}` : ''}`).join(', ')})` : '') +
      '\n';
  } else {
    out = `${'orchestrator-started'.padEnd(18)} host=${host} epoch=${epoch ?? 'none'} already announced by another recovery\n`;
  }
  for (const d of result.appended) out += formatDecision(d);
  return out + `recover: host ${host} at epoch ${epoch ?? 'none'}: ${formatMetrics(result.metrics)}\n`;
};

const printPass = (io: CliIo, pass: ReconcilePass, always: boolean) => {
  // A pid that could not be checked is reported every pass: it is neither assumed alive nor dead.
  for (const u of pass.unchecked) io.stdout.write(`${'unchecked pid'.padEnd(18)} agent=${u.agentId} session=${u.sessionId} pid=${u.pid} (${u.detail})\n`);
  for (const d of pass.appended) io.stdout.write(formatDecision(d));
  for (const d of pass.alreadyStored) io.stdout.write(formatDecision(d, 'already stored: '));
  for (const d of pass.conflicts) io.stdout.write(formatDecision(d, 'conflict, not appended: '));
  if (always || pass.decisions.length > 0) {
    io.stdout.write(`reconcile: at position ${pass.position ?? 'none'}: ${formatMetrics(pass.metrics)}\n`);
  }
};

/** The rule flags shared by `reconcile` and `serve --reconcile`: only those given enter the config. */
export const reconcileConfigFromFlags = (values: {
  'terminating-timeout-s'?: string | undefined;
  'starting-timeout-s'?: string | undefined;
  'disconnect-grace-s'?: string | undefined;
  'suspect-after-s'?: string | undefined;
  'no-pid-check'?: boolean | undefined;
  'no-lease-expiry'?: boolean | undefined;
}): ReconcileConfigInput => {
  const config: ReconcileConfigInput = {};
  const terminating = seconds('--terminating-timeout-s', values['terminating-timeout-s']);
  const startingTimeout = seconds('--starting-timeout-s', values['starting-timeout-s']);
  const grace = seconds('--disconnect-grace-s', values['disconnect-grace-s']);
  const suspect = seconds('--suspect-after-s', values['suspect-after-s']);
  if (terminating !== undefined) config.terminatingTimeoutMs = terminating;
  if (startingTimeout !== undefined) config.startingTimeoutMs = startingTimeout;
  if (grace !== undefined) config.disconnectGraceMs = grace;
  if (suspect !== undefined) config.suspectAfterMs = suspect;
  if (values['no-pid-check']) config.pidCheck = false;
  if (values['no-lease-expiry']) config.leaseExpiry = false;
  return config;
};

export const reconcileCommand: Command = {
  usage:
    'rollcall reconcile [--store URL] [--once | --every SECONDS] [--host NAME] [--recover] [--terminating-timeout-s S|off] [--starting-timeout-s S|off] [--disconnect-grace-s S|off] [--suspect-after-s S|off] [--no-pid-check] [--no-lease-expiry] [--skip-invalid]\n' +
    '  --recover: startup recovery of --host first (SPEC §7.1): one OrchestratorStarted with its next epoch, adopting the live sessions whose pid is alive',
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        store: { type: 'string' },
        once: { type: 'boolean' },
        every: { type: 'string' },
        host: { type: 'string' },
        recover: { type: 'boolean' },
        'terminating-timeout-s': { type: 'string' },
        'starting-timeout-s': { type: 'string' },
        'disconnect-grace-s': { type: 'string' },
        'suspect-after-s': { type: 'string' },
        'no-pid-check': { type: 'boolean' },
        'no-lease-expiry': { type: 'boolean' },
        'skip-invalid': { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.once && values.every !== undefined) throw usageError('use either --once or --every SECONDS, not both');
    let everyMs: number | null = null;
    if (values.every !== undefined) everyMs = parseIntervalSeconds('--every', values.every);
    const config = reconcileConfigFromFlags(values);
    const skipInvalid = values['skip-invalid'] ?? false;
    if (values.host !== undefined && values.host.trim() === '') throw usageError('--host must name this machine as sessions record it, got ""');
    const host = values.host === undefined ? {} : { host: values.host };

    return withStore(values.store ?? defaultStoreUrl(io.env), async (store) => {
      if (values.recover) {
        const name = values.host ?? hostname();
        // The recovery's own defaults (no disconnect or suspicion rule at boot) unless a flag says otherwise.
        io.stdout.write(formatRecovery(name, await recoverOnStartup(store, { restartHost: name, host: name, config, skipInvalid })));
        if (everyMs === null) return EXIT.ok;
      }
      if (everyMs === null) {
        printPass(io, await reconcileOnce(store, { config, skipInvalid, ...host }), true);
        return EXIT.ok;
      }
      const total = await runReconciler(store, {
        everyMs,
        config,
        skipInvalid,
        ...host,
        ...(io.signal !== undefined ? { signal: io.signal } : {}),
        onPass: (pass) => printPass(io, pass, false),
        // A daemon outlives a failed pass (store briefly unavailable): say so and try again.
        onError: (error) => io.stderr.write(`rollcall: reconcile pass failed: ${maskUrl(error instanceof Error ? error.message : String(error))}\n`),
      });
      io.stdout.write(`reconcile: stopped after ${counted(total.passes, 'pass', 'passes')}: ${formatMetrics(total)}\n`);
      return EXIT.ok;
    }, { verify: true });
  },
};
