// The other end of `readOffThread`: reads, parses and validates a log in a worker thread and
// sends the items on as compact batches, at most a few batches ahead of the folding thread.
import { parentPort, workerData } from 'node:worker_threads';
import { toWireError } from './wireError.js';
import { openStore } from '../stores/openStore.js';
import { createTextBatcher, transferablesOf } from './textBatch.js';
import { CompactIdSet } from '../events/compactIdSet.js';
import type { StoredEvent } from '../stores/eventStore.js';
import { decodeStoredText } from './decodeStored.js';
import type { OffThreadSpec, WorkerMessage } from './offThread.js';
import { readLines } from '../ndjson/readLines.js';
import { createLineDecoder } from './readNdjson.js';
import { InvalidRecord, type ReplayItem } from './replayItem.js';

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

/** Sends items on, each with the exact JSON text of its event where decoding had it (null: encode it). */
const run = async (source: AsyncIterable<{ items: readonly ReplayItem[]; texts: ReadonlyArray<string | null> }>) => {
  for await (const { items, texts } of source) {
    for (let i = 0; i < items.length; i++) encoder.add(items[i]!, texts[i]!);
    if (encoder.size >= spec.batchSize) await send();
  }
  if (encoder.size) await send();
};

/**
 * A file: the same decoding and deduplication as in-thread (`readNdjsonEvents` + `dedupeIds`, the
 * same `createLineDecoder`), each event going straight into the batch as the line's own text (or,
 * where decoding rewrote it, its encoding): no recorded event or bigint is made here for the
 * folding thread to take apart again.
 */
const runFile = async (path: string) => {
  // Deduplicated here too (rule 4), so the folding thread gets the same items as in-thread.
  const seen = new CompactIdSet();
  const decode = createLineDecoder({
    event(e, count, revision, position, text) {
      const json = text ?? JSON.stringify({ id: e.id, type: e.type, data: e.data, metadata: e.metadata });
      encoder.addEvent(!seen.add(e.id), json, count.index, count.stream, position, revision);
    },
    invalid(error, position) {
      encoder.add(new InvalidRecord(error, BigInt(position), null, null));
    },
  });
  for await (const lines of readLines(path)) {
    decode(lines);
    if (encoder.size >= spec.batchSize) await send();
  }
  if (encoder.size) await send();
};

async function* storeItems(pages: AsyncIterable<readonly StoredEvent[]>) {
  for await (const page of pages) {
    const texts: Array<string | null> = [];
    const items = new Array<ReplayItem>(page.length);
    for (let i = 0; i < page.length; i++) items[i] = decodeStoredText(page[i]!, texts);
    yield { items, texts };
  }
}

try {
  if (spec.kind === 'file') await runFile(spec.path);
  else {
    const store = await openStore(spec.url);
    try {
      await run(storeItems(store.readPages({ after: spec.after })));
    } finally {
      await store.close();
    }
  }
  post({ kind: 'end' });
} catch (e) {
  post({ kind: 'error', error: toWireError(e) });
}
