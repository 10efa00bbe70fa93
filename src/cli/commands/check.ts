import { parseArgs } from 'node:util';
import { checkLog } from '../../inspect/checkLog.js';
import { EXIT } from '../cliIo.js';
import { counted } from '../counted.js';
import { logSource, projectionWithRetention, sourceFlags, withLog } from '../options.js';
import { estimateNdjsonEvents, replayProgress } from '../progress.js';
import type { Command } from './command.js';

export const checkCommand: Command = {
  usage: 'rollcall check [--store URL | --input FILE] [--skip-invalid] [--retention-hours H]',
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: { ...sourceFlags, 'skip-invalid': { type: 'boolean' }, 'retention-hours': { type: 'string' } },
      strict: true,
    });
    const projection = projectionWithRetention(values['retention-hours']);
    const options = { skipInvalid: values['skip-invalid'] ?? false };
    const source = logSource(values, io);
    const progress = replayProgress(io, 'check', source.kind === 'input' ? estimateNdjsonEvents(source.path) : 0);
    const result = await withLog(source, io, (log) => checkLog(projection, log, options), progress.onProgress).finally(progress.stop);
    const anomalies = result.state.anomalies.count;
    if (result.violations.length === 0) {
      io.stdout.write(`ok: ${result.processed} events, every invariant holds on every prefix (${counted(anomalies, 'anomaly', 'anomalies')} recorded, all ignored by the rules)\n`);
      return EXIT.ok;
    }
    io.stdout.write(`FAILED: ${result.violations.length} invariant violation(s) in ${result.processed} events\n`);
    for (const v of result.violations.slice(0, 100)) io.stdout.write(`  ${v.invariant}: ${v.detail}\n`);
    return EXIT.checkFailed;
  },
};
