// Child processes of the benchmark: each measures one pass in a fresh process, so that its peak
// RSS is its own, and prints one JSON line.
import { createReadStream } from 'node:fs';
import readline from 'node:readline';

const [mode, file] = process.argv.slice(2);
const started = performance.now();
let events = 0;

if (mode === 'baseline') {
  // The yardstick of the issue: a bare readline + JSON.parse pass over the same file.
  for await (const line of readline.createInterface({ input: createReadStream(file!), crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    JSON.parse(line);
    events++;
  }
} else if (mode === 'replay') {
  // What `rollcall replay --input FILE --json` does, from the compiled package.
  const { replayFile } = await import('../dist/replay/replayLog.js');
  const { lifecycleProjection } = await import('../dist/projections/lifecycleProjection.js');
  const { lifecycleView } = await import('../dist/projections/lifecycleView.js');
  const { state, processed } = await replayFile(file!, lifecycleProjection);
  JSON.stringify(lifecycleView(state));
  events = processed;
} else if (mode === 'append-sqlite' || mode === 'replay-sqlite') {
  // The user-facing paths on the embedded store: `rollcall append FILE` (validate all, then append
  // in 50k-event transactions) and `rollcall replay --store … --no-snapshot` (read + parse +
  // validate + fold), through the CLI itself.
  const { runCli } = await import('../dist/cli/runCli.js');
  const db = process.argv[4]!;
  const args = mode === 'append-sqlite' ? ['append', '--store', `sqlite:${db}`, file!] : ['replay', '--store', `sqlite:${db}`, '--no-snapshot', '--json'];
  let out = '';
  const code = await runCli(args, { stdout: { write: (s: string) => (out += s.length > 200 ? '' : s) }, stderr: process.stderr, env: {} });
  if (code !== 0) throw new Error(`rollcall ${args.join(' ')} exited ${code}`);
  // replay prints the view, not a count: the parent reports the appended count for both.
  events = mode === 'append-sqlite' ? Number(/appended (\d+)/.exec(out)?.[1]) : 0;
} else {
  throw new Error(`unknown mode ${mode}`);
}
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ mode, events, seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
