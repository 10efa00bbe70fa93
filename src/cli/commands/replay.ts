import { parseArgs } from 'node:util';
import { lifecycleView } from '../../projections/lifecycleView.js';
import { lifecycleViewText } from '../../projections/viewText.js';
import { replayFile, replayStore } from '../../replay/replayLog.js';
import { EXIT } from '../cliIo.js';
import { maskUrl } from '../../stores/maskUrl.js';
import { formatSummary } from '../formatSummary.js';
import { estimateNdjsonEvents, replayProgress } from '../progress.js';
import { logSource, parseIsoTime, parsePosition, projectionWithRetention, sourceFlags, withStore } from '../options.js';
import type { Command } from './command.js';

export const replayCommand: Command = {
  usage:
    'rollcall replay [--store URL | --input FILE] [--json] [--until POSITION] [--as-of ISO] [--no-snapshot] [--skip-invalid] [--retention-hours H]',
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        ...sourceFlags,
        json: { type: 'boolean' },
        until: { type: 'string' },
        'as-of': { type: 'string' },
        'no-snapshot': { type: 'boolean' },
        'skip-invalid': { type: 'boolean' },
        'retention-hours': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
    const projection = projectionWithRetention(values['retention-hours']);
    const fold = {
      until: parsePosition('--until', values.until),
      asOf: parseIsoTime('--as-of', values['as-of']),
      skipInvalid: values['skip-invalid'] ?? false,
    };
    const source = logSource(values, io);
    const signal = io.signal ? { signal: io.signal } : {};
    const progress = replayProgress(io, 'replay', source.kind === 'input' ? estimateNdjsonEvents(source.path) : 0);
    const { onProgress } = progress;
    const snapshot = { error: null as string | null };
    const { state } = await (source.kind === 'input'
      ? replayFile(source.path, projection, { ...fold, ...signal, onProgress })
      : withStore(source.url, async (store) => {
          const result = await replayStore(store, projection, { ...fold, ...signal, noSnapshot: values['no-snapshot'] ?? false, onProgress });
          snapshot.error = result.snapshotError;
          return result;
        })
    ).finally(progress.stop);
    // After the bar is gone, so the note is not drawn over.
    if (snapshot.error !== null) io.stderr.write(`rollcall: note: no snapshot saved (${maskUrl(snapshot.error)}); the replay is complete\n`);
    if (!values.json) {
      io.stdout.write(formatSummary(lifecycleView(state)));
      return EXIT.ok;
    }
    // The view's JSON (tens of MB at a million events) written as it is encoded, a chunk of
    // sessions at a time: no one string of the whole view, no dictionary of every session.
    let last = '';
    for (const piece of lifecycleViewText(state)) {
      if (last !== '') io.stdout.write(last);
      last = piece;
    }
    io.stdout.write(`${last}\n`);
    return EXIT.ok;
  },
};
