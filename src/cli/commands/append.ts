import { parseArgs } from 'node:util';
import { appendEvents, DEFAULT_MAX_CLOCK_SKEW_MS } from '../../ingest/appendEvents.js';
import { openInput } from '../../ndjson/openInput.js';
import type { EventStore } from '../../stores/eventStore.js';
import { maskStoreUrl } from '../../stores/maskUrl.js';
import { defaultStoreUrl, openStore } from '../../stores/openStore.js';
import { EXIT, usageError } from '../cliIo.js';
import { appendProgress, inputSize } from '../progress.js';
import type { Command } from './command.js';

/** `--max-clock-skew SECONDS`: a non-negative number of seconds (fractions allowed). */
const parseSkew = (value: string | undefined): number => {
  if (value === undefined) return DEFAULT_MAX_CLOCK_SKEW_MS;
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds < 0) {
    throw usageError(`--max-clock-skew must be a non-negative number of seconds, got "${value}"`);
  }
  return Math.round(seconds * 1000);
};

export const appendCommand: Command = {
  usage: 'rollcall append [--store URL] [--max-clock-skew SECONDS] [FILE | -]',
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: { store: { type: 'string' }, 'max-clock-skew': { type: 'string' }, 'chunk-bytes': { type: 'string' } },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length > 1) throw usageError('append takes one FILE (or - for stdin)');
    const path = positionals[0] ?? '-';
    const maxClockSkewMs = parseSkew(values['max-clock-skew']);
    // Internal: the read size, so tests can show that chunk boundaries change nothing.
    const chunkSize = values['chunk-bytes'] === undefined ? undefined : Number(values['chunk-bytes']);
    if (chunkSize !== undefined && !(Number.isSafeInteger(chunkSize) && chunkSize > 0)) throw usageError('--chunk-bytes must be a positive integer');
    const url = values.store ?? defaultStoreUrl(io.env);

    // The input is read exactly once and validated whole; the events appended are the ones
    // validated. The store is opened (and created) only once the whole input is valid.
    let store: EventStore | undefined;
    // On a terminal stderr only: the validation's bar, then "writing N events…"; gone before any output.
    const progress = appendProgress(io, inputSize(path));
    try {
      const result = await appendEvents(
        async () => (store = await openStore(url, { create: true, verify: true })),
        openInput(path, {
          ...(chunkSize !== undefined ? { chunkSize } : {}),
          ...(io.signal ? { signal: io.signal } : {}),
          onRead: progress.read,
        }),
        {
          maxClockSkewMs,
          ...(chunkSize !== undefined ? { chunkSize } : {}),
          ...(io.signal ? { signal: io.signal } : {}),
          onProgress: progress.onProgress,
        },
      ).finally(progress.stop);
      if (!result.success) throw result.error;
      const r = result.data;
      if (r.appended === 0 && r.duplicates === 0) {
        io.stderr.write('rollcall: nothing to append (no events in the input)\n');
        return EXIT.ok;
      }
      const range = r.last === null ? '' : r.first === null ? `, up to position ${r.last}` : `, positions ${r.first}–${r.last}`;
      io.stdout.write(
        `appended ${r.appended} event(s) to ${maskStoreUrl(url)}${range}` +
          (r.duplicates ? `; ${r.duplicates} already stored (same id), skipped` : '') +
          '\n',
      );
      return EXIT.ok;
    } finally {
      await store?.close();
    }
  },
};
