import { EXIT, reportError, type CliIo } from './cliIo.js';
import { commands } from './commands/all.js';

const help = (): string =>
  [
    'rollcall — event-sourced lifecycle projections for agent orchestrators',
    '',
    'usage: rollcall <command> [options]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`),
    '',
    'rollcall <command> --help shows a command\'s options.',
    '',
    'Stores: sqlite:PATH (default sqlite:./rollcall.db, or $ROLLCALL_STORE), postgres://…, esdb://host:2113?tls=false, memory:',
    'Exit codes: 0 ok, 1 check failed, 2 bad input or usage, 3 store unavailable or damaged, 4 internal error,',
    '  5 output could not be written, 130/143 stopped by SIGINT/SIGTERM.',
    '',
  ].join('\n');

/** Runs one `rollcall` invocation and returns its exit code; never throws. */
export const runCli = async (argv: readonly string[], io: CliIo): Promise<number> => {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(help());
    return name === undefined ? EXIT.badInput : EXIT.ok;
  }
  const entry = commands.find((c) => c.name === (name === '--version' || name === '-V' ? 'version' : name));
  if (entry === undefined) {
    io.stderr.write(`rollcall: unknown command "${name}" (see rollcall --help)\n`);
    return EXIT.badInput;
  }
  try {
    const command = await entry.load();
    // Only options before `--` ask for help: `append -- --help` appends a file named --help.
    const end = args.indexOf('--');
    const options = end < 0 ? args : args.slice(0, end);
    if (options.includes('--help') || options.includes('-h')) {
      io.stdout.write(`${command.usage}\n  ${entry.summary}\n`);
      return EXIT.ok;
    }
    return await command.run(args, io);
  } catch (error) {
    return reportError(io, error);
  }
};
