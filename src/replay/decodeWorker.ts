// The other end of `readOffThread`: reads, parses and validates a log in a worker thread and
// sends the items on as compact batches, at most a few batches ahead of the folding thread.
import { parentPort, workerData } from 'node:worker_threads';
import { RollcallError } from '../errors.js';
import { openStore } from '../stores/openStore.js';
import { pagesOf } from '../stores/pages.js';
import { createTextBatcher, transferablesOf } from './textBatch.js';
import { decodeStoredPages } from './decodeStored.js';
import { dedupeIds } from './dedupeIds.js';
import type { OffThreadSpec, WorkerMessage } from './offThread.js';
import { readNdjsonEvents } from './readNdjson.js';
import type { ReplayItem } from './replayItem.js';

const spec = workerData as OffThreadSpec;
const port = parentPort!;
let credits = spec.window;
let wake: (() => void) | null = null;
port.on('message', (m: unknown) => {
  if (m === 'more') {
    credits++;
    wake?.();
    wake = null;
  }
});
const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

const encoder = createTextBatcher();
const send = async () => {
  while (credits <= 0) await new Promise<void>((resolve) => (wake = resolve));
  credits--;
  const batch = encoder.take();
  post({ kind: 'batch', batch }, transferablesOf(batch));
};

const run = async (source: AsyncIterable<readonly ReplayItem[]>) => {
  for await (const chunk of source) {
    for (const item of chunk) encoder.add(item);
    if (encoder.size >= spec.batchSize) await send();
  }
  if (encoder.size) await send();
};

try {
  // A file is deduplicated here too (rule 4), so the folding thread gets the same items as in-thread.
  if (spec.kind === 'file') await run(dedupeIds(readNdjsonEvents(spec.path)));
  else {
    const store = await openStore(spec.url);
    try {
      await run(decodeStoredPages(pagesOf(store, { after: spec.after })));
    } finally {
      await store.close();
    }
  }
  post({ kind: 'end' });
} catch (e) {
  const error =
    e instanceof RollcallError
      ? { code: e.code, message: e.message, line: e.line, path: e.path, stream: e.stream, position: e.position?.toString() }
      : { code: null, message: e instanceof Error ? e.message : String(e) };
  post({ kind: 'error', error });
}
