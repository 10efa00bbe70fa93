import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, ndjsonFile } from '../support/cli.js';
import { startServe, type ServeProcess } from '../support/serveProcess.js';

// Every way into POST /v1/events refuses what `rollcall append` refuses, and every error, the
// router's own included, is {"error","message"}. One server for the file; each case that must
// append nothing is checked against the store's head afterwards.

let serve: ServeProcess;
beforeAll(async () => {
  serve = await startServe('memory:');
}, 60_000);
afterAll(async () => {
  await serve?.stop();
});

const at = () => new Date(Date.now() - 60_000).toISOString();
const event = (agentId: string, metadata: Record<string, unknown> = {}) =>
  JSON.stringify({ type: 'AgentRegistered', data: { agentId, role: 'worker' }, metadata: { at: at(), ...metadata } });

const post = async (body: string | Buffer, headers: Record<string, string> = {}) => {
  const res = await fetch(`${serve.url}v1/events`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const head = async (): Promise<string | null> => ((await (await fetch(`${serve.url}readyz`)).json()) as { head: string | null }).head;

/** The error body has exactly our shape: `error`, `message`, and only the fields that say where. */
const ourShape = (body: Record<string, unknown>) => {
  expect(typeof body['error']).toBe('string');
  expect(typeof body['message']).toBe('string');
  for (const key of Object.keys(body)) expect(['error', 'message', 'index', 'path', 'line', 'position']).toContain(key);
};

const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

describe('POST bodies the CLI refuses are refused over HTTP, nothing appended', () => {
  const refused: Array<[string, Buffer | string, Record<string, string>, number, string, RegExp]> = [
    ['invalid UTF-8 (0xFF) in JSON', bytes('{"type":"AgentRegistered","data":{"agentId":"a', [0xff], '","role":"worker"},"metadata":{"at":"2026-11-20T10:00:00Z"}}'), {}, 400, 'invalid-json', /not valid UTF-8 \(byte 0xFF at byte 47\)/],
    ['an overlong encoding (C0 AF) in JSON', bytes('{"type":"x","a":"', [0xc0, 0xaf], '"}'), {}, 400, 'invalid-json', /not valid UTF-8 \(byte 0xC0/],
    ['a UTF-8 encoded surrogate (ED A0 80) in JSON', bytes('{"type":"x","a":"', [0xed, 0xa0, 0x80], '"}'), {}, 400, 'invalid-json', /not valid UTF-8 \(byte 0xED/],
    ['a truncated sequence at the end of JSON', bytes('{"type":"x"}', [0xe2, 0x82]), {}, 400, 'invalid-json', /not valid UTF-8/],
    ['invalid UTF-8 on NDJSON line 2', bytes(`${event('ok1')}\n{"type":"AgentRegistered","data":{"agentId":"`, [0xfe], '"}}\n'), { 'content-type': 'application/x-ndjson' }, 400, 'invalid-json', /^line 2: not valid UTF-8/],
    ['a JSON string of NDJSON lines', JSON.stringify(`${event('s1')}\n${event('s2')}\n${event('s3')}`), {}, 400, 'invalid-event', /one event object or an array/],
    ['a JSON number', '42', {}, 400, 'invalid-event', /one event object or an array/],
    ['JSON null', 'null', {}, 400, 'invalid-event', /one event object or an array/],
    ['JSON true', 'true', {}, 400, 'invalid-event', /one event object or an array/],
    ['metadata.__proto__ in JSON', event('p1').replace('"metadata":{', '"metadata":{"__proto__":{"x":1},'), {}, 400, 'invalid-event', /metadata\.__proto__: a key named "__proto__" is refused/],
    ['metadata.__proto__ in NDJSON', `${event('p2')}\n${event('p3').replace('"metadata":{', '"metadata":{"__proto__":1,')}\n`, { 'content-type': 'application/x-ndjson' }, 400, 'invalid-event', /^line 2: metadata\.__proto__/],
    ['a nested __proto__ inside metadata', event('p4').replace('"metadata":{', '"metadata":{"trace":{"a":{"__proto__":null}},'), {}, 400, 'invalid-event', /metadata\.trace\.a\.__proto__/],
    ['data.__proto__', event('p5').replace('"data":{', '"data":{"__proto__":{},'), {}, 400, 'invalid-event', /data\.__proto__/],
    ['a BOM on NDJSON line 2', `${event('b1')}\n\uFEFF${event('b2')}\n`, { 'content-type': 'application/x-ndjson' }, 400, 'invalid-json', /^line 2: .*byte order mark/],
    ['two BOMs at the start of JSON', `\uFEFF\uFEFF${event('b3')}`, {}, 400, 'invalid-json', /not valid JSON/],
    ['Content-Encoding: br with a plain body', event('e1'), { 'content-encoding': 'br' }, 415, 'unsupported-media-type', /content encoding "br"/],
    ['Content-Encoding: gzip with a plain body', event('e2'), { 'content-encoding': 'gzip' }, 415, 'unsupported-media-type', /content encoding "gzip"/],
    ['Content-Encoding: deflate, identity', event('e3'), { 'content-encoding': 'deflate, identity' }, 415, 'unsupported-media-type', /send the body uncompressed/],
    ['whitespace-only NDJSON', ' \n\t\n\r\n', { 'content-type': 'application/x-ndjson' }, 400, 'invalid-event', /no event in the request body/],
    ['a whitespace-only JSON body', '  \n ', {}, 400, 'invalid-event', /no event in the request body/],
    ['a NUL in a string', event('n1').replace('"worker"', '"wor\\u0000ker"'), {}, 400, 'invalid-event', /NUL/],
    // Accepted before the bound, it was a poison event: every later view of the log failed with "Invalid time value".
    ['a lease no date can end (leaseMs 9e15)', JSON.stringify({ type: 'SessionStarting', data: { agentId: 'l1', sessionId: 'l1-s', leaseMs: 9e15 }, metadata: { at: at() } }), {}, 400, 'invalid-event', /data\.leaseMs: Too big: expected number to be <=31536000000/],
    ['nesting 100,000 levels deep', `{"type":"AgentRegistered","data":{"agentId":"d","role":"worker","x":${'['.repeat(100_000)}${']'.repeat(100_000)}},"metadata":{"at":"2026-11-20T10:00:00Z"}}`, {}, 400, 'invalid-event', /nested deeper than 64 levels/],
    ['an array of 10,001 events', `[${Array.from({ length: 10_001 }, () => '{}').join(',')}]`, {}, 413, 'too-many-events', /10001 events in one request/],
  ];

  it.each(refused)('%s → %i', async (_name, body, headers, status, error, message) => {
    const before = await head();
    const r = await post(body, headers);
    expect(r.status).toBe(status);
    ourShape(r.body);
    expect(r.body['error']).toBe(error);
    expect(r.body['message']).toMatch(message);
    expect(await head()).toBe(before);
  }, 30_000);

  it('two different invalid byte strings can no longer collapse into one stored id', async () => {
    const a = await post(bytes('{"id":"', [0xff], '"}'));
    const b = await post(bytes('{"id":"', [0xfe], '"}'));
    expect([a.status, b.status]).toEqual([400, 400]);
    expect(a.body['message']).toContain('0xFF');
    expect(b.body['message']).toContain('0xFE');
  });

  it('one BOM at the very start is accepted on JSON and on NDJSON alike, as `append` accepts it', async () => {
    const json = await post(`\uFEFF${event('bom-json')}`);
    expect(json.status).toBe(201);
    const nd = await post(`\uFEFF${event('bom-nd1')}\n${event('bom-nd2')}\n`, { 'content-type': 'application/x-ndjson' });
    expect(nd.status).toBe(201);
    expect(nd.body['appended']).toBe(2);
  });

  it('Content-Encoding: identity is a plain body', async () => {
    const r = await post(event('identity'), { 'content-encoding': 'identity' });
    expect(r.status).toBe(201);
  });

  it('the CLI refuses metadata.__proto__ with the same message as HTTP', async () => {
    const line = event('cli-proto').replace('"metadata":{', '"metadata":{"__proto__":{"x":1},');
    const r = await cli(['append', ndjsonFile([line])]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^rollcall: line 1: metadata\.__proto__: a key named "__proto__" is refused/);
    const http = await post(`${line}\n`, { 'content-type': 'application/x-ndjson' });
    expect(`rollcall: ${String(http.body['message'])}\n`).toBe(r.stderr.split('\n')[0] + '\n');
  });

  it('the CLI refuses the same bytes as HTTP, naming the same byte', async () => {
    const body = bytes('{"type":"AgentRegistered","data":{"agentId":"a', [0xff], '","role":"worker"},"metadata":{"at":"2026-11-20T10:00:00Z"}}\n');
    const path = ndjsonFile([]);
    writeFileSync(path, body);
    const r = await cli(['append', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not valid UTF-8 text (byte 0xFF at byte 47 of the line)');
    const http = await post(body, { 'content-type': 'application/x-ndjson' });
    expect(http.body['message']).toContain('not valid UTF-8 text (byte 0xFF at byte 47 of the line)');
  });
});

describe("the router's own refusals in our shape", () => {
  const get = async (path: string) => {
    const res = await fetch(`${serve.url}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it.each([
    ['a truncated escape', 'v1/agents/%E0%A4%A'],
    ['a lone %', 'v1/agents/%'],
    ['a non-hex escape', 'v1/pools/%zz'],
    ['an overlong encoding', 'v1/agents/%C0%AF/audit'],
    ['an encoded surrogate', 'v1/agents/%ED%A0%80'],
  ])('%s: 400 invalid-request', async (_name, path) => {
    const r = await get(path);
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: 'invalid-request', message: expect.stringContaining('is not valid percent-encoded UTF-8') });
  });

  it.each([
    ['an agent id', (id: string) => `v1/agents/${id}`],
    ['a pool id', (id: string) => `v1/pools/${id}`],
    ["an agent's audit", (id: string) => `v1/agents/${id}/audit`],
  ])('%s over 500 characters: 414 uri-too-long, its echo cut short; 500 is still a lookup', async (_name, path) => {
    const long = await get(path('a'.repeat(501)));
    expect(long.status).toBe(414);
    expect(long.body).toEqual({ error: 'uri-too-long', message: expect.stringContaining('over 500 characters') });
    expect(String(long.body['message']).length).toBeLessThan(200);
    const exact = await get(path('a'.repeat(500)));
    expect(exact.status).toBe(404);
    ourShape(exact.body);
  });

  it('odd but valid ids are plain 404s: encoded slash, dot-dot, __proto__, constructor', async () => {
    for (const id of ['a%2Fb', '..', '__proto__', 'constructor', '%F0%9F%A6%84']) {
      const r = await get(`v1/agents/${id}`);
      expect(r.status).toBe(404);
      expect(r.body['error']).toBe('not-found');
    }
  });
});
