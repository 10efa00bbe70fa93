import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isLoopback, startServer, type StartedServer } from '../../src/serve/startServer.js';
import { tokenMatches } from '../../src/serve/auth.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { cli, tempDir } from '../support/cli.js';
import { getJson, postEvents, serve } from './harness.js';

// Real servers and clients on a shared machine: room beyond vitest's 5 s default.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const started: StartedServer[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.close();
});
const up = async (...args: Parameters<typeof serve>) => {
  const s = await serve(...args);
  started.push(s);
  return s;
};
const event = () => JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'a' }, metadata: { at: new Date().toISOString() } });

describe('bearer tokens', () => {
  it('POST needs the write token (401 without or with a wrong one); reads stay open', async () => {
    const s = await up(openMemoryStore(), { token: 'w-secret' });
    const none = await postEvents(s.url, event());
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('unauthorized');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await postEvents(s.url, event(), 'application/json', { authorization: 'Bearer w-secre' })).status).toBe(401);
    expect((await postEvents(s.url, event(), 'application/json', { authorization: 'Basic w-secret' })).status).toBe(401);
    expect((await postEvents(s.url, event(), 'application/json', { authorization: 'Bearer w-secret' })).status).toBe(201);
    expect((await getJson(`${s.url}/v1/pools`)).status).toBe(200);
    // A refused write appended nothing: only the one authorized heartbeat is there.
    expect((await getJson(`${s.url}/v1/projection?minPosition=1`)).body.position).toBe('1');
  });

  it('--read-token locks reads (the write token reads too); healthz and readyz never need one', async () => {
    const s = await up(openMemoryStore(), { token: 'w-secret', readToken: 'r-secret' });
    for (const path of ['/v1/pools', '/v1/projection', '/metrics', '/v1/changes', '/openapi.json', '/']) {
      expect((await getJson(`${s.url}${path}`)).status, path).toBe(401);
    }
    expect((await getJson(`${s.url}/v1/pools`, { headers: { authorization: 'Bearer r-secret' } })).status).toBe(200);
    expect((await getJson(`${s.url}/v1/pools`, { headers: { authorization: 'Bearer w-secret' } })).status).toBe(200);
    expect((await getJson(`${s.url}/healthz`)).status).toBe(200);
    expect((await getJson(`${s.url}/readyz`)).status).toBe(200);
    // The read token does not grant writes.
    expect((await postEvents(s.url, event(), 'application/json', { authorization: 'Bearer r-secret' })).status).toBe(401);
  });

  it('tokens compare by value only', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abc', 'abd')).toBe(false);
    expect(tokenMatches('abc', 'abcd')).toBe(false);
    expect(tokenMatches('', 'a')).toBe(false);
  });
});

describe('binding', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.10', false],
    ['example.org', false],
  ])('%s is loopback: %s', (host, loopback) => expect(isLoopback(host)).toBe(loopback));

  it('refuses a non-loopback bind without a token, and allows it with one', async () => {
    await expect(startServer({ store: openMemoryStore(), host: '0.0.0.0', port: 0 })).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without a token/);
    const s = await up(openMemoryStore(), { host: '0.0.0.0', token: 't' });
    expect(s.url).toMatch(/^http:\/\//);
  });

  it('the CLI exits 2 with one line for a public bind without a token, or a read token without a write token', async () => {
    const open = await cli(['serve', '--host', '0.0.0.0', '--port', '0']);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/^rollcall: refusing to listen on 0\.0\.0\.0 without a token/);
    const readOnly = await cli(['serve', '--port', '0', '--read-token', 'r']);
    expect(readOnly.code).toBe(2);
    expect(readOnly.stderr).toMatch(/--read-token needs a write token/);
    const file = join(tempDir(), 'empty-token');
    writeFileSync(file, '\n');
    const empty = await cli(['serve', '--port', '0', '--token-file', file]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/holds no token/);
  });
});

describe('logging', () => {
  /** A log stream that keeps each line written to it. */
  const logLines = () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    return { lines, stream };
  };

  it('writes one structured line per request, and no store password anywhere', async () => {
    const { lines, stream } = logLines();
    const store = openMemoryStore();
    // A store whose URL carries a password, as a misbehaving error path could echo it.
    Object.defineProperty(store, 'url', { value: 'postgres://rollcall:hunter2@db.internal:5432/rollcall' });
    const s = await up(store, { logger: { level: 'info', stream } });
    await getJson(`${s.url}/v1/pools`);
    await getJson(`${s.url}/nope`);
    await postEvents(s.url, '{"broken"', 'application/json');
    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(requests.map((r) => [r.method, r.url, r.status])).toEqual([
      ['GET', '/v1/pools', 200],
      ['GET', '/nope', 404],
      ['POST', '/v1/events', 400],
    ]);
    expect(requests.every((r) => typeof r.ms === 'number' && r.level === 30)).toBe(true);
    // Each request's line is its own logger's: the request's id bound.
    expect(requests.map((r) => r.reqId)).toEqual([expect.stringMatching(/^req-/), expect.stringMatching(/^req-/), expect.stringMatching(/^req-/)]);
    expect(new Set(requests.map((r) => r.reqId)).size).toBe(3);
    expect(lines.join('\n')).not.toContain('hunter2');
  });

  it('at level warn writes no line for a request that went well, and the line of a failed one with its request id', async () => {
    const { lines, stream } = logLines();
    const store = openMemoryStore();
    const refuse = async (): Promise<never> => {
      throw new Error('disk on fire');
    };
    store.appendBatch = refuse;
    store.appendGroup = refuse;
    const s = await up(store, { logger: { level: 'warn', stream } });
    await getJson(`${s.url}/v1/pools`);
    expect((await postEvents(s.url, event())).status).toBe(500);
    const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string; reqId?: string; err?: { message: string } });
    expect(logged.map((l) => [l.level, l.msg, l.err?.message])).toEqual([[50, 'internal error', 'disk on fire']]);
    expect(logged[0]!.reqId).toMatch(/^req-/);
  });

  it('redacts a password in an error message that reaches a response', async () => {
    const store = openMemoryStore();
    // Every write path fails (POST appends through the group-commit queue, appendGroup, when the store has one).
    const refuse = async (): Promise<never> => {
      throw new Error('connect ECONNREFUSED postgres://rollcall:hunter2@db.internal:5432/rollcall');
    };
    store.appendBatch = refuse;
    store.appendGroup = refuse;
    const s = await up(store);
    const res = await postEvents(s.url, event());
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'internal', message: 'internal error (see the server log)' });
    expect(res.text).not.toContain('hunter2');
  });
});
