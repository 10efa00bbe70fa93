import { parseArgs } from 'node:util';
import { explainAgentIn, explainPoolIn } from '../../projections/explainState.js';
import type { AgentExplainJson, HolderJson, PoolExplainJson } from '../../projections/viewJson.js';
import { defaultReconcileConfig } from '../../reconcile/reconcileConfig.js';
import { replayFile, replayStore } from '../../replay/replayLog.js';
import { EXIT, usageError } from '../cliIo.js';
import { logSource, parseIsoTime, parsePosition, projectionWithRetention, sourceFlags, withStore } from '../options.js';
import type { Command } from './command.js';

const rules = (h: HolderJson): string[] =>
  h.releasedBy.map((r) => `      ${r.rule}${r.at !== undefined ? ` at ${r.at}` : ''}${r.requires !== undefined ? ` (requires ${r.requires})` : ''}${r.detail !== undefined ? `: ${r.detail}` : ''}`);

const holderLines = (h: HolderJson): string[] => [
  `  ${h.agentId}  session ${h.sessionId}  ${h.state}${h.since ? ` since #${h.since.position} ${h.since.type} at ${h.since.at}` : ''}`,
  `    last seen ${h.lastSeenAt ?? 'never'}${h.host !== null ? `, host ${h.host}${h.epoch !== null ? ` epoch ${h.epoch}` : ''}` : ''}${h.pid !== null ? `, pid ${h.pid}` : ''}${h.leaseExpiresAt !== null ? `, lease until ${h.leaseExpiresAt}` : ''}`,
  ...(h.suspect ? [`    SUSPECT since ${h.suspect.since}: ${h.suspect.reason}`] : []),
  ...(h.quarantine ? [`    QUARANTINED since ${h.quarantine.since}: ${h.quarantine.reason}`] : []),
  '    freed by:',
  ...rules(h),
];

const formatPool = (p: PoolExplainJson): string => {
  const out = [`pool ${p.poolId}: ${p.used}/${p.max ?? '?'} slots used${p.enabled === false ? ' (disabled)' : ''}${p.exists ? '' : ' (no such pool)'} — as of #${p.position ?? 0} (${p.asOf ?? 'empty log'})`];
  for (const h of p.holders) out.push('', ...holderLines(h));
  return `${out.join('\n')}\n`;
};

const formatAgent = (a: AgentExplainJson): string => {
  const out = [`agent ${a.agentId}: ${a.status ?? 'unknown'}${a.counted ? `, counted in pool ${a.poolId}` : ', not counted'} — as of #${a.position ?? 0} (${a.asOf ?? 'empty log'})`];
  for (const line of a.explanation) out.push(`  ${line}`);
  if (a.holder !== null) out.push('', ...holderLines(a.holder));
  return `${out.join('\n')}\n`;
};

export const explainCommand: Command = {
  usage: 'rollcall explain pool|agent ID [--store URL | --input FILE] [--json] [--until POSITION | --as-of ISO] [--retention-hours H]',
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...sourceFlags, json: { type: 'boolean' }, until: { type: 'string' }, 'as-of': { type: 'string' }, 'retention-hours': { type: 'string' } },
      strict: true,
      allowPositionals: true,
    });
    const [kind, id] = positionals;
    if (positionals.length !== 2 || (kind !== 'pool' && kind !== 'agent')) throw usageError('explain needs pool|agent and one ID');
    if (values.until !== undefined && values['as-of'] !== undefined) throw usageError('explain: give --until or --as-of, not both');
    const projection = projectionWithRetention(values['retention-hours']);
    // The state as `replay` folds it (a store from its nearest snapshot at or below the moment asked
    // for); the state keeps each live session's liveSince, so the answer needs nothing else.
    const fold = { until: parsePosition('--until', values.until), asOf: parseIsoTime('--as-of', values['as-of']), ...(io.signal ? { signal: io.signal } : {}) };
    const source = logSource(values, io);
    const { state } = await (source.kind === 'input' ? replayFile(source.path, projection, fold) : withStore(source.url, (store) => replayStore(store, projection, fold)));
    // The reconciler's default thresholds: what `rollcall reconcile` would do with this log.
    const result = kind === 'pool' ? explainPoolIn(state, id!, defaultReconcileConfig) : explainAgentIn(state, id!, defaultReconcileConfig);
    if (values.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else io.stdout.write(kind === 'pool' ? formatPool(result as PoolExplainJson) : formatAgent(result as AgentExplainJson));
    return EXIT.ok;
  },
};
