import { decodeLine } from '../events/decodeEvent.js';
import { recorded, streamOf } from '../events/lifecycleEvents.js';
import { readLines } from '../ndjson/readLines.js';
import type { NdjsonLine, ReadLinesOptions } from '../ndjson/splitLines.js';
import { InvalidRecord, type ReplayItem } from './replayItem.js';

// Lines become replay items here; reading the bytes into lines is src/ndjson's.

/**
 * Decodes an NDJSON log's lines in order (SPEC §5 `--input`): the n-th event has position n,
 * revisions are counted per stream, and a bad line becomes an InvalidRecord naming the line. When
 * `texts` is given, `texts[i]` is set to the line itself where the event is exactly what the line
 * says (so the decoding thread can hand the text on instead of encoding the event again), else null.
 */
export const createNdjsonDecoder = () => {
  const revisions = new Map<string, number>();
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
      const result = decodeLine(text, { line });
      if (!result.success) {
        items[i] = new InvalidRecord(result.error, BigInt(position), null, null);
        continue;
      }
      const e = result.data;
      const stream = streamOf(e);
      const revision = revisions.get(stream) ?? 0;
      revisions.set(stream, revision + 1);
      items[i] = recorded(e, stream, BigInt(revision), BigInt(position));
      if (texts && result.verbatim) texts[i] = text;
    }
    return items;
  };
};

/** Reads an NDJSON event file as a replay source (see `createNdjsonDecoder`). */
export async function* readNdjsonEvents(path: string, options: ReadLinesOptions = {}): AsyncGenerator<ReplayItem[]> {
  const decode = createNdjsonDecoder();
  for await (const lines of readLines(path, options)) yield decode(lines);
}
