// docs/http.md's examples are what `npm start` serves: the capture script runs the start command
// (with a fixed end for the seeded fleet) and compares its transcript with the file.
import { describe, expect, it } from 'vitest';
import { captureHttpDocs, lineDiff, withCaptures } from '../../scripts/captureHttpDocs.js';

describe('docs/http.md', () => {
  it('holds exactly what a fresh `npm start` answers to each documented request', { timeout: 240_000 }, async () => {
    const { diff } = await captureHttpDocs({ check: true });
    expect(diff, 'docs/http.md differs from what npm start serves; rewrite it with: node --import tsx scripts/captureHttpDocs.ts').toBe('');
  });
});

describe('the capture markers', () => {
  const blocks = new Map([['one', ['$ curl -s localhost:7070/healthz', '{"status":"ok"}']]]);

  it('replace what stands between them, and nothing else', () => {
    const doc = 'before\n<!-- capture:one -->\nstale\n<!-- /capture -->\nafter\n';
    expect(withCaptures(doc, blocks)).toBe('before\n<!-- capture:one -->\n```console\n$ curl -s localhost:7070/healthz\n{"status":"ok"}\n```\n<!-- /capture -->\nafter\n');
  });

  it('a marker the script does not fill, or a capture without its marker, is an error', () => {
    expect(() => withCaptures('<!-- capture:two -->\n<!-- /capture -->', blocks)).toThrow('<!-- capture:two --> that the script does not capture');
    expect(() => withCaptures('no markers', blocks)).toThrow('no <!-- capture:NAME --> … <!-- /capture --> for one');
  });

  it('a difference is shown as lines taken out and put in, with their context', () => {
    expect(lineDiff('a\nb\nc\nd\ne\nf\ng\nh', 'a\nb\nc\nd\nE\nf\ng\nh')).toBe('@@ captured line 3\n c\n d\n-e\n+E\n f\n g');
    expect(lineDiff('same', 'same')).toBe('');
  });
});
