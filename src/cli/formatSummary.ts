import type { ProjectionJson } from '../projections/lifecycleView.js';

const table = (headers: string[], rows: string[][]): string => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
};

/** The readable summary of `rollcall replay`: pools with used/max slots, running agents, anomalies by reason. */
export const formatSummary = (view: ProjectionJson, options: { maxRows?: number } = {}): string => {
  const maxRows = options.maxRows ?? 50;
  const agents = Object.values(view.agents);
  const sessions = Object.values(view.sessions);
  const out: string[] = [];
  out.push(
    `rollcall · position ${view.position ?? '(empty log)'} · ${Object.keys(view.pools).length} pools · ` +
      `${agents.length} agents (${view.running.length} running, ${view.busy.length} busy) · ${sessions.length} sessions in view`,
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

  const stuck = sessions.filter((s) => s.state === 'terminating');
  if (stuck.length) {
    out.push('', `TERMINATING (${stuck.length})`);
    out.push(table(['session', 'agent', 'since'], stuck.slice(0, maxRows).map((s) => [s.sessionId, s.agentId, s.terminatingSince ?? '-'])));
  }

  const reasons = Object.entries(view.anomalies.byReason).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0));
  out.push('', `ANOMALIES (${view.anomalies.count}) — events ignored by the rules, state unchanged`);
  if (reasons.length === 0) out.push('  (none)');
  else out.push(table(['reason', 'count'], reasons.map(([r, n]) => [r, String(n)])));
  return `${out.join('\n')}\n`;
};
