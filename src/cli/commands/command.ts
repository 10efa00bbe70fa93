import type { CliIo } from '../cliIo.js';

/** One `rollcall` subcommand: parses its own flags, calls the library, returns an exit code. */
export interface Command {
  usage: string;
  run(args: string[], io: CliIo): Promise<number>;
}
