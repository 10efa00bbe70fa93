import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { eventJsonSchema } from '../../events/eventJsonSchema.js';
import { EXIT } from '../cliIo.js';
import type { Command } from './command.js';

export const schemaCommand: Command = {
  usage: 'rollcall schema [--out FILE]',
  async run(args, io) {
    const { values } = parseArgs({ args, options: { out: { type: 'string' } }, strict: true, allowPositionals: false });
    const text = `${JSON.stringify(eventJsonSchema(), null, 2)}\n`;
    if (values.out === undefined) io.stdout.write(text);
    else {
      // The build writes the shipped copy this way (dist/schema/events.json).
      mkdirSync(dirname(values.out), { recursive: true });
      writeFileSync(values.out, text);
    }
    return EXIT.ok;
  },
};
