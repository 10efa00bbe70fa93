import { createReadStream } from 'node:fs';
import { RollcallError } from '../errors.js';
import { decodeLine } from '../events/decodeEvent.js';
import { streamOf, type RecordedEvent } from '../events/lifecycleEvents.js';
import type { ReplayItem } from './replayItem.js';

/** One non-blank line of an NDJSON input with its 1-based line number. */
export interface NdjsonLine {
  line: number;
  text: string;
}

/** Streams the non-blank lines of a file or stdin (`-`), never holding the whole input. */
export async function* readLines(path: string): AsyncGenerator<NdjsonLine[]> {
  let input: NodeJS.ReadableStream;
  try {
    input = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 });
    input.setEncoding('utf8');
  } catch (cause) {
    throw new RollcallError('io', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  let rest = '';
  let lineNo = 0;
  try {
    for await (const chunk of input as AsyncIterable<string>) {
      const text = rest + chunk;
      const lines: NdjsonLine[] = [];
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        lineNo++;
        const line = text.slice(start, nl);
        if (line.trim() !== '') lines.push({ line: lineNo, text: line });
        start = nl + 1;
      }
      rest = text.slice(start);
      if (lines.length) yield lines;
    }
  } catch (cause) {
    if (cause instanceof RollcallError) throw cause;
    throw new RollcallError('io', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  if (rest.trim() !== '') yield [{ line: lineNo + 1, text: rest }];
}

/**
 * Reads an NDJSON event file as a replay source (SPEC §5 `--input`): the n-th event has position n,
 * revisions are counted per stream, and a bad line becomes an InvalidRecord naming the line.
 */
export async function* readNdjsonEvents(path: string): AsyncGenerator<ReplayItem[]> {
  const revisions = new Map<string, bigint>();
  let position = 0n;
  for await (const lines of readLines(path)) {
    const items: ReplayItem[] = [];
    for (const { line, text } of lines) {
      position++;
      const result = decodeLine(text, { line });
      if (!result.success) {
        items.push({ invalid: result.error, position, id: null, type: null });
        continue;
      }
      const e = result.data as RecordedEvent;
      const stream = streamOf(e);
      const revision = revisions.get(stream) ?? 0n;
      revisions.set(stream, revision + 1n);
      e.stream = stream;
      e.revision = revision;
      e.position = position;
      items.push(e);
    }
    yield items;
  }
}
