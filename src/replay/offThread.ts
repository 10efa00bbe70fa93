import { createTextBatchReader, type TextBatch } from './textBatch.js';
import type { ReplayItem } from './replayItem.js';
import { startWorker } from '../stores/startWorker.js';
import { fromWireError, type WireError } from './wireError.js';

/** What the worker reads: an NDJSON file, or a store (by a URL it can open itself) after a position. */
export type OffThreadSpec = { kind: 'file'; path: string; window: number; batchSize: number } | {
  kind: 'store';
  url: string;
  after: bigint | null;
  window: number;
  batchSize: number;
};

export type WorkerMessage =
  | { kind: 'batch'; batch: TextBatch }
  | { kind: 'end' }
  | { kind: 'error'; error: WireError };

// A small young generation: what the worker allocates per event dies at once, so frequent cheap
// scavenges keep its heap (and the process's peak RSS) small; measured in `npm run bench`.
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 8 };

/**
 * Batches in flight: enough that the worker never waits for the fold, few enough to hold memory
 * flat. What the worker holds for a batch (its texts) outlives a scavenge or two of its 8 MB young
 * generation: 512 events a batch, against 2048, cut the worker's scavenge time by about 30 % and
 * the peak RSS by 10–15 MB (1M events, --trace-gc), the folding thread's GC unchanged; 16 of them
 * keep as many events in flight as 4 of 2048 did.
 */
const WINDOW = 16;
const BATCH_SIZE = 512;

/**
 * A replay source decoded in a worker thread: the worker reads, parses, validates and (files)
 * deduplicates with the same `readNdjsonEvents` / `dedupeIds` / `decodeStored` as in-thread, so
 * the same items and the same errors, naming the same line or position; this thread parses only
 * what validation accepted, once, and folds. Stopping early (`--until`, `--as-of`, an error) ends the worker.
 */
export async function* readOffThread(
  target: { kind: 'file'; path: string } | { kind: 'store'; url: string; after: bigint | null },
): AsyncGenerator<ReplayItem[]> {
  const spec: OffThreadSpec = { ...target, window: WINDOW, batchSize: BATCH_SIZE };
  const worker = startWorker(import.meta.url, 'decodeWorker', { workerData: spec, resourceLimits: WORKER_LIMITS });
  const inbox: WorkerMessage[] = [];
  let failure: Error | null = null;
  let exited = false;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  worker.on('message', (m: WorkerMessage) => {
    inbox.push(m);
    notify();
  });
  worker.on('error', (e) => {
    failure = e;
    notify();
  });
  worker.on('exit', () => {
    exited = true;
    notify();
  });
  const readTextBatch = createTextBatchReader();
  try {
    for (;;) {
      const m = inbox.shift();
      if (m === undefined) {
        if (failure !== null) throw new Error(`the decoding thread failed: ${(failure as Error).message}`, { cause: failure });
        if (exited) throw new Error('the decoding thread stopped before the end of the log');
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      if (m.kind === 'batch') {
        // Ask for the next batch before folding this one: the worker decodes while we fold.
        worker.postMessage('more');
        yield readTextBatch(m.batch);
      } else if (m.kind === 'end') return;
      else throw fromWireError(m.error);
    }
  } finally {
    await worker.terminate();
  }
}
