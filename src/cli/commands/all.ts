import type { Command } from './command.js';
import { replayCommand } from './replay.js';

/** Every subcommand, in the order `rollcall --help` lists them. */
export const commands: readonly Command[] = [replayCommand];
