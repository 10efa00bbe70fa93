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

/** Does `actual` read as `expected`, where a `...` line in `expected` stands for any number of lines? */
const matchesShown = (actual: string[], expected: string[]): boolean => {
  const at = (i: number, j: number): boolean => {
    if (j === expected.length) return i === actual.length;
    if (expected[j] === '...') {
      for (let k = i; k <= actual.length; k++) if (at(k, j + 1)) return true;
      return false;
    }
    return i < actual.length && actual[i] === expected[j] && at(i + 1, j + 1);
  };
  return at(0, 0);
};

describe('the worked example in README.md', () => {
  const script = /^```sh\n(alias rollcall=[\s\S]*?)^```$/m.exec(readme)?.[1];
  const transcript = /^```console\n([\s\S]*?)^```$/m.exec(readme)?.[1];

  it('uses a store of its own and says so', () => {
    expect(script).toBeDefined();
    expect(script).toMatch(/^cd "\$\(mktemp -d\)"/m);
    expect(script).toMatch(/^export ROLLCALL_STORE=sqlite:\.\/example\.db/m);
    expect(readme).toMatch(/runs in a folder and a store of its own/);
  });

  it('runs from a clone with the compiled CLI, and prints what the README shows', () => {
    const cliPath = join(root, 'dist', 'cli', 'main.js');
    const commands: { command: string; expected: string[] }[] = [];
    for (const line of transcript!.replace(/\n$/, '').split('\n')) {
      if (line.startsWith('$ ')) commands.push({ command: line.slice(2), expected: [] });
      else commands.at(-1)!.expected.push(line);
    }
    expect(commands.map((c) => c.command.split(' ').slice(0, 2).join(' '))).toEqual([
      'rollcall append',
      'rollcall replay',
      'rollcall replay',
      'rollcall audit',
      'rollcall check',
    ]);
    // The block as a reader pastes it (aliases do not expand in a script: a function instead),
    // each of its commands' output kept apart.
    const tmp = join(dir, 'worked');
    mkdirSync(tmp, { recursive: true });
    const marker = '@@@ next command @@@';
    const lines = script!.split('\n');
    const firstCommand = lines.findIndex((l) => l.startsWith('rollcall '));
    const run = lines.slice(firstCommand).filter((l) => l.startsWith('rollcall ')).map((l) => l.replace(/\s+#.*$/, ''));
    const out = execFileSync(
      'bash',
      [
        '-c',
        [
          'set -euo pipefail',
          `rollcall() { "${process.execPath}" "${cliPath}" "$@"; }`,
          ...lines.slice(0, firstCommand).filter((l) => !l.startsWith('alias rollcall=')),
          ...run.map((c) => `echo '${marker}'; ${c} 2>&1`),
        ].join('\n'),
      ],
      { cwd: tmp, encoding: 'utf8', env: { ...process.env, TMPDIR: tmp, ROLLCALL_STORE: '' } },
    );
    const printed = new Map(out.split(`${marker}\n`).slice(1).map((o, i) => [run[i]!, o.replace(/\n$/, '').split('\n')]));
    expect(printed.size).toBe(run.length);
    // What the comments claim of the JSON.
    const pool = (json: string[]) => (JSON.parse(json.join('\n')) as { pools: Record<string, { status: { activeCount: number; availableSlots: number } }> }).pools['el-rmw5']!.status;
    expect(pool(printed.get('rollcall replay --json')!)).toMatchObject({ activeCount: 0, availableSlots: 1 });
    commands.forEach(({ command, expected }) => {
      const actual = printed.get(command);
      if (actual === undefined) expect.fail(`$ ${command} is shown but is not in the example`);
      if (!matchesShown(actual, expected)) expect.fail(`$ ${command}\n--- shown\n${expected.join('\n')}\n--- printed\n${actual.join('\n')}`);
    });
  }, 60_000);
  it('the matcher reads `...` as any lines, and nothing else', () => {
    expect(matchesShown(['a', 'b', 'c'], ['a', '...', 'c'])).toBe(true);
    expect(matchesShown(['a', 'c'], ['a', '...', 'c'])).toBe(true);
    expect(matchesShown(['a', 'b', 'c'], ['a', 'c'])).toBe(false);
    expect(matchesShown(['a', 'b'], ['a'])).toBe(false);
    expect(matchesShown(['a', 'x'], ['a', '...'])).toBe(true);
  });
});
