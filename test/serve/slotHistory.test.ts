// GET /v1/pools/{poolId}/slots over loopback: the slot history the dashboard draws.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { poolSlotHistory } from '../../src/inspect/slotHistory.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import type { StartedServer } from '../../src/serve/startServer.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { tempDir } from '../support/cli.js';
import { agent, ended, ev, pool, record, spawned, T0 } from '../support/lifecycle.js';
import { getJson, serve } from './harness.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const at = <E extends { metadata: { at: string } }>(s: number, e: E): E => ({ ...e, metadata: { at: iso(s) } });
// Two hours of a two-slot pool: a hold ended long ago, a lapsed lease, a restart, one still held.
const events = [
  at(0, pool('p1', 2)),
  at(0, agent('a1')),
  at(0, agent('a2')),
  at(0, agent('a3')),
  at(1, ev('OrchestratorStarted', { host: 'h1', epoch: 1 })),
  at(60, spawned('a1', 's1', { poolId: 'p1' })),
  at(600, ended('a1', 's1')),
  at(4000, spawned('a2', 's2', { poolId: 'p1', leaseMs: 60_000 })),
  at(4100, spawned('a3', 's3', { poolId: 'p1', host: 'h1', epoch: 1, pid: 9 })),
  at(5000, spawned('a1', 's4', { poolId: 'p1' })),
  at(6000, ev('OrchestratorStarted', { host: 'h1', epoch: 2 })),
  at(7200, ev('AgentHeartbeat', { agentId: 'a1' })),
];

let store: EventStore;
let server: StartedServer;

beforeAll(async () => {
  store = openSqliteStore({ path: join(tempDir(), 'slots.db') });
  await store.appendBatch(events);
  server = await serve(store);
});

afterAll(async () => {
  await server?.close();
  await store?.close();
});

describe('GET /v1/pools/{poolId}/slots', () => {
  it('answers what the library answers over the same log, with the position it read to', async () => {
    const from = iso(0);
    const to = iso(7200);
    const res = await getJson(`${server.url}/v1/pools/p1/slots?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('rollcall-position')).toBe('12');
    expect(res.body).toEqual(await poolSlotHistory(createLifecycleProjection(), [record(events)], 'p1', { from, to }));
    expect(res.body.intervals.map((i: { sessionId: string; slot: number; endedAs: string | null }) => `${i.sessionId}@${i.slot} ${i.endedAs}`)).toEqual([
      's1@0 done',
      's2@0 lease_expired',
      // s2's lease lapsed when the clock passed it (at s3's start), so s3 took its slot.
      's3@0 orchestrator_restarted',
      's4@1 null',
    ]);
  });

  it('by default the last hour of the log: what ended earlier is left out', async () => {
    const res = await getJson(`${server.url}/v1/pools/p1/slots`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ from: iso(3600), to: iso(7200), max: 2, slots: 2, truncated: false });
    expect(res.body.intervals.map((i: { sessionId: string }) => i.sessionId)).toEqual(['s2', 's3', 's4']);
  });

  it('refuses a range that ends before it starts or a time that is not one, and an unknown pool', async () => {
    const backwards = await getJson(`${server.url}/v1/pools/p1/slots?from=${iso(100)}&to=${iso(50)}`);
    expect(backwards.status).toBe(400);
    expect(backwards.body).toEqual({ error: 'invalid-request', message: `from (${iso(100)}) is after to (${iso(50)})` });
    const bad = await getJson(`${server.url}/v1/pools/p1/slots?from=yesterday`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid-request');
    const missing = await getJson(`${server.url}/v1/pools/nope/slots`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: 'not-found', message: 'no pool "nope" in the range' });
  });
});
