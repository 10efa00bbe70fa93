import { appendCommand } from './append.js';
import { auditCommand } from './audit.js';
import { checkCommand } from './check.js';
import type { Command } from './command.js';
import { demoCommand } from './demo.js';
import { generateCommand } from './generate.js';
import { reconcileCommand } from './reconcile.js';
import { replayCommand } from './replay.js';
import { watchCommand } from './watch.js';

/** Every subcommand, in the order `rollcall --help` lists them. */
export const commands: readonly Command[] = [replayCommand, appendCommand, auditCommand, checkCommand, generateCommand, watchCommand, reconcileCommand, demoCommand];
