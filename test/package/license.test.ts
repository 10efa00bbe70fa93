// package.json says MIT: the repository and the published package carry the MIT text that says so.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { license: string };

describe('the licence', () => {
  it('LICENSE is the MIT licence, as package.json declares', () => {
    expect(pkg.license).toBe('MIT');
    const text = readFileSync(`${root}/LICENSE`, 'utf8');
    expect(text.split('\n')[0]).toBe('MIT License');
    expect(text).toMatch(/^Copyright \(c\) \d{4} \S.*$/m);
    expect(text).toContain('Permission is hereby granted, free of charge, to any person obtaining a copy');
    expect(text).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
  });

  it('is tracked and ships in the package', () => {
    expect(execFileSync('git', ['ls-files', 'LICENSE'], { cwd: root, encoding: 'utf8' }).trim()).toBe('LICENSE');
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    ) as [{ files: { path: string }[] }];
    expect(packed.files.map((f) => f.path)).toContain('LICENSE');
  });
});
