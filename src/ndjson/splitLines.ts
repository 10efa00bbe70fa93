import { RollcallError } from '../errors.js';

/** One non-blank line of an NDJSON input with its 1-based line number. */
export interface NdjsonLine {
  line: number;
  text: string;
  /** Set when the line cannot be read as text (invalid UTF-8, longer than the limit); `text` is then empty. */
  error?: RollcallError;
}

/** The longest line accepted (1 MiB, the service's request limit): anything longer is no event. */
export const MAX_LINE_BYTES = 1 << 20;

export interface ReadLinesOptions {
  /** Bytes per read (default 64 KiB); tests vary it to show that chunk boundaries change nothing. */
  chunkSize?: number;
  maxLineBytes?: number;
  /** Stops the read, even one waiting on an idle pipe, with `interrupted`. */
  signal?: AbortSignal;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Offset of the first byte that is not part of valid UTF-8 (RFC 3629: no overlongs, no surrogates), or -1. */
export const firstInvalidUtf8 = (b: Uint8Array): number => {
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0 || i + n >= b.length) return i;
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    const c1 = b[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return -1;
};

const lineError = (code: 'invalid-json' | 'invalid-event', line: number, message: string): RollcallError =>
  new RollcallError(code, `line ${line}: ${message}`, { line });

const notUtf8 = (line: number, bytes: Uint8Array): RollcallError => {
  const at = firstInvalidUtf8(bytes);
  const b = at >= 0 ? bytes[at]! : 0;
  return lineError('invalid-json', line, `not valid UTF-8 text (byte 0x${b.toString(16).padStart(2, '0').toUpperCase()} at byte ${at + 1} of the line); convert the file to UTF-8`);
};

const tooLong = (line: number, max: number): RollcallError =>
  lineError('invalid-event', line, `longer than ${max} bytes; no event is that large`);

/**
 * Splits a byte stream into its non-blank lines, read once and never held whole. Text must be
 * UTF-8 (a line that is not is refused by number, never silently rewritten to U+FFFD); one byte
 * order mark at the very start is accepted; a line longer than `maxLineBytes` is refused without
 * being buffered.
 */
export async function* splitLines(source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>, options: ReadLinesOptions = {}): AsyncGenerator<NdjsonLine[]> {
  const max = options.maxLineBytes ?? MAX_LINE_BYTES;
  let rest: Buffer | null = null; // bytes of the unfinished line
  let overlong = false; // the unfinished line is already too long: its bytes are dropped
  let lineNo = 0;

  const push = (lines: NdjsonLine[], text: string) => {
    lineNo++;
    if (lineNo === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    // Blank lines are skipped (cheaply: most lines start with '{').
    if (text.length === 0 || (text.charCodeAt(0) !== 123 && !/\S/.test(text))) return;
    if (text.length * 3 > max && Buffer.byteLength(text) > max) lines.push({ line: lineNo, text: '', error: tooLong(lineNo, max) });
    else lines.push({ line: lineNo, text });
  };

  /** Complete lines (`body` ends with a newline), decoded at once; per line only when one is not UTF-8. */
  const complete = (lines: NdjsonLine[], body: Buffer) => {
    let text: string | null = null;
    try {
      text = strictUtf8.decode(body);
    } catch {
      text = null;
    }
    if (text !== null) {
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        push(lines, text.slice(start, nl));
        start = nl + 1;
      }
      return;
    }
    let start = 0;
    for (let nl = body.indexOf(10); nl !== -1; nl = body.indexOf(10, start)) {
      const bytes = body.subarray(start, nl);
      start = nl + 1;
      let lineText: string;
      try {
        lineText = strictUtf8.decode(bytes);
      } catch {
        lineNo++;
        lines.push({ line: lineNo, text: '', error: notUtf8(lineNo, bytes) });
        continue;
      }
      push(lines, lineText);
    }
  };

  for await (const chunk of source) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const lines: NdjsonLine[] = [];
    const lastNl = buf.lastIndexOf(10);
    if (lastNl < 0) {
      if (!overlong) {
        rest = rest ? Buffer.concat([rest, buf]) : Buffer.from(buf);
        if (rest.length > max) {
          overlong = true;
          rest = null;
        }
      }
      continue;
    }
    let from = 0;
    if (overlong) {
      // The newline ending the overlong line: report it, and go on after it.
      lineNo++;
      lines.push({ line: lineNo, text: '', error: tooLong(lineNo, max) });
      from = buf.indexOf(10) + 1;
      overlong = false;
    }
    if (from <= lastNl) {
      const head = buf.subarray(from, lastNl + 1);
      complete(lines, rest ? Buffer.concat([rest, head]) : head);
    }
    rest = null;
    if (lastNl + 1 < buf.length) {
      rest = Buffer.from(buf.subarray(lastNl + 1));
      if (rest.length > max) {
        overlong = true;
        rest = null;
      }
    }
    if (lines.length) yield lines;
  }
  const lines: NdjsonLine[] = [];
  if (overlong) {
    lineNo++;
    lines.push({ line: lineNo, text: '', error: tooLong(lineNo, max) });
  } else if (rest) complete(lines, Buffer.concat([rest, Buffer.from([10])]));
  if (lines.length) yield lines;
}
