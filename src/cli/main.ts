#!/usr/bin/env node
import { EXIT, exitForSignal } from './cliIo.js';
import { runCli } from './runCli.js';
import { startTelemetry } from './telemetry.js';

// A signal aborts the command's signal (its reason is the signal's name): the command stops at its
// next safe point (an append before committing anything). A second signal stops the process at once.
const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (controller.signal.aborted) process.exit(exitForSignal(controller.signal.reason));
    controller.abort(sig);
  });
}

// A closed pipe (`rollcall generate | head`) is a normal end, as for any Unix tool; any other
// output failure (a full disk, `> /dev/full`) is one line on stderr and exit 5, never a stack.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(EXIT.ok);
  try {
    process.stderr.write(`rollcall: cannot write the output: ${e.message}\n`);
  } finally {
    process.exit(EXIT.outputFailed);
  }
});
// Nothing is left to tell if stderr itself is gone.
process.stderr.on('error', () => process.exit(EXIT.outputFailed));

// OpenTelemetry export when the standard OTEL_* variables ask for it; otherwise nothing is loaded.
const telemetry = await startTelemetry(process.env, process.stderr);
const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
});
process.exitCode = code;
// The last spans and metrics are exported before the exit, but a collector that does not answer
// delays it by a bounded time only: past that the process exits with the export still in flight.
if (telemetry !== null && !(await telemetry.shutdown())) process.exit(code);
