import { decodeEvent, decodeLine, verbatimEvent, type DecodeResult } from '../events/decodeEvent.js';
import { recorded, type LifecycleEvent } from '../events/lifecycleEvents.js';
import { readLines } from '../ndjson/readLines.js';
import type { NdjsonLine, ReadLinesOptions } from '../ndjson/splitLines.js';
import type { RollcallError } from '../errors.js';
import { InvalidRecord, type ReplayItem } from './replayItem.js';
import { bigIntOf, createStreamCounter, type StreamCount } from './streamCounter.js';

// Lines become replay items here; reading the bytes into lines is src/ndjson's.

/** Where `createLineDecoder` hands each line: its event (with its stream's count and its revision) or its error. */
export interface LineSink {
  /** `text` is the line itself when the event is exactly what the line says, else null. */
  event(e: LifecycleEvent, count: StreamCount, revision: number, position: number, text: string | null): void;
  invalid(error: RollcallError, position: number): void;
}

/**
 * Decodes an NDJSON log's lines in order (SPEC §5 `--input`): the n-th event has position n,
 * revisions are counted per stream, and a bad line becomes an error naming the line.
 *
 * The common line (valid as written, `verbatimEvent`) is its event straight from JSON.parse's
 * object: no envelope or result object between them. Anything else goes through `decodeLine`'s own
 * steps, which decide and word it exactly as they always have.
 */
export const createLineDecoder = (sink: LineSink) => {
  const counter = createStreamCounter();
  let position = 0;
  return (lines: readonly NdjsonLine[]): void => {
    for (let i = 0; i < lines.length; i++) {
      const { line, text, error } = lines[i]!;
      position++;
      if (error !== undefined) {
        sink.invalid(error, position);
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
      let verbatim = true;
      if (e === null) {
        // Parsed again on a JSON error, so that decodeLine words it.
        const result: DecodeResult = parsed ? decodeEvent(raw, { line }) : decodeLine(text, { line });
        if (!result.success) {
          sink.invalid(result.error, position);
          continue;
        }
        e = result.data;
        verbatim = result.verbatim;
      }
      const count = counter(e);
      sink.event(e, count, count.next++, position, verbatim ? text : null);
    }
  };
};

/** `createLineDecoder` giving replay items: each chunk of lines becomes its items, in order. */
export const createNdjsonDecoder = () => {
  let items: ReplayItem[] = [];
  const decode = createLineDecoder({
    event(e, count, revision, position) {
      items.push(recorded(e, count.stream, bigIntOf(revision), BigInt(position)));
    },
    invalid(error, position) {
      items.push(new InvalidRecord(error, BigInt(position), null, null));
    },
  });
  return (lines: readonly NdjsonLine[]): ReplayItem[] => {
    const out = (items = []);
    decode(lines);
    return out;
  };
};

/** Reads an NDJSON event file as a replay source (see `createNdjsonDecoder`). */
export async function* readNdjsonEvents(path: string, options: ReadLinesOptions = {}): AsyncGenerator<ReplayItem[]> {
  const decode = createNdjsonDecoder();
  for await (const lines of readLines(path, options)) yield decode(lines);
}
