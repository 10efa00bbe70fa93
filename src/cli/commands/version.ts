import { parseArgs } from 'node:util';
import { EXIT } from '../cliIo.js';
import { packageVersion } from '../version.js';
import type { Command } from './command.js';

export const versionCommand: Command = {
  usage: 'rollcall version (or rollcall --version)',
  async run(args, io) {
    parseArgs({ args, options: {}, strict: true, allowPositionals: false });
    io.stdout.write(`rollcall ${packageVersion()}\n`);
    return EXIT.ok;
  },
};
