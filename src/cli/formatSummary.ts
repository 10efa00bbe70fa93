import { byCodeUnit } from '../projections/lifecycleView.js';
import type { ProjectionJson, SessionJson } from '../projections/viewJson.js';
import { counted } from './counted.js';

const table = (headers: string[], rows: string[][]): string => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
};

/**
 * The readable summary of `rollcall replay`: pools with used/max slots, running agents, sessions
 * starting and terminating (oldest first), anomalies by reason.
 */
export const formatSummary = (view: ProjectionJson, options: { maxRows?: number } = {}): string => {
  const maxRows = options.maxRows ?? 50;
  const agents = Object.values(view.agents);
  const sessions = Object.values(view.sessions);
  const out: string[] = [];
  out.push(
    `rollcall · position ${view.position ?? '(empty log)'} · ${counted(Object.keys(view.pools).length, 'pool')} · ` +
      `${counted(agents.length, 'agent')} (${view.running.length} running, ${view.busy.length} busy) · ${counted(sessions.length, 'session')} in view`,
  );

  const pools = Object.values(view.pools).sort((a, b) => (a.poolId < b.poolId ? -1 : 1));
  out.push('', `POOLS (${pools.length})`);
  if (pools.length === 0) out.push('  (none)');
  else
    out.push(
      table(
        ['pool', 'name', 'used/max', 'free', 'over', 'enabled', 'active by type'],
        pools.map((p) => [
          p.poolId,
          p.name,
          `${p.status.activeCount}/${p.maxSize}`,
          String(p.status.availableSlots),
          p.status.overCapacityBy ? String(p.status.overCapacityBy) : '-',
          p.enabled ? 'yes' : 'no',
          Object.entries(p.status.activeByType).map(([t, n]) => `${t}=${n}`).join(' ') || '-',
        ]),
      ),
    );

  out.push('', `RUNNING (${view.running.length})`);
  if (view.running.length === 0) out.push('  (none)');
  else {
    const rows = view.running.slice(0, maxRows).map((id) => {
      const a = view.agents[id]!;
      const s = a.currentSessionId === null ? undefined : view.sessions[a.currentSessionId];
      return [id, a.type, a.currentSessionId ?? '-', s?.state ?? '-', s?.poolId ?? '-', a.pid === null ? '-' : String(a.pid), a.busy ? 'busy' : '', a.startedAt ?? '-'];
    });
    out.push(table(['agent', 'type', 'session', 'state', 'pool', 'pid', 'busy', 'since'], rows));
    if (view.running.length > maxRows) out.push(`  … and ${view.running.length - maxRows} more (--json for all)`);
  }

  // Sessions not (yet, or no longer) doing work, oldest first: those are the ones to look at.
  const waiting = (state: 'starting' | 'terminating', title: string, since: (s: SessionJson) => string | null) => {
    const listed = sessions
      .filter((s) => s.state === state)
      .map((s) => ({ s, since: since(s) ?? '-' }))
      .sort((a, b) => byCodeUnit(a.since, b.since) || byCodeUnit(a.s.sessionId, b.s.sessionId));
    if (listed.length === 0) return;
    out.push('', `${title} (${listed.length})`);
    out.push(table(['session', 'agent', 'pool', 'since'], listed.slice(0, maxRows).map(({ s, since }) => [s.sessionId, s.agentId, s.poolId ?? '-', since])));
    if (listed.length > maxRows) out.push(`  … and ${listed.length - maxRows} more (--json for all)`);
  };
  waiting('starting', 'STARTING', (s) => s.startedAt);
  waiting('terminating', 'TERMINATING', (s) => s.terminatingSince);

  const reasons = Object.entries(view.anomalies.byReason).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0));
  out.push('', `ANOMALIES (${view.anomalies.count}) — events ignored by the rules, state unchanged`);
  if (reasons.length === 0) out.push('  (none)');
  else out.push(table(['reason', 'count'], reasons.map(([r, n]) => [r, String(n)])));
  return `${out.join('\n')}\n`;
};
