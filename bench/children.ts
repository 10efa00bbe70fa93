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
} else {
  throw new Error(`unknown mode ${mode}`);
}
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ mode, events, seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
