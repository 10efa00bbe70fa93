import { RollcallError } from '../errors.js';
import type { NdjsonLine } from './splitLines.js';

/** The non-blank lines of NDJSON text already decoded (a leading BOM dropped); a line that is not well-formed UTF-16 is refused. */
export const textLines = (text: string): NdjsonLine[] => {
  const lines: NdjsonLine[] = [];
  const all = text.split('\n');
  for (let i = 0; i < all.length; i++) {
    let t = all[i]!;
    if (i === 0 && t.charCodeAt(0) === 0xfeff) t = t.slice(1);
    if (!/\S/.test(t)) continue;
    if (!(t as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      const error = new RollcallError('invalid-json', `line ${i + 1}: contains a lone UTF-16 surrogate, which is not text`, { line: i + 1 });
      lines.push({ line: i + 1, text: '', error });
    } else lines.push({ line: i + 1, text: t });
  }
  return lines;
};
