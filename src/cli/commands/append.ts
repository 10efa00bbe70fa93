import { parseArgs } from 'node:util';
import { decodeLine } from '../../events/decodeEvent.js';
import { uuidBytes, uuidV5 } from '../../events/eventId.js';
import type { LifecycleEvent } from '../../events/lifecycleEvents.js';
import { readLines, type NdjsonLine } from '../../replay/readNdjson.js';
import { defaultStoreUrl } from '../../stores/openStore.js';
import { EXIT, usageError } from '../cliIo.js';
import { withStore } from '../options.js';
import type { Command } from './command.js';

const CHUNK = 50_000;
const APPEND_NAMESPACE = uuidBytes('9d3f6a52-7c1e-4b0a-8e95-3f2d1c6b7a40');

/**
 * A line without an id gets one derived from its text and line number, not a random one: re-running
 * an interrupted `append` of the same file then yields the same ids, and nothing is doubled.
 */
const decodeForAppend = (l: NdjsonLine): LifecycleEvent => {
  const result = decodeLine(l.text, { line: l.line }, { missingId: () => uuidV5(`${l.line}\n${l.text}`, APPEND_NAMESPACE) });
  if (!result.success) throw result.error;
  return result.data;
};

export const appendCommand: Command = {
  usage: 'rollcall append [--store URL] [FILE | -]',
  async run(args, io) {
    const { values, positionals } = parseArgs({ args, options: { store: { type: 'string' } }, strict: true, allowPositionals: true });
    if (positionals.length > 1) throw usageError('append takes one FILE (or - for stdin)');
    const path = positionals[0] ?? '-';

    // Pass 1 validates everything before anything is written. stdin cannot be read twice, so its
    // decoded events are kept; a file is streamed twice to keep memory flat on large inputs.
    const kept: LifecycleEvent[] = [];
    let total = 0;
    for await (const lines of readLines(path)) {
      for (const l of lines) {
        const e = decodeForAppend(l);
        total++;
        if (path === '-') kept.push(e);
      }
    }
    if (total === 0) {
      io.stderr.write('rollcall: nothing to append (no events in the input)\n');
      return EXIT.ok;
    }

    const url = values.store ?? defaultStoreUrl(io.env);
    const summary = await withStore(url, async (store) => {
      let appended = 0;
      let duplicates = 0;
      let first: bigint | null = null;
      let last: bigint | null = null;
      const flush = async (chunk: LifecycleEvent[]) => {
        const r = await store.appendBatch(chunk);
        appended += r.appended;
        duplicates += r.duplicates;
        if (r.lastPosition !== null) {
          first ??= r.lastPosition - BigInt(r.appended) + 1n;
          last = r.lastPosition;
        }
      };
      if (path === '-') {
        for (let i = 0; i < kept.length; i += CHUNK) await flush(kept.slice(i, i + CHUNK));
      } else {
        let chunk: LifecycleEvent[] = [];
        for await (const lines of readLines(path)) {
          for (const l of lines) {
            chunk.push(decodeForAppend(l));
            if (chunk.length >= CHUNK) {
              await flush(chunk);
              chunk = [];
            }
          }
        }
        if (chunk.length) await flush(chunk);
      }
      return { appended, duplicates, first, last };
    });
    const range = summary.first === null ? '' : `, positions ${summary.first}–${summary.last}`;
    io.stdout.write(
      `appended ${summary.appended} event(s) to ${url}${range}` +
        (summary.duplicates ? `; ${summary.duplicates} already stored (same id), skipped` : '') +
        '\n',
    );
    return EXIT.ok;
  },
};
