import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);

// Inside the repository, so that `import … from 'rollcall'` resolves to the built package itself
// (package self-reference through its `exports`), exactly as an installed copy would.
const dir = join(root, '.rollcall-tmp', `readme-${process.pid}`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the TypeScript in README.md', () => {
  it('has at least one example', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it.each(blocks.map((code, i) => [i + 1, code] as const))('example %i type-checks against the built package and prints what it says', (n, code) => {
    const out = join(dir, `example${n}`);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'example.ts'), code);
    writeFileSync(
      join(out, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          verbatimModuleSyntax: true,
          types: ['node'],
          rootDir: '.',
          skipLibCheck: true,
          outDir: 'out',
        },
        files: ['example.ts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    try {
      execFileSync(process.execPath, [tsc, '-p', out], { cwd: out, encoding: 'utf8' });
    } catch (e) {
      expect.fail(`tsc: ${(e as { stdout?: string }).stdout ?? String(e)}`);
    }
    const stdout = execFileSync(process.execPath, [join(out, 'out', 'example.js')], { cwd: out, encoding: 'utf8' });
    const expected = [...code.matchAll(/\/\/ → (.*)$/gm)].map((m) => m[1]!.trim());
    expect(stdout.trim().split('\n')).toEqual(expected);
  }, 60_000);
});
