import { parseArgs } from 'node:util';
import { lifecycleProjection } from '../../projections/lifecycleProjection.js';
import { lifecycleView } from '../../projections/lifecycleView.js';
import { replayStore } from '../../replay/replayLog.js';
import { maskStoreUrl } from '../../stores/maskUrl.js';
import { defaultStoreUrl } from '../../stores/openStore.js';
import { EXIT } from '../cliIo.js';
import { formatSummary } from '../formatSummary.js';
import { NPM_START_FLEET, seededLine, seedFleet, seedingLine, seedOptions } from '../seedFleet.js';
import { parsePositiveInt, withStore } from '../options.js';
import type { Command } from './command.js';

export const demoCommand: Command = {
  usage: 'rollcall demo [--store URL] [--agents N] [--events N] [--seed-end ISO]',
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: { store: { type: 'string' }, agents: { type: 'string' }, events: { type: 'string' }, 'seed-end': { type: 'string' } },
      strict: true,
    });
    const url = values.store ?? defaultStoreUrl(io.env);
    const shown = maskStoreUrl(url);
    // Flags first: a refused flag creates no store file.
    const agents = parsePositiveInt('--agents', values.agents, NPM_START_FLEET.agents);
    const events = parsePositiveInt('--events', values.events, NPM_START_FLEET.events);
    const fleet = seedOptions(values['seed-end'], { agents, events, seed: 1 });
    return withStore(url, async (store) => {
      if ((await store.head()) === null) {
        io.stderr.write(seedingLine(shown, fleet));
        io.stderr.write(seededLine(await seedFleet(store, fleet)));
      }
      const started = performance.now();
      const result = await replayStore(store, lifecycleProjection);
      const ms = performance.now() - started;
      io.stdout.write(formatSummary(lifecycleView(result.state)));
      io.stderr.write(
        `\nreplayed ${result.processed} event(s) from ${shown} in ${ms.toFixed(0)} ms` +
          (result.snapshotPosition !== null ? ` (from the snapshot at position ${result.snapshotPosition})` : ' (full replay)') +
          '\nnext: rollcall replay --json · rollcall audit AGENT_ID · rollcall check · rollcall watch\n' +
          '(the generated pids are not processes on this host: `rollcall reconcile` here would report them all dead)\n',
      );
      return EXIT.ok;
    }, { create: true, verify: true });
  },
};
