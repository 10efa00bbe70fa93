import { openInput } from './openInput.js';
import { splitLines, type NdjsonLine, type ReadLinesOptions } from './splitLines.js';

/** Streams the non-blank lines of a file, FIFO or stdin (`-`), reading it exactly once. */
export const readLines = (path: string, options: ReadLinesOptions = {}): AsyncGenerator<NdjsonLine[]> =>
  splitLines(openInput(path, options), options);
