import { get } from 'node:http';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ProjectionJsonSchema } from '../../src/serve/viewSchemas.js';
import type { StartedServer } from '../../src/serve/startServer.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { cli, tempDir } from '../support/cli.js';
import { agent, pool, spawned, starting } from '../support/lifecycle.js';
import { canonical, fleet, getJson, postEvents, serve } from './harness.js';

// Real servers and clients on a shared machine: room beyond vitest's 5 s default.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

// One server over a sqlite file with a generated fleet: the CLI reads the same file, so every
// answer can be compared with what `replay --json` / `audit --json` print.
let store: EventStore;
let server: StartedServer;
let base: string;
let storeUrl: string;
const nowIso = () => new Date().toISOString();

beforeAll(async () => {
  storeUrl = `sqlite:${join(tempDir(), 'serve.db')}`;
  store = openSqliteStore({ path: storeUrl.slice('sqlite:'.length) });
  await store.appendBatch(fleet(40, 3000));
  server = await serve(store);
  base = server.url;
});

afterAll(async () => {
  await server?.close();
  await store?.close();
});

const headPosition = async () => (await store.head())!.toString();

describe('GET /healthz, /readyz', () => {
  it('healthz answers ok and readyz is ready at the head once caught up', async () => {
    expect((await getJson(`${base}/healthz`)).body).toEqual({ status: 'ok' });
    const ready = await getJson(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', position: await headPosition(), head: await headPosition() });
  });
});

describe('GET /v1/projection', () => {
  it('is byte for byte what `replay --json` prints at the same position (keys sorted)', async () => {
    const res = await getJson(`${base}/v1/projection`);
    expect(res.status).toBe(200);
    expect(res.headers.get('rollcall-position')).toBe(res.body.position);
    expect(ProjectionJsonSchema.safeParse(res.body).success).toBe(true);
    const printed = await cli(['replay', '--store', storeUrl, '--json', '--no-snapshot']);
    expect(printed.code).toBe(0);
    expect(JSON.parse(printed.stdout).position).toBe(res.body.position);
    expect(canonical(res.text)).toBe(canonical(printed.stdout));
  });

  it('is compressed when the client asks (gzip, br), the same bytes once decompressed; plain otherwise', async () => {
    const raw = (encoding: string) =>
      new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
        get(`${base}/v1/projection`, { headers: { 'accept-encoding': encoding } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
          res.on('error', reject);
        }).on('error', reject);
      });
    const plain = await raw('identity');
    expect(plain.encoding).toBeUndefined();
    const gzipped = await raw('gzip');
    expect(gzipped.encoding).toBe('gzip');
    expect(gunzipSync(gzipped.body).equals(plain.body)).toBe(true);
    expect(gzipped.body.length).toBeLessThan(plain.body.length / 4);
    const brotli = await raw('br');
    expect(brotli.encoding).toBe('br');
    expect(brotliDecompressSync(brotli.body).equals(plain.body)).toBe(true);
  });

  it('?until=P and ?asOf=T travel in time exactly as replay --until / --as-of', async () => {
    const until = await getJson(`${base}/v1/projection?until=1234`);
    expect(until.status).toBe(200);
    expect(until.headers.get('rollcall-position')).toBe('1234');
    const printedUntil = await cli(['replay', '--store', storeUrl, '--json', '--until', '1234']);
    expect(canonical(until.text)).toBe(canonical(printedUntil.stdout));

    const asOf = '2026-11-20T00:30:00.000Z';
    const at = await getJson(`${base}/v1/projection?asOf=${encodeURIComponent(asOf)}`);
    expect(at.status).toBe(200);
    const printedAsOf = await cli(['replay', '--store', storeUrl, '--json', '--as-of', asOf]);
    expect(canonical(at.text)).toBe(canonical(printedAsOf.stdout));
    expect(at.body.position).not.toBe(until.body.position);
  });

  it('?minPosition waits for a write (read-your-writes) and answers 504 when it does not come', async () => {
    // The POST goes out once the server is waiting for the position (not before: then nothing waits).
    const whenProcessed = server.rollcall.whenProcessed.bind(server.rollcall);
    let waitingOnServer!: () => void;
    const serverWaits = new Promise<void>((r) => (waitingOnServer = r));
    const spy = vi.spyOn(server.rollcall, 'whenProcessed').mockImplementation((...args) => {
      const reached = whenProcessed(...args);
      waitingOnServer();
      return reached;
    });
    const waiting = getJson(`${base}/v1/projection?minPosition=${BigInt(await headPosition()) + 1n}&waitMs=10000`);
    await serverWaits;
    spy.mockRestore();
    const posted = await postEvents(base, JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'el-late' }, metadata: { at: nowIso() } }));
    expect(posted.status).toBe(201);
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(BigInt(res.body.position)).toBeGreaterThanOrEqual(BigInt(posted.body.last));

    const far = await getJson(`${base}/v1/projection?minPosition=99999999&waitMs=150`);
    expect(far.status).toBe(504);
    expect(far.body.error).toBe('timeout');
    expect(far.headers.get('rollcall-position')).toBe(await headPosition());
  });

  it.each([
    ['waitMs over the maximum', '?minPosition=1&waitMs=30001'],
    ['a non-numeric position', '?until=abc'],
    ['a time without a zone', '?asOf=2026-11-20T10:00:00'],
    ['minPosition with time travel', '?minPosition=1&until=2'],
  ])('400 for %s', async (_name, query) => {
    const res = await getJson(`${base}/v1/projection${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid-request');
    expect(typeof res.body.message).toBe('string');
    expect(res.text).not.toMatch(/\bat .*\.(js|ts):\d+/);
  });
});

describe('pools, agents, sessions, running, anomalies', () => {
  it('answer from the same view, each with Rollcall-Position', async () => {
    const projection = (await getJson(`${base}/v1/projection`)).body;
    const position = projection.position;
    const pools = await getJson(`${base}/v1/pools`);
    expect(pools.body).toEqual(projection.pools);
    expect(pools.headers.get('rollcall-position')).toBe(position);

    const poolId = Object.keys(projection.pools)[0]!;
    const one = await getJson(`${base}/v1/pools/${poolId}`);
    expect(one.body).toEqual(projection.pools[poolId]);

    const agentId = projection.running[0];
    const a = await getJson(`${base}/v1/agents/${agentId}`);
    const own = Object.values(projection.sessions as Record<string, { agentId: string; sessionId: string }>)
      .filter((s) => s.agentId === agentId)
      .sort((x, y) => (x.sessionId < y.sessionId ? -1 : 1));
    expect(a.body).toEqual({ ...projection.agents[agentId], sessions: own });
    expect(a.headers.get('rollcall-position')).toBe(position);

    const running = await getJson(`${base}/v1/running`);
    expect(running.body).toEqual({ position, running: projection.running, busy: projection.busy });
    const anomalies = await getJson(`${base}/v1/anomalies`);
    expect(anomalies.body).toEqual(projection.anomalies);
    expect(anomalies.body.count).toBeGreaterThan(0);

    const all = await getJson(`${base}/v1/sessions`);
    const ids = all.body.sessions.map((s: { sessionId: string }) => s.sessionId);
    expect(ids).toEqual(Object.keys(projection.sessions).sort());
    const live = await getJson(`${base}/v1/sessions?state=running`);
    expect(live.body.sessions.length).toBeGreaterThan(0);
    expect(live.body.sessions.every((s: { state: string }) => s.state === 'running')).toBe(true);
    expect(live.body.sessions.length).toBe(Object.values(projection.sessions).filter((s: any) => s.state === 'running').length);

    // ?agent=: the agent's own sessions (the same as /v1/agents/{id} lists), with ?state= on top.
    const ofAgent = await getJson(`${base}/v1/sessions?agent=${encodeURIComponent(agentId)}`);
    expect(ofAgent.body).toEqual({ position, sessions: own });
    expect(ofAgent.headers.get('rollcall-position')).toBe(position);
    const someState = (own[0] as unknown as { state: string }).state;
    const ofAgentInState = await getJson(`${base}/v1/sessions?agent=${encodeURIComponent(agentId)}&state=${someState}`);
    expect(ofAgentInState.body.sessions).toEqual(own.filter((s: any) => s.state === someState));
    expect(ofAgentInState.body.sessions.length).toBeGreaterThan(0);
    expect((await getJson(`${base}/v1/sessions?agent=no-such-agent`)).body).toEqual({ position, sessions: [] });
  });

  it.each([
    ['/v1/pools/no-such-pool', 'no pool "no-such-pool"'],
    ['/v1/agents/no-such-agent', 'no agent "no-such-agent"'],
    ['/v1/agents/no-such-agent/audit', 'names agent "no-such-agent"'],
    ['/v1/nothing-here', 'no route GET /v1/nothing-here'],
  ])('404 {error,message} for %s', async (path, message) => {
    const res = await getJson(`${base}${path}`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not-found', message: expect.stringContaining(message) });
  });

  it('400 for an unknown session state', async () => {
    const res = await getJson(`${base}/v1/sessions?state=zombie`);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid-request');
  });

  it('/v1/agents/{id}/audit is what `audit --json` prints', async () => {
    const projection = (await getJson(`${base}/v1/projection`)).body;
    const agentId = projection.running[1];
    const res = await getJson(`${base}/v1/agents/${agentId}/audit`);
    expect(res.status).toBe(200);
    expect(res.body.entries.length).toBeGreaterThan(0);
    const printed = await cli(['audit', agentId, '--store', storeUrl, '--json']);
    expect(printed.code).toBe(0);
    expect(canonical(res.text)).toBe(canonical(printed.stdout));
  });
});

describe('POST /v1/events', () => {
  const hb = (agentId: string, extra: Record<string, unknown> = {}) => ({ type: 'AgentHeartbeat', data: { agentId }, metadata: { at: nowIso() }, ...extra });

  it('appends one event, an array and NDJSON, in order, with first/last positions', async () => {
    const before = BigInt(await headPosition());
    const one = await postEvents(base, JSON.stringify(hb('p-1')));
    expect(one.status).toBe(201);
    expect(one.body).toEqual({ first: String(before + 1n), last: String(before + 1n), appended: 1, duplicates: 0 });

    const id = '5b0c2c1e-4a8e-4d53-9a39-0d0f9f3d2a11';
    const array = await postEvents(base, JSON.stringify([hb('p-2', { id }), hb('p-3')]));
    expect(array.body).toEqual({ first: String(before + 2n), last: String(before + 3n), appended: 2, duplicates: 0 });

    const ndjson = await postEvents(base, `${JSON.stringify(hb('p-4', { id }))}\n\n${JSON.stringify(hb('p-5'))}\n`, 'application/x-ndjson');
    expect(ndjson.status).toBe(201);
    expect(ndjson.body).toEqual({ first: String(before + 4n), last: String(before + 4n), appended: 1, duplicates: 1 });

    const stored: string[] = [];
    for await (const e of store.readAll({ after: before })) stored.push((e.data as { agentId: string }).agentId);
    expect(stored).toEqual(['p-1', 'p-2', 'p-3', 'p-5']);
  });

  const invalid: Array<[string, string, string, Record<string, unknown>]> = [
    [
      'a missing field, naming index and path',
      JSON.stringify([hb('ok-1'), { type: 'AgentSpawned', data: { agentId: 'x' }, metadata: { at: '2026-11-20T10:00:00Z' } }]),
      'application/json',
      { error: 'invalid-event', index: 1, path: 'data.sessionId' },
    ],
    ['an unknown type', JSON.stringify({ type: 'AgentTeleported', data: {}, metadata: { at: '2026-11-20T10:00:00Z' } }), 'application/json', { error: 'unknown-event-type', index: 0, path: 'type' }],
    ['broken JSON', '{"type":', 'application/json', { error: 'invalid-json' }],
    ['a broken NDJSON line', `${JSON.stringify(hb('ok-2'))}\n{nope\n`, 'application/x-ndjson', { error: 'invalid-json', index: 1, line: 2 }],
    [
      'an event stamped an hour ahead (clock skew)',
      JSON.stringify([hb('ok-3'), hb('ok-4', { metadata: { at: new Date(Date.now() + 3_600_000).toISOString() } })]),
      'application/json',
      { error: 'clock-skew', index: 1, path: 'metadata.at' },
    ],
    ['an empty body', '', 'application/json', { error: 'invalid-event' }],
  ];
  it.each(invalid)('400 for %s, and nothing is appended', async (_name, body, type, expected) => {
    const before = await headPosition();
    const res = await postEvents(base, body, type);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject(expected);
    expect(typeof res.body.message).toBe('string');
    expect(await headPosition()).toBe(before);
  });

  it('413 over 1 MiB or over 10,000 events, 415 for other content types; nothing appended', async () => {
    const before = await headPosition();
    const line = JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'a' }, metadata: { at: '2026-11-20T10:00:00Z' } });
    const tooMany = Array.from({ length: 10_001 }, () => line).join('\n');
    expect(Buffer.byteLength(tooMany)).toBeLessThan(1024 * 1024);
    const many = await postEvents(base, tooMany, 'application/x-ndjson');
    expect(many.status).toBe(413);
    expect(many.body.error).toBe('too-many-events');
    const manyArray = await postEvents(base, `[${Array.from({ length: 10_001 }, () => line).join(',')}]`);
    expect(manyArray.status).toBe(413);

    const big = await postEvents(base, JSON.stringify(hb('x', { pad: 'y'.repeat(1024 * 1024) })));
    expect(big.status).toBe(413);
    expect(big.body.error).toBe('too-large');

    for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
      const res = await postEvents(base, line, type);
      expect(res.status).toBe(415);
      expect(res.body.error).toBe('unsupported-media-type');
    }
    expect(await headPosition()).toBe(before);
  });

  it('431 for oversized request headers, as JSON', async () => {
    const res = await getJson(`${base}/v1/pools`, { headers: { 'x-padding': 'z'.repeat(20_000) } });
    expect(res.status).toBe(431);
    expect(res.body).toEqual({ error: 'headers-too-large', message: 'request headers over 16384 bytes' });
  });
});

describe('a tiny hand-written fleet', () => {
  it('pool occupancy over HTTP follows appended events', async () => {
    const p = `pool-${Date.now()}`;
    const events = [pool(p, 2), agent(`${p}-a`), starting(`${p}-a`, `${p}-s1`, p), spawned(`${p}-a`, `${p}-s1`, { poolId: p, pid: 10 })].map((e) => ({
      ...e,
      metadata: { at: nowIso() },
    }));
    const posted = await postEvents(base, JSON.stringify(events));
    expect(posted.status).toBe(201);
    const view = await getJson(`${base}/v1/projection?minPosition=${posted.body.last}`);
    expect(view.body.pools[p].status).toMatchObject({ activeCount: 1, availableSlots: 1, activeAgentIds: [`${p}-a`] });
  });
});
