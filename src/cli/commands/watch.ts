import { parseArgs } from 'node:util';
import { openRollcall } from '../../live/openRollcall.js';
import { defaultStoreUrl } from '../../stores/openStore.js';
import { EXIT } from '../cliIo.js';
import { parsePosition, withStore } from '../options.js';
import { replayProgress } from '../progress.js';
import type { Command } from './command.js';

/** How long `watch` waits for a network store (PostgreSQL, EventStoreDB) to come back before exiting 3. */
const NETWORK_OUTAGE_MS = 60_000;

export const watchCommand: Command = {
  usage: 'rollcall watch [--store URL] [--from POSITION] [--skip-invalid]',
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: { store: { type: 'string' }, from: { type: 'string' }, 'skip-invalid': { type: 'boolean' } },
      strict: true,
    });
    const from = parsePosition('--from', values.from);
    const url = values.store ?? defaultStoreUrl(io.env);
    const sqlite = /^sqlite:/i.test(url);
    // withStore opens without creating: a mistyped path is exit 3, and no empty database is left behind.
    await withStore(url, async (store) => {
      // On a terminal stderr only: catch-up from the snapshot (or the start) to the head, counted
      // from the store; removed once caught up, before the first line of output.
      const progress = replayProgress(io, 'watch: catching up', 0);
      // A local file that fails (deleted, replaced, unreadable) does not come back by waiting.
      const live = openRollcall({
        store,
        skipInvalid: values['skip-invalid'] ?? false,
        giveUpAfterMs: sqlite ? 0 : NETWORK_OUTAGE_MS,
        onCatchUpProgress: progress.onProgress,
      });
      // A failed catch-up is reported by the subscription's onError; here it only ends the bar.
      void live.whenCaughtUp().then(progress.stop, progress.stop);
      try {
        await new Promise<void>((resolve, reject) => {
          if (io.signal?.aborted) return resolve();
          io.signal?.addEventListener('abort', () => resolve(), { once: true });
          live.subscribe(
            (c) => {
              progress.stop();
              // One write per event: a consumer sees each line as soon as it is applied.
              io.stdout.write(`{"position":"${c.position}","type":${JSON.stringify(c.type)},"changed":${JSON.stringify(c.changed)}}\n`);
            },
            { from, onError: reject },
          );
        });
      } finally {
        progress.stop();
        await live.close();
      }
    });
    return EXIT.ok;
  },
};
