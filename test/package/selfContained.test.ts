import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

describe('the documentation links', () => {
  const pages = tracked.filter((f) => f === 'README.md' || (f.startsWith('docs/') && f.endsWith('.md')));

  it.each(pages)('every relative link in %s points to a file in the repository', (page) => {
    const text = readFileSync(`${root}/${page}`, 'utf8');
    const dir = page.includes('/') ? page.slice(0, page.lastIndexOf('/') + 1) : '';
    const broken: string[] = [];
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue; // a URL or an anchor in the page
      const file = target.split('#')[0]!;
      if (!existsSync(`${root}/${dir}${file}`)) broken.push(target);
    }
    expect(broken).toEqual([]);
  });
});
