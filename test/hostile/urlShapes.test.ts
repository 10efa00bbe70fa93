import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { cli, finished, ndjsonFile, runBuilt, spawnBuilt } from '../support/cli.js';

// Every URL shape a user can write, against every output: no password, whichever way it is
// written. Nothing listens on port 1, so the shapes that parse fail to connect (exit 3) and the
// driver's own error is printed; the shapes that cannot be split one way only are refused before
// any driver sees them (exit 2). Two password fragments (s3cret, qq9) must both stay out.

const at = '2026-11-20T10:00:00.000Z';
const file = () => ndjsonFile([{ type: 'AgentRegistered', data: { agentId: 'a1', role: 'worker' }, metadata: { at } }]);

const noSecret = (text: string) => {
  expect(text).not.toContain('s3cret');
  expect(text).not.toContain('qq9');
};

/** [shape, exit code, URL] */
const shapes: Array<[string, 2 | 3, string]> = [
  ['a space in the password', 2, 'postgres://u:s3cret qq9@127.0.0.1:1/db'],
  ['a tab in the password', 2, 'postgres://u:s3cret\tqq9@127.0.0.1:1/db'],
  ['a newline in the password', 2, 'postgres://u:s3cret\nqq9@127.0.0.1:1/db'],
  ['a carriage return in the password', 2, 'postgres://u:s3cret\rqq9@127.0.0.1:1/db'],
  ["Azure's user@server user name", 3, 'postgres://u@srv:s3cret@127.0.0.1:1/db'],
  ['a space in the user name', 2, 'postgres://my user:s3cret@127.0.0.1:1/db'],
  ['an unencoded / in the password', 2, 'postgres://u:s3cret/qq9@127.0.0.1:1/db'],
  ['an unencoded # in the password', 2, 'postgres://u:s3cret#qq9@127.0.0.1:1/db'],
  ['an unencoded ? in the password', 2, 'postgres://u:s3cret?qq9@127.0.0.1:1/db'],
  ['a numeric password with a / (parses as host:port/path)', 2, 'postgres://u:1234/s3cret@127.0.0.1:1/db'],
  ['an unencoded @ in the password', 3, 'postgres://u:s3cret@qq9@127.0.0.1:1/db'],
  ['an @ in both user and password', 3, 'postgresql://u@srv:s3cret@qq9@127.0.0.1:1/db'],
  ['an encoded @ and space in the password', 3, 'postgresql://u:s3cret%40qq9%20x@127.0.0.1:1/db'],
  ['?password= with a space', 2, 'postgres://u@127.0.0.1:1/db?password=s3cret qq9'],
  ['&sslpassword= encoded', 3, 'postgres://u@127.0.0.1:1/db?sslmode=disable&sslpassword=s3cret%20qq9'],
  ['kurrentdb:// with a password', 3, 'kurrentdb://admin:s3cret@127.0.0.1:1?tls=false'],
  ['esdb:// with a password', 3, 'esdb://admin:s3cret@127.0.0.1:1?tls=false'],
  ['esdb:// with a / in the password', 2, 'esdb://admin:s3cret/qq9@127.0.0.1:1?tls=false'],
  ['kurrentdb:// with a space in the password', 2, 'kurrentdb://admin:s3cret qq9@127.0.0.1:1?tls=false'],
  ['esdb:// cluster seeds with a password', 3, 'esdb://admin:s3cret@127.0.0.1:1,127.0.0.1:2?tls=false&maxDiscoverAttempts=1'],
];

describe('no password in any output, for every URL shape', () => {
  it.each(shapes)('%s: replay exits %i, one masked line', async (_shape, code, url) => {
    const r = await cli(['replay', '--store', url]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(/^rollcall: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    noSecret(r.stdout + r.stderr);
    if (code === 2) expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  }, 60_000);

  it.each(shapes.filter(([, code]) => code === 2))('%s: append from ROLLCALL_STORE in a real process refuses it, masked, nothing read', async (_shape, _code, url) => {
    const r = await runBuilt(['append', file()], { env: { ROLLCALL_STORE: url } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^rollcall: store URL ".*\*\*\*.* contains /);
    noSecret(r.stdout + r.stderr);
  }, 60_000);

  it.each(shapes.filter(([, code]) => code === 2))('%s: serve refuses it before listening, masked', async (_shape, _code, url) => {
    const r = await runBuilt(['serve', '--store', url, '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain(' on http');
    noSecret(r.stdout + r.stderr);
  }, 60_000);

  it('serve on an unreachable store with a password: exit 3, every line masked', async () => {
    const r = await runBuilt(['serve', '--store', 'postgres://u@srv:s3cret@qq9@127.0.0.1:1/db', '--port', '0']);
    expect(r.code).toBe(3);
    noSecret(r.stdout + r.stderr);
    expect(r.stderr).toContain('***');
  }, 60_000);

  it('the refusal shows where the password was, masked whole, on one line', async () => {
    const r = await cli(['check', '--store', 'postgres://u:s3cret\nqq9@127.0.0.1:1/db']);
    expect(r.stderr).toBe('rollcall: store URL "postgres://***@127.0.0.1:1/db" contains a space, tab, newline or control character (percent-encode it: %20, %09, %0A)\n');
  });

  it('a user@server user name keeps its user and masks only the password', async () => {
    const r = await cli(['append', '--store', 'postgres://u@srv:s3cret@127.0.0.1:1/db', file()]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('postgres://u@srv:***@127.0.0.1:1/db');
  }, 60_000);

  it('a file path with spaces and @ is not a URL to refuse', async () => {
    const r = await cli(['replay', '--store', 'sqlite:/nonexistent dir/a@b c.db']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('/nonexistent dir/a@b c.db');
  });

  it('watch on a refused URL exits 2 at once instead of following', async () => {
    const child = spawnBuilt(['watch', '--store', 'postgres://u:s3cret qq9@127.0.0.1:1/db']);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(2);
    noSecret(stderr);
  }, 60_000);

  it('every log line is masked on its way out, whatever it carries (here the query string of a client)', async () => {
    const child = spawnBuilt(['serve', '--store', 'memory:', '--port', '0', '--log-level', 'info']);
    const done = finished(child);
    const url = await new Promise<string>((resolve) => {
      let err = '';
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        const m = / on (http:\/\/\S+)/.exec(err);
        if (m) resolve(m[1]!);
      });
    });
    expect((await fetch(`${url}/healthz?x=postgres://u:s3cret@h/db&password=qq9`)).status).toBe(200);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"url":"/healthz?x=postgres://u:***@h/db&password=***"');
    noSecret(r.stdout + r.stderr);
  }, 60_000);
});
