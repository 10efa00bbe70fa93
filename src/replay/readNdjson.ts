import { decodeEvent, decodeLine, verbatimEvent, type DecodeResult } from '../events/decodeEvent.js';
import { recorded } from '../events/lifecycleEvents.js';
import { readLines } from '../ndjson/readLines.js';
import type { NdjsonLine, ReadLinesOptions } from '../ndjson/splitLines.js';
import { InvalidRecord, type ReplayItem } from './replayItem.js';
import { bigIntOf, createStreamCounter } from './streamCounter.js';

// Lines become replay items here; reading the bytes into lines is src/ndjson's.

/**
 * Decodes an NDJSON log's lines in order (SPEC §5 `--input`): the n-th event has position n,
 * revisions are counted per stream, and a bad line becomes an InvalidRecord naming the line. When
 * `texts` is given, `texts[i]` is set to the line itself where the event is exactly what the line
 * says (so the decoding thread can hand the text on instead of encoding the event again), else null.
 *
 * The common line (valid as written, `verbatimEvent`) becomes its recorded event straight from
 * JSON.parse's object: no envelope or result object between them. Anything else goes through
 * `decodeLine`'s own steps, which decide and word it exactly as they always have.
 */
export const createNdjsonDecoder = () => {
  const counter = createStreamCounter();
  let position = 0;
  return (lines: readonly NdjsonLine[], texts?: Array<string | null>): ReplayItem[] => {
    const items: ReplayItem[] = new Array(lines.length);
    for (let i = 0; i < lines.length; i++) {
      const { line, text, error } = lines[i]!;
      position++;
      if (texts) texts[i] = null;
      if (error !== undefined) {
        items[i] = new InvalidRecord(error, BigInt(position), null, null);
        continue;
      }
      let raw: unknown;
      let parsed = true;
      try {
        raw = JSON.parse(text);
      } catch {
        parsed = false;
      }
      let e = parsed ? verbatimEvent(raw) : null;
      if (e !== null) {
        if (texts) texts[i] = text;
      } else {
        // Parsed again on a JSON error, so that decodeLine words it.
        const result: DecodeResult = parsed ? decodeEvent(raw, { line }) : decodeLine(text, { line });
        if (!result.success) {
          items[i] = new InvalidRecord(result.error, BigInt(position), null, null);
          continue;
        }
        e = result.data;
        if (texts && result.verbatim) texts[i] = text;
      }
      const count = counter(e);
      items[i] = recorded(e, count.stream, bigIntOf(count.next++), BigInt(position));
    }
    return items;
  };
};

/** Reads an NDJSON event file as a replay source (see `createNdjsonDecoder`). */
export async function* readNdjsonEvents(path: string, options: ReadLinesOptions = {}): AsyncGenerator<ReplayItem[]> {
  const decode = createNdjsonDecoder();
  for await (const lines of readLines(path, options)) yield decode(lines);
}
