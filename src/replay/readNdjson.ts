import { createReadStream } from 'node:fs';
import { RollcallError } from '../errors.js';
import { decodeLine } from '../events/decodeEvent.js';
import { recorded, streamOf } from '../events/lifecycleEvents.js';
import { InvalidRecord, type ReplayItem } from './replayItem.js';

/** One non-blank line of an NDJSON input with its 1-based line number. */
export interface NdjsonLine {
  line: number;
  text: string;
}

/** Streams the non-blank lines of a file or stdin (`-`), never holding the whole input. */
export async function* readLines(path: string): AsyncGenerator<NdjsonLine[]> {
  let input: NodeJS.ReadableStream;
  try {
    input = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1 << 16 });
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
        // Blank lines are skipped (cheaply: most lines start with '{').
        if (nl > start && (text.charCodeAt(start) === 123 || /\S/.test(text.slice(start, nl)))) {
          lines.push({ line: lineNo, text: text.slice(start, nl) });
        }
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
  const revisions = new Map<string, number>();
  let position = 0;
  for await (const lines of readLines(path)) {
    const items: ReplayItem[] = new Array(lines.length);
    for (let i = 0; i < lines.length; i++) {
      const { line, text } = lines[i]!;
      position++;
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
    }
    yield items;
  }
}
