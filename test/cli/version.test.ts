import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('rollcall --version', () => {
  it.each([['--version'], ['-V'], ['version']])('%s prints package.json’s version', async (flag) => {
    expect(await cli([flag])).toEqual({ code: 0, stdout: `rollcall ${version}\n`, stderr: '' });
  });

  it('the built bin prints the same', () => {
    const out = execFileSync(process.execPath, [new URL('../../dist/cli/main.js', import.meta.url).pathname, '--version'], { encoding: 'utf8' });
    expect(out).toBe(`rollcall ${version}\n`);
  }, 30_000);

  it('version and schema are listed by --help', async () => {
    const { stdout } = await cli(['--help']);
    expect(stdout).toMatch(/^ {2}schema {4}/m);
    expect(stdout).toMatch(/^ {2}version {3}/m);
  });

  it('refuses stray arguments with exit 2', async () => {
    const { code, stderr } = await cli(['version', 'extra']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^rollcall: .*extra/);
  });
});
