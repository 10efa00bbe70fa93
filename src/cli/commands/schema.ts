import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { RollcallError } from '../../errors.js';
import { eventJsonSchema } from '../../events/eventJsonSchema.js';
import { EXIT } from '../cliIo.js';
import type { Command } from './command.js';

/**
 * Creates `dir` and its missing parents one level at a time. Node's own `recursive: true` never
 * returns for a path under /proc (it retries ENOENT forever), so a typo there would hang.
 */
const makeDirs = (dir: string): void => {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  if (parent !== dir) makeDirs(parent);
  try {
    mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
};

export const schemaCommand: Command = {
  usage: 'rollcall schema [--out FILE]',
  async run(args, io) {
    const { values } = parseArgs({ args, options: { out: { type: 'string' } }, strict: true, allowPositionals: false });
    const text = `${JSON.stringify(eventJsonSchema(), null, 2)}\n`;
    if (values.out === undefined) io.stdout.write(text);
    else {
      // The build writes the shipped copy this way (dist/schema/events.json).
      try {
        makeDirs(dirname(values.out));
        writeFileSync(values.out, text);
      } catch (cause) {
        // A directory, a read-only or missing place: the output's fault, exit 5 (as `> /dev/full`).
        throw new RollcallError('output-failed', `cannot write the output to ${values.out}: ${(cause as Error).message}`, { cause });
      }
    }
    return EXIT.ok;
  },
};
