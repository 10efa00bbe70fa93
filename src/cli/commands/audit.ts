import { parseArgs } from 'node:util';
import { auditAgent, type AgentAudit } from '../../inspect/auditAgent.js';
import { EXIT, usageError } from '../cliIo.js';
import { counted } from '../counted.js';
import { logSource, projectionWithRetention, sourceFlags, withLog } from '../options.js';
import type { Command } from './command.js';

const brief = (data: Record<string, unknown>): string =>
  Object.entries(data)
    .filter(([k]) => k !== 'agentId')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');

const formatAudit = (audit: AgentAudit): string => {
  const a = audit.agent;
  const anomalies = audit.entries.filter((e) => e.anomaly !== null).length;
  const out = [`audit ${audit.agentId}${a ? ` (${a.type}, ${a.status})` : ''} — ${counted(audit.entries.length, 'event')}, ${counted(anomalies, 'anomaly', 'anomalies')} ignored`, ''];
  for (const e of audit.entries) {
    out.push(`#${e.position}  ${e.at}  ${e.type}  ${brief(e.data)}`);
    if (e.anomaly !== null) out.push(`    ignored: ${e.anomaly}`);
    else if (e.changes.length === 0) out.push('    (no change)');
    else for (const c of e.changes) out.push(`    ${c}`);
  }
  out.push('', 'NOW');
  for (const line of audit.explanation) out.push(`  ${line}`);
  return `${out.join('\n')}\n`;
};

export const auditCommand: Command = {
  usage: 'rollcall audit AGENT_ID [--store URL | --input FILE] [--json] [--retention-hours H]',
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...sourceFlags, json: { type: 'boolean' }, 'retention-hours': { type: 'string' } },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length !== 1) throw usageError('audit needs exactly one AGENT_ID');
    const agentId = positionals[0]!;
    const projection = projectionWithRetention(values['retention-hours']);
    const audit = await withLog(logSource(values, io), io, (log) => auditAgent(projection, log, agentId));
    io.stdout.write(values.json ? `${JSON.stringify(audit, null, 2)}\n` : formatAudit(audit));
    return EXIT.ok;
  },
};
