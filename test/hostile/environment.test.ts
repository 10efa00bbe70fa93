import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync, statSync, watch, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { builtCli, cli, finished, ndjsonFile, runBuilt, spawnBuilt, tempDir } from '../support/cli.js';
import { startServe } from '../support/serveProcess.js';

// The environment's faults are the environment's: a busy port, an address or host that is not
// there, an output that cannot be written are exit 2 or 5 with one line, never exit 4 "a bug".
// Timers and signals: long intervals do not spin, generate stops on a signal, a long-poll does not
// hold the drain. A damaged stored row is named by its position over HTTP as on the CLI.

/** The lines a failed command printed, with the exit code: one line (plus at most one detail), no stack. */
const oneLine = (r: { stderr: string }) => {
  const lines = r.stderr.split('\n').filter(Boolean);
  expect(lines.length).toBeGreaterThanOrEqual(1);
  expect(lines.length).toBeLessThanOrEqual(2);
  if (lines[1] !== undefined) expect(lines[1]).toMatch(/^ {2}detail: /);
  expect(r.stderr).not.toContain('internal error');
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
};

const listening = async (): Promise<{ server: Server; port: number }> => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
};

describe('serve: the environment refuses to listen → exit 2, one line', () => {
  it('a port in use', async () => {
    const { server, port } = await listening();
    try {
      const r = await runBuilt(['serve', '--store', 'memory:', '--port', String(port)]);
      expect(r.code).toBe(2);
      expect(oneLine(r)).toBe(`rollcall: cannot listen on 127.0.0.1:${port}: the port is in use by another process (choose another --port, or stop that process)`);
    } finally {
      server.close();
    }
  }, 30_000);

  it('an address no interface of this machine has (TEST-NET-1)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'token'), 'tok\n');
    const r = await runBuilt(['serve', '--store', 'memory:', '--host', '192.0.2.1', '--port', '0', '--token-file', join(dir, 'token')]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/^rollcall: cannot listen on 192\.0\.2\.1:0: no network interface of this machine has that address/);
  }, 30_000);

  it('a host name that does not resolve (.invalid never does)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'token'), 'tok\n');
    const r = await runBuilt(['serve', '--store', 'memory:', '--host', 'no-such-host.invalid', '--port', '0', '--token-file', join(dir, 'token')]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/^rollcall: cannot listen on no-such-host\.invalid:0: the host name (does not resolve|could not be resolved now)/);
  }, 30_000);

  it('a busy port leaves a sqlite store it created openable and the banner unprinted', async () => {
    const { server, port } = await listening();
    const path = join(tempDir(), 'store.db');
    try {
      const r = await runBuilt(['serve', '--store', `sqlite:${path}`, '--port', String(port)]);
      expect(r.code).toBe(2);
      expect(r.stderr).not.toContain(' on http');
      expect((await cli(['replay', '--store', `sqlite:${path}`])).code).toBe(0);
    } finally {
      server.close();
    }
  }, 30_000);
});

describe('schema --out: an output that cannot be written → exit 5, one line', () => {
  it.each([
    ['a directory', () => tempDir()],
    ['a path under a regular file', () => `${ndjsonFile([])}/schema.json`],
    ['a path under /proc that does not exist (Node\'s recursive mkdir never returns there)', () => '/proc/no-such-dir/schema.json'],
    ['/dev/full', () => '/dev/full'],
  ])('%s', async (_name, out) => {
    const r = await cli(['schema', '--out', out()]);
    expect(r.code).toBe(5);
    expect(oneLine(r)).toMatch(/^rollcall: cannot write the output to /);
  }, 30_000);

  it('a missing directory is created, level by level', async () => {
    const out = join(tempDir(), 'a', 'b', 'c', 'events.json');
    const r = await cli(['schema', '--out', out]);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toHaveProperty('$schema');
  });
});

describe('flags are checked before anything is created', () => {
  it.each([
    [['--agents', 'abc'], '--agents must be a positive integer, got "abc"'],
    [['--events', '0'], '--events must be a positive integer, got "0"'],
    [['--events', '1e3'], '--events must be a positive integer, got "1e3"'],
    [['--agents=-4'], '--agents must be a positive integer, got "-4"'],
  ])('demo %j: exit 2, no store file', async (flags, message) => {
    const path = join(tempDir(), 'demo.db');
    const r = await cli(['demo', '--store', `sqlite:${path}`, ...flags]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toBe(`rollcall: ${message}`);
    expect(existsSync(path)).toBe(false);
  });

  it.each([['1e400'], ['-1'], ['NaN'], ['0'], ['Infinity'], ['0x10']])('reconcile --every %s: exit 2', async (every) => {
    const r = await cli(['reconcile', '--store', 'memory:', `--every=${every}`]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/^rollcall: --every must be a positive number of seconds/);
  });

  it.each([['1e400'], ['-1'], ['0'], ['abc']])('serve --reconcile-every %s: exit 2', async (every) => {
    const r = await cli(['serve', '--store', 'memory:', '--port', '0', `--reconcile-every=${every}`]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/^rollcall: --reconcile-every must be a positive number of seconds/);
  });
});

describe('generate --start: every time it writes is one its reader accepts', () => {
  it.each([
    ['far in the future', ['--start', '9999-12-31T23:00:00Z', '--events', '100000']],
    ['at the very end of year 9999', ['--start', '9999-12-31T23:59:59.999Z', '--events', '1']],
    ['past year 9999', ['--start', '+010000-01-01T00:00:00Z', '--events', '1']],
    ['before year 0', ['--start=-000001-01-01T00:00:00Z', '--events', '1']],
    ['spread over days that end past 9999', ['--start', '9999-12-01T00:00:00Z', '--events', '10', '--days', '60']],
  ])('%s: exit 2, nothing written', async (_name, flags) => {
    const r = await cli(['generate', '--agents', '3', ...flags]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(oneLine(r)).toMatch(/^rollcall: generate: start .*: the history would reach past year 9999 or before year 0000/);
  });

  it('late in year 9999 but within it: written, and replayed by its own reader', async () => {
    const dir = tempDir();
    const r = await cli(['generate', '--agents', '3', '--events', '2000', '--start', '9999-12-30T00:00:00Z']);
    expect(r.code).toBe(0);
    writeFileSync(join(dir, 'late.ndjson'), r.stdout);
    const replay = await cli(['replay', '--input', join(dir, 'late.ndjson'), '--json']);
    expect(replay.stderr).toBe('');
    expect(replay.code).toBe(0);
  });
});

describe('signals and long timers', () => {
  const generateUntilSignal = async (signal: NodeJS.Signals, expected: number) => {
    const dir = tempDir();
    const out = join(dir, 'out.ndjson');
    const fd = openSync(out, 'w');
    // stdout a file: its writes complete without returning to the event loop.
    const child = spawn(process.execPath, [builtCli, 'generate', '--agents', '50', '--events', '3000000'], { stdio: ['ignore', fd, 'pipe'] });
    closeSync(fd);
    const firstWrite = new Promise<void>((resolve) => {
      const w = watch(out, () => {
        w.close();
        resolve();
      });
    });
    const done = finished(child);
    await firstWrite;
    child.kill(signal);
    const r = await done;
    expect(r.code).toBe(expected);
    expect(r.stderr).toMatch(new RegExp(`^rollcall: interrupted by ${signal}: \\d+ of 3000000 events written\\n$`));
    const lines = readFileSync(out, 'utf8').split('\n').length - 1;
    expect(lines).toBeLessThan(3_000_000);
    expect(statSync(out).size).toBeGreaterThan(0);
  };

  it('generate into a file stops on SIGINT with 130', () => generateUntilSignal('SIGINT', 130), 120_000);
  it('generate into a file stops on SIGTERM with 143', () => generateUntilSignal('SIGTERM', 143), 120_000);

  it('reconcile --every above 2^31 ms waits instead of spinning every millisecond', async () => {
    const dir = tempDir();
    const path = join(dir, 'store.db');
    // A generated fleet (fixed seed) with stuck sessions: the first pass corrects them and says so.
    writeFileSync(join(dir, 'g.ndjson'), (await cli(['generate', '--agents', '20', '--events', '2000', '--seed', '1'])).stdout);
    expect((await cli(['append', '--store', `sqlite:${path}`, join(dir, 'g.ndjson')])).code).toBe(0);
    // 3,000,000 s = 3e9 ms: Node's setTimeout would fire it after 1 ms.
    const child = spawnBuilt(['reconcile', '--store', `sqlite:${path}`, '--every', '3000000', '--no-pid-check', '--starting-timeout-s', '0', '--terminating-timeout-s', '0']);
    const done = finished(child);
    await new Promise<void>((resolve) => {
      let seen = '';
      child.stdout!.on('data', (d: Buffer) => {
        seen += d.toString();
        if (seen.includes('reconcile: at position')) resolve();
      });
    });
    // A whole other command's run in between: ample time for a spinning loop to run many passes.
    expect((await runBuilt(['version'])).code).toBe(0);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/reconcile: stopped after 1 pass: /);
  }, 60_000);

  it('a long-poll is answered 503 at shutdown instead of holding the drain for its wait', async () => {
    const serve = await startServe('memory:');
    const started = performance.now();
    const poll = fetch(`${serve.url}v1/projection?minPosition=1000&waitMs=30000`).then(async (res) => ({ status: res.status, body: await res.json() }));
    // Once another request has been answered, the long-poll (sent first) is in the server.
    expect((await fetch(`${serve.url}healthz`)).status).toBe(200);
    const exit = serve.stop();
    const r = await poll;
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ error: 'shutting-down', message: expect.stringContaining('shutting down') });
    expect(await exit).toBe(0);
    expect(performance.now() - started).toBeLessThan(25_000);
  }, 60_000);
});

describe('a damaged stored row is named by its position over HTTP, as replay names it', () => {
  const damaged = async () => {
    const dir = tempDir();
    const path = join(dir, 'store.db');
    const gen = await cli(['generate', '--agents', '3', '--events', '30', '--seed', '1']);
    writeFileSync(join(dir, 'g.ndjson'), gen.stdout);
    expect((await cli(['append', '--store', `sqlite:${path}`, join(dir, 'g.ndjson')])).code).toBe(0);
    const db = new Database(path);
    db.prepare(`UPDATE events SET data = '{bad' WHERE position = 10`).run();
    const agent = (db.prepare('SELECT data FROM events WHERE position = 2').get() as { data: string }).data;
    db.close();
    return { path, agentId: (JSON.parse(agent) as { agentId: string }).agentId };
  };

  it('replay exits 3 naming position 10; time travel past it and the audit answer 503 corrupt-store naming it; before it still works', async () => {
    const { path, agentId } = await damaged();
    const replay = await cli(['replay', '--store', `sqlite:${path}`]);
    expect(replay.code).toBe(3);
    expect(replay.stderr).toMatch(/^rollcall: position 10: /);
    const serve = await startServe(`sqlite:${path}`);
    try {
      for (const route of ['v1/projection?until=20', 'v1/projection?asOf=2030-01-01T00:00:00Z', `v1/agents/${agentId}/audit`]) {
        const res = await fetch(`${serve.url}${route}`);
        expect(res.status, route).toBe(503);
        const body = (await res.json()) as Record<string, unknown>;
        expect(body['error'], route).toBe('corrupt-store');
        expect(body['message'], route).toMatch(/^position 10: unreadable stored event/);
        expect(body['position'], route).toBe('10');
      }
      const before = await fetch(`${serve.url}v1/projection?until=5`);
      expect(before.status).toBe(200);
      expect(((await before.json()) as { position: string }).position).toBe('5');
      const ready = await fetch(`${serve.url}readyz`);
      expect(ready.status).toBe(503);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  }, 60_000);
});
