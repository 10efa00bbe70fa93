import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RollcallError } from '../../src/errors.js';
import { openInput } from '../../src/ndjson/openInput.js';
import { readLines } from '../../src/ndjson/readLines.js';
import { splitLines } from '../../src/ndjson/splitLines.js';
import { textLines } from '../../src/ndjson/textLines.js';

const dir = mkdtempSync(join(tmpdir(), 'rollcall-ndjson-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const collect = async <T>(source: AsyncIterable<T[]>): Promise<T[]> => {
  const all: T[] = [];
  for await (const page of source) all.push(...page);
  return all;
};

describe('line reading', () => {
  it('numbers the non-blank lines of a file however it is cut into reads', async () => {
    const path = join(dir, 'lines.ndjson');
    writeFileSync(path, '\uFEFF{"a":1}\n\n  \n{"b":2}\n{"c":3}');
    for (const chunkSize of [1, 3, 64]) {
      expect(await collect(readLines(path, { chunkSize }))).toEqual([
        { line: 1, text: '{"a":1}' },
        { line: 4, text: '{"b":2}' },
        { line: 5, text: '{"c":3}' },
      ]);
    }
  });

  it('refuses a line that is not UTF-8 by its number, and goes on with the next', async () => {
    const lines = await collect(splitLines([Buffer.from('{"a":1}\n'), Buffer.from([0x7b, 0xff, 0x7d, 0x0a]), Buffer.from('{"b":2}\n')]));
    expect(lines.map((l) => [l.line, l.text, l.error?.message])).toEqual([
      [1, '{"a":1}', undefined],
      [2, '', 'line 2: not valid UTF-8 text (byte 0xFF at byte 2 of the line); convert the file to UTF-8'],
      [3, '{"b":2}', undefined],
    ]);
  });

  it('refuses a line longer than the limit without holding it', async () => {
    const lines = await collect(splitLines(['x'.repeat(10), 'y'.repeat(10), '\n{}\n'], { maxLineBytes: 15 }));
    expect(lines.map((l) => [l.line, l.error?.code ?? l.text])).toEqual([
      [1, 'invalid-event'],
      [2, '{}'],
    ]);
  });

  it('reads text lines the same way, refusing a lone surrogate', () => {
    expect(textLines('\uFEFF{}\n\n{"x":"\uD800"}\n').map((l) => [l.line, l.error?.code ?? l.text])).toEqual([
      [1, '{}'],
      [3, 'invalid-json'],
    ]);
  });

  it('a missing file is one io error naming it; an aborted read is interrupted', async () => {
    const missing = join(dir, 'nope.ndjson');
    const e = await collect(readLines(missing)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RollcallError);
    expect([(e as RollcallError).code, (e as RollcallError).message.startsWith(`cannot read ${missing}: ENOENT`)]).toEqual(['io', true]);

    const path = join(dir, 'big.ndjson');
    writeFileSync(path, '{}\n'.repeat(10_000));
    const controller = new AbortController();
    const seen: number[] = [];
    const read = (async () => {
      for await (const chunk of openInput(path, { chunkSize: 16, signal: controller.signal, onRead: (n) => seen.push(n) })) {
        if (seen.length === 2) controller.abort('SIGINT');
        void chunk;
      }
    })();
    await expect(read).rejects.toMatchObject({ code: 'interrupted', message: 'interrupted by SIGINT' });
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.length).toBeLessThan(10_000 * 3 / 16);
  });
});
