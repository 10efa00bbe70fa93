import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import type { StartedServer } from '../../src/serve/startServer.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import { cli, tempDir } from '../support/cli.js';
import { ev, T0 } from '../support/lifecycle.js';
import { getJson, serve } from './harness.js';

// Real server and client on a shared machine: room beyond vitest's 5 s default.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

// GET /v1/pools/{poolId}/explain and /v1/agents/{agentId}/explain (SPEC §7.5) over a sqlite file
// the CLI reads too, so each answer can be compared with `rollcall explain … --json`.
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const history: LifecycleEvent[] = [
  ev('PoolCreated', { poolId: 'p1', name: 'p1', maxSize: 2 }, { at: iso(0) }), // 1
  ev('AgentRegistered', { agentId: 'a1', role: 'worker' }, { at: iso(0) }), // 2
  ev('AgentRegistered', { agentId: 'a2', role: 'worker' }, { at: iso(0) }), // 3
  ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', poolId: 'p1', leaseMs: 30_000 }, { at: iso(10) }), // 4: lease to 40
  ev('AgentSpawned', { agentId: 'a2', sessionId: 's2', poolId: 'p1' }, { at: iso(12) }), // 5
  ev('AgentHeartbeat', { agentId: 'a2' }, { at: iso(100) }), // 6: the clock passes s1's lease
];

let store: EventStore;
let server: StartedServer;
let storeUrl: string;

beforeAll(async () => {
  storeUrl = `sqlite:${join(tempDir(), 'explain.db')}`;
  store = openSqliteStore({ path: storeUrl.slice('sqlite:'.length) });
  await store.appendBatch(history);
  server = await serve(store);
});
afterAll(async () => {
  await server?.close();
  await store?.close();
});

const explainCli = async (...args: string[]) => {
  const { code, stdout, stderr } = await cli(['explain', ...args, '--store', storeUrl, '--json']);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  return JSON.parse(stdout) as unknown;
};

describe('GET /v1/pools/{poolId}/explain', () => {
  it('now: the lapsed lease freed a1\'s slot; a2 holds one, healthy; the answer equals `explain pool --json`', async () => {
    const { status, headers, body } = await getJson(`${server.url}/v1/pools/p1/explain`);
    expect(status).toBe(200);
    expect(headers.get('rollcall-position')).toBe('6');
    expect(body).toMatchObject({ poolId: 'p1', position: '6', exists: true, used: 1, max: 2, enabled: true });
    expect(body.holders).toEqual([
      expect.objectContaining({
        agentId: 'a2', sessionId: 's2', state: 'running', since: { position: '5', type: 'AgentSpawned', at: iso(12) }, lastSeenAt: iso(100),
        releasedBy: [{ rule: 'own-end', detail: 'healthy: only its own end frees it' }],
      }),
    ]);
    expect(body).toEqual(await explainCli('pool', 'p1'));
  });

  it('?asOf: the answer at a past moment differs from now (a1 held a slot on its lease), and equals `explain pool --as-of`', async () => {
    const { status, headers, body } = await getJson(`${server.url}/v1/pools/p1/explain?asOf=${encodeURIComponent(iso(20))}`);
    expect(status).toBe(200);
    expect(headers.get('rollcall-position')).toBe('5');
    // `asOf` in the answer is the log's clock there: the newest `at` up to the moment asked.
    expect(body).toMatchObject({ position: '5', asOf: iso(12), used: 2 });
    expect(body.holders.map((h: { agentId: string; leaseExpiresAt: string | null; releasedBy: unknown }) => [h.agentId, h.leaseExpiresAt, h.releasedBy])).toEqual([
      ['a1', iso(40), [{ rule: 'lease', at: iso(40) }]],
      ['a2', null, [{ rule: 'own-end', detail: 'healthy: only its own end frees it' }]],
    ]);
    expect(body).toEqual(await explainCli('pool', 'p1', '--as-of', iso(20)));
  });

  it('?until: the answer after that position', async () => {
    const { body } = await getJson(`${server.url}/v1/pools/p1/explain?until=4`);
    expect(body).toMatchObject({ position: '4', used: 1 });
    expect(body.holders.map((h: { agentId: string }) => h.agentId)).toEqual(['a1']);
    expect(body).toEqual(await explainCli('pool', 'p1', '--until', '4'));
  });

  it('404 {error, message} for a pool unknown now or at the moment asked; 400 for a bad query', async () => {
    for (const path of ['/v1/pools/nope/explain', `/v1/pools/p1/explain?asOf=${encodeURIComponent('2000-01-01T00:00:00Z')}`]) {
      const { status, body } = await getJson(`${server.url}${path}`);
      expect(status, path).toBe(404);
      expect(body).toEqual({ error: 'not-found', message: expect.stringContaining('no pool') });
    }
    for (const query of ['until=soon', 'asOf=yesterday']) {
      const { status, body } = await getJson(`${server.url}/v1/pools/p1/explain?${query}`);
      expect(status, query).toBe(400);
      expect(Object.keys(body).sort()).toEqual(['error', 'message']);
    }
  });
});

describe('GET /v1/agents/{agentId}/explain', () => {
  it('now: a1 is not counted (its lease lapsed); as of t=20 it was, on its lease; both equal `explain agent --json`', async () => {
    const now = await getJson(`${server.url}/v1/agents/a1/explain`);
    expect(now.status).toBe(200);
    expect(now.headers.get('rollcall-position')).toBe('6');
    expect(now.body).toMatchObject({ agentId: 'a1', exists: true, status: 'idle', counted: false, holder: null });
    expect(now.body).toEqual(await explainCli('agent', 'a1'));

    const then = await getJson(`${server.url}/v1/agents/a1/explain?asOf=${encodeURIComponent(iso(20))}`);
    expect(then.body).toMatchObject({ agentId: 'a1', status: 'running', counted: true, poolId: 'p1', holder: { sessionId: 's1', releasedBy: [{ rule: 'lease', at: iso(40) }] } });
    expect(then.body).toEqual(await explainCli('agent', 'a1', '--as-of', iso(20)));
  });

  it('404 {error, message} for an agent unknown now, or not yet registered at ?until', async () => {
    for (const path of ['/v1/agents/nope/explain', '/v1/agents/a2/explain?until=2']) {
      const { status, body } = await getJson(`${server.url}${path}`);
      expect(status, path).toBe(404);
      expect(body).toEqual({ error: 'not-found', message: expect.stringContaining('no agent') });
    }
  });
});

describe('explain of now answers from the live state (no fold); a past moment folds the log: the same answer at the same moment', () => {
  it('after a suspension and a resume, `since` names the resume on both paths and in the CLI', async () => {
    const appended = await store.appendBatch([
      ev('SessionSuspended', { agentId: 'a2', sessionId: 's2' }, { at: iso(110) }), // 7
      ev('SessionResumed', { agentId: 'a2', sessionId: 's2' }, { at: iso(120) }), // 8
    ]);
    await server.rollcall.whenProcessed(appended.lastPosition!, { timeoutMs: 30_000 });
    const now = await getJson(`${server.url}/v1/pools/p1/explain`);
    expect(now.body.holders).toEqual([expect.objectContaining({ agentId: 'a2', since: { position: '8', type: 'SessionResumed', at: iso(120) } })]);
    // asOf at the newest time: every event is at or before it, so the fold reaches the same state.
    const folded = await getJson(`${server.url}/v1/pools/p1/explain?asOf=${encodeURIComponent(iso(120))}`);
    expect(folded.body).toEqual(now.body);
    expect(now.body).toEqual(await explainCli('pool', 'p1'));
    const agentNow = await getJson(`${server.url}/v1/agents/a2/explain`);
    expect(agentNow.body).toEqual((await getJson(`${server.url}/v1/agents/a2/explain?asOf=${encodeURIComponent(iso(120))}`)).body);
  });
});
