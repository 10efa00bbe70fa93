import { parseArgs } from 'node:util';
import { generateNdjson } from '../../generate/generateHistory.js';
import { EXIT, throwIfInterrupted, usageError } from '../cliIo.js';
import { parsePositiveInt } from '../options.js';
import { createProgress } from '../progress.js';
import type { Command } from './command.js';

const FLUSH_BYTES = 1 << 20;

export const generateCommand: Command = {
  usage: 'rollcall generate --agents N --events N [--seed S] [--start ISO] [--days D [--idle SHARE]]',
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        agents: { type: 'string' },
        events: { type: 'string' },
        seed: { type: 'string' },
        start: { type: 'string' },
        days: { type: 'string' },
        idle: { type: 'string' },
      },
      strict: true,
    });
    const agents = parsePositiveInt('--agents', values.agents);
    const events = parsePositiveInt('--events', values.events);
    let buffer = '';
    let done = 0;
    const progress = createProgress(io, { label: 'generate', total: events });
    try {
      for (const line of generateNdjson({
        agents,
        events,
        ...(values.seed !== undefined ? { seed: values.seed } : {}),
        ...(values.start !== undefined ? { start: values.start } : {}),
        ...(values.days !== undefined ? { days: parseNumber('--days', values.days) } : {}),
        ...(values.idle !== undefined ? { idle: parseNumber('--idle', values.idle) } : {}),
      })) {
        buffer += line + '\n';
        done++;
        if (buffer.length >= FLUSH_BYTES) {
          await write(io.stdout, buffer);
          buffer = '';
          progress.update(done);
          // A write to a file or a fast pipe completes without returning to the event loop, where
          // signals are delivered: yield to it once per flush, then stop if one came.
          await new Promise<void>((resolve) => setImmediate(resolve));
          throwIfInterrupted(io, `${done} of ${events} events written`);
        }
      }
      if (buffer) await write(io.stdout, buffer);
    } finally {
      progress.stop();
    }
    return EXIT.ok;
  },
};

/** A plain decimal number; the generator checks its range and names the option. */
const parseNumber = (flag: string, value: string): number => {
  if (!/^\d+(\.\d+)?$/.test(value)) throw usageError(`${flag} must be a number, got "${value}"`);
  return Number(value);
};

/** Writes and waits for the stream to drain, so a 1M-event history never piles up in memory. */
const write = (out: { write(chunk: string, cb?: () => void): unknown }, chunk: string) =>
  new Promise<void>((resolve) => {
    out.write(chunk, () => resolve());
  });
