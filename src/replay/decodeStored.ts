import { RollcallError } from '../errors.js';
import { decodeEvent, verbatimEvent } from '../events/decodeEvent.js';
import { recorded } from '../events/lifecycleEvents.js';
import type { StoredEvent } from '../stores/eventStore.js';
import { InvalidRecord, type DecodedItem } from './replayItem.js';

/** Validates (and upcasts) an event a store handed back; a bad one becomes an InvalidRecord naming its position. */
export const decodeStored = (stored: StoredEvent): DecodedItem => decodeStoredText(stored, null);

/**
 * `decodeStored`, and when `texts` is given the JSON text of the event as decoded, pushed there:
 * built from the row's own texts where the event is exactly what was stored, else null.
 */
export const decodeStoredText = (stored: StoredEvent, texts: Array<string | null> | null): DecodedItem => {
  if (stored.corrupt !== undefined) {
    const error = new RollcallError('corrupt-store', `position ${stored.position}: unreadable stored event (${stored.corrupt})`, {
      position: stored.position,
      stream: stored.stream,
    });
    texts?.push(null);
    return new InvalidRecord(error, stored.position, stored.id, stored.type);
  }
  const raw = { id: stored.id, type: stored.type, data: stored.data, metadata: stored.metadata };
  // The common event, valid exactly as stored: its record straight from the raw parts, without the
  // envelope, source and result objects of `decodeEvent` (which decides, and words, everything else).
  const verbatim = verbatimEvent(raw);
  if (verbatim !== null) {
    texts?.push(verbatimText(stored));
    return recorded(verbatim, stored.stream, stored.revision, stored.position);
  }
  const result = decodeEvent(raw, { position: stored.position });
  if (!result.success) {
    texts?.push(null);
    return new InvalidRecord(result.error, stored.position, stored.id, stored.type);
  }
  texts?.push(result.verbatim ? verbatimText(stored) : null);
  return recorded(result.data, stored.stream, stored.revision, stored.position);
};

/** The JSON text of an event decoded verbatim, from the row's own texts; null without them. */
const verbatimText = (stored: StoredEvent): string | null => {
  const { dataText, metadataText } = stored;
  return dataText !== undefined && metadataText !== undefined
    ? `{"id":${JSON.stringify(stored.id)},"type":${JSON.stringify(stored.type)},"data":${dataText},"metadata":${metadataText}}`
    : null;
};

/**
 * Reads a store's events as decoded chunks for `foldEvents`: one async step per stored event (the
 * store's own) and one per chunk, instead of a chain of per-event generators — that chain's
 * promises were most of the garbage of a store replay.
 */
export async function* decodeStoredChunks(source: AsyncIterable<StoredEvent>, size = 512): AsyncGenerator<DecodedItem[]> {
  let chunk: DecodedItem[] = [];
  for await (const stored of source) {
    chunk.push(decodeStored(stored));
    if (chunk.length >= size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length) yield chunk;
}

/** Decodes pages of stored events (a store's `readPages`) into chunks for `foldEvents`: one async step per page. */
export async function* decodeStoredPages(pages: AsyncIterable<readonly StoredEvent[]>): AsyncGenerator<DecodedItem[]> {
  for await (const page of pages) {
    const chunk = new Array<DecodedItem>(page.length);
    for (let i = 0; i < page.length; i++) chunk[i] = decodeStored(page[i]!);
    yield chunk;
  }
}
