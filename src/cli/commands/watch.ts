import { parseArgs } from 'node:util';
import { lifecycleProjection } from '../../projections/lifecycleProjection.js';
import { followStore } from '../../replay/followStore.js';
import { defaultStoreUrl } from '../../stores/openStore.js';
import { EXIT } from '../cliIo.js';
import { parsePosition, withStore } from '../options.js';
import type { Command } from './command.js';

export const watchCommand: Command = {
  usage: 'rollcall watch [--store URL] [--from POSITION] [--skip-invalid]',
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: { store: { type: 'string' }, from: { type: 'string' }, 'skip-invalid': { type: 'boolean' } },
      strict: true,
    });
    const from = parsePosition('--from', values.from);
    await withStore(values.store ?? defaultStoreUrl(io.env), async (store) => {
      const updates = followStore(store, lifecycleProjection, {
        from,
        skipInvalid: values['skip-invalid'] ?? false,
        ...(io.signal ? { signal: io.signal } : {}),
      });
      for await (const u of updates) {
        // One write per event: a consumer sees each line as soon as it is applied.
        io.stdout.write(`${JSON.stringify({ position: u.position.toString(), type: u.type, changed: u.changed })}\n`);
      }
    });
    return EXIT.ok;
  },
};
