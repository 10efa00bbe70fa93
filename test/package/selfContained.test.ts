import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);

// Built from pieces so that this file does not match itself.
const outside = [
  { name: 'a link or path to the shared folder', pattern: new RegExp(['\\.\\.', 'shared'].join('/')) },
  { name: 'an absolute path under /work', pattern: new RegExp(`(?<![\\w.\\-/])/${'work'}/`) },
];

describe('the repository is self-contained', () => {
  it('tracks files to check (git ls-files works here)', () => {
    expect(tracked).toContain('README.md');
    expect(tracked).toContain('package.json');
  });

  it.each(outside)('no tracked file contains $name', ({ pattern }) => {
    const hits: string[] = [];
    for (const file of tracked) {
      let text: string;
      try {
        text = readFileSync(`${root}/${file}`, 'utf8');
      } catch {
        continue; // listed but deleted in the work tree
      }
      if (text.includes('\0')) continue; // binary
      text.split('\n').forEach((line, i) => {
        if (pattern.test(line)) hits.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
    }
    expect(hits).toEqual([]);
  });

  it('the checks find what they look for', () => {
    expect(outside[0]!.pattern.test(`see [SPEC](${'..'}/shared/SPEC.md)`)).toBe(true);
    expect(outside[1]!.pattern.test(`cd /${'work'}/main`)).toBe(true);
    expect(outside[1]!.pattern.test('https://example.org/work/x and src/work/y')).toBe(false);
  });
});
