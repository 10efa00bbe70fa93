import { spawnSync } from 'node:child_process';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventTypes } from '../../src/events/lifecycleEvents.js';
import type { StartedServer } from '../../src/serve/startServer.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { agent, ev, pool, spawned, starting } from '../support/lifecycle.js';
import { waitFor } from '../support/waitFor.js';
import { fleet, getJson, serve } from './harness.js';

// Real servers and clients on a shared machine: room beyond vitest's 5 s default.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let store: EventStore;
let server: StartedServer;

beforeAll(async () => {
  store = openMemoryStore();
  // A session whose pid the observer below reports dead: the in-process reconciler corrects it.
  await store.appendBatch([...fleet(30, 2000), pool('recon-pool', 2), agent('recon-a'), starting('recon-a', 'recon-s', 'recon-pool'), spawned('recon-a', 'recon-s', { poolId: 'recon-pool', pid: 999_999 })]);
  server = await serve(store, {
    reconcile: {
      everyMs: 100,
      config: { startingTimeoutMs: null, terminatingTimeoutMs: null, disconnectGraceMs: null, suspectAfterMs: null },
      observe: () => ({ pids: { 999999: { alive: false } } }),
    },
  });
});
afterAll(async () => {
  await server?.close();
  await store?.close();
});

const scrape = async () => (await fetch(`${server.url}/metrics`)).text();
const samples = (text: string, name: string): Map<string, number> => {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`).exec(line);
    if (m) out.set(m[1] ?? '', Number(m[2]));
  }
  return out;
};

describe('GET /metrics', () => {
  it('passes promtool check metrics and names every SPEC §6 metric', async () => {
    await getJson(`${server.url}/v1/pools`);
    const text = await scrape();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.error, 'promtool must be installed (.ci/run installs the prometheus package)').toBeUndefined();
    expect(`${check.stdout}${check.stderr}`).toBe('');
    expect(check.status).toBe(0);
    for (const name of [
      'rollcall_projection_position',
      'rollcall_store_head_position',
      'rollcall_projection_lag_events',
      'rollcall_events_applied_total',
      'rollcall_anomalies_total',
      'rollcall_pool_active',
      'rollcall_pool_max',
      'rollcall_pool_available',
      'rollcall_agents',
      'rollcall_sessions',
      'rollcall_reconciler_corrections_total',
      'rollcall_agents_suspect',
      'rollcall_agents_quarantined',
      'rollcall_leases_expired_total',
      'rollcall_host_epoch',
      'rollcall_http_requests_total',
      'rollcall_http_request_duration_seconds',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(samples(text, 'rollcall_http_requests_total').get('route="/v1/pools",code="200"')).toBeGreaterThanOrEqual(1);
  });

  it('pool, agent, session and anomaly figures equal the projection at the same position', async () => {
    // The reconciler may append while we look: compare a scrape with the projection at its position.
    for (let attempt = 0; ; attempt++) {
      const text = await scrape();
      const projection = (await getJson(`${server.url}/v1/projection`)).body;
      const position = samples(text, 'rollcall_projection_position').get('');
      if (String(position) !== projection.position && attempt < 20) continue;
      expect(String(position)).toBe(projection.position);
      const pools = Object.values(projection.pools) as Array<{ poolId: string; maxSize: number; status: { activeCount: number; availableSlots: number } }>;
      expect(pools.length).toBeGreaterThan(1);
      for (const [metric, pick] of [
        ['rollcall_pool_active', (p: (typeof pools)[number]) => p.status.activeCount],
        ['rollcall_pool_max', (p: (typeof pools)[number]) => p.maxSize],
        ['rollcall_pool_available', (p: (typeof pools)[number]) => p.status.availableSlots],
      ] as const) {
        expect(Object.fromEntries(samples(text, metric)), metric).toEqual(Object.fromEntries(pools.map((p) => [`pool="${p.poolId}"`, pick(p)])));
      }
      const agents = samples(text, 'rollcall_agents');
      const byStatus = (s: string) => Object.values(projection.agents).filter((a: any) => a.status === s).length;
      expect(agents.get('status="running"')).toBe(byStatus('running'));
      expect(agents.get('status="idle"')).toBe(byStatus('idle'));
      const sessions = samples(text, 'rollcall_sessions');
      expect([...sessions.values()].reduce((a, b) => a + b, 0)).toBe(Object.keys(projection.sessions).length);
      const anomalies = samples(text, 'rollcall_anomalies_total');
      expect(Object.fromEntries(anomalies)).toEqual(Object.fromEntries(Object.entries(projection.anomalies.byReason).map(([r, n]) => [`reason="${r}"`, n])));
      break;
    }
  });

  it('counts the in-process reconciler\'s corrections by rule', async () => {
    // The reconciler runs on its own interval: wait for its first correction to be counted.
    const dead = await waitFor('a dead-pid correction in /metrics', async () => samples(await scrape(), 'rollcall_reconciler_corrections_total').get('rule="dead-pid"'), { intervalMs: 50 });
    expect(dead).toBe(1);
    const text = await scrape();
    expect(samples(text, 'rollcall_reconciler_corrections_total').get('rule="start-timeout"')).toBe(0);
    const view = (await getJson(`${server.url}/v1/projection?minPosition=${samples(text, 'rollcall_store_head_position').get('')}`)).body;
    expect(view.sessions['recon-s'].state).toBe('terminated');
    expect(view.sessions['recon-s'].terminationReason).toBe('Process no longer alive (PID check)');
  });
});

describe('GET /metrics: liveness (SPEC §7)', () => {
  it('suspects, quarantines, lapsed leases and host epochs equal the view, and promtool passes with them all set', async () => {
    const t = (s: number) => new Date(Date.parse('2026-11-20T10:00:00Z') + s * 1000).toISOString();
    const at = <E extends { metadata: { at: string } }>(s: number, e: E): E => ({ ...e, metadata: { at: t(s) } });
    const live = openMemoryStore();
    await live.appendBatch([
      at(0, pool('lp', 5)),
      at(0, agent('quiet')),
      at(0, agent('loop')),
      at(0, agent('leased')),
      at(1, ev('OrchestratorStarted', { host: 'h1', epoch: 1 })),
      at(2, ev('OrchestratorStarted', { host: 'h1', epoch: 2 })),
      at(2, ev('OrchestratorStarted', { host: 'h2', epoch: 7 })),
      at(10, spawned('quiet', 'q1', { poolId: 'lp', host: 'h1', epoch: 2 })),
      at(80, ev('AgentSuspected', { agentId: 'quiet', reason: 'no_sign_of_life' })),
      // Three crashes within the quarantine window.
      ...[20, 30, 40].flatMap((s, i) => [at(s, spawned('loop', `l${i}`, { poolId: 'lp' })), at(s + 1, ev('AgentCrashed', { agentId: 'loop', reason: 'boom' }))]),
      // Two leases that lapse: the first when the second spawn moves the clock, the second at the heartbeat.
      at(50, spawned('leased', 'e1', { poolId: 'lp', leaseMs: 1000 })),
      at(60, spawned('leased', 'e2', { poolId: 'lp', leaseMs: 1000 })),
      at(90, ev('AgentHeartbeat', { agentId: 'quiet' })),
      at(91, ev('AgentSuspected', { agentId: 'quiet', reason: 'disconnected_within_grace' })),
    ]);
    const other = await serve(live);
    try {
      const text = await (await fetch(`${other.url}/metrics`)).text();
      const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(`${check.stdout}${check.stderr}`).toBe('');
      expect(check.status).toBe(0);
      const view = (await getJson(`${other.url}/v1/projection`)).body;
      expect(view.quarantined).toEqual(['loop']);
      expect(view.agents['quiet'].suspect).toEqual({ since: t(91), reason: 'disconnected_within_grace' });
      expect(samples(text, 'rollcall_agents_suspect').get('')).toBe(1);
      expect(samples(text, 'rollcall_agents_quarantined').get('')).toBe(1);
      expect(samples(text, 'rollcall_leases_expired_total').get('')).toBe(2);
      expect(Object.fromEntries(samples(text, 'rollcall_host_epoch'))).toEqual({ 'host="h1"': 2, 'host="h2"': 7 });
      expect(text).toMatch(/^# TYPE rollcall_leases_expired_total counter$/m);
      expect(text).toMatch(/^# TYPE rollcall_host_epoch gauge$/m);
    } finally {
      await other.close();
      await live.close();
    }
  });
});

describe('GET /openapi.json and /v1/schema/events.json', () => {
  it('is a valid OpenAPI 3.1 document covering every route', async () => {
    const doc = (await getJson(`${server.url}/openapi.json`)).body;
    expect(doc.openapi).toBe('3.1.0');
    await SwaggerParser.validate(structuredClone(doc));
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/',
        '/healthz',
        '/metrics',
        '/openapi.json',
        '/readyz',
        '/v1/agents/{agentId}',
        '/v1/agents/{agentId}/audit',
        '/v1/agents/{agentId}/explain',
        '/v1/anomalies',
        '/v1/changes',
        '/v1/events',
        '/v1/pools',
        '/v1/pools/{poolId}',
        '/v1/pools/{poolId}/explain',
        '/v1/pools/{poolId}/slots',
        '/v1/projection',
        '/v1/running',
        '/v1/schema/events.json',
        '/v1/sessions',
      ].sort(),
    );
    const projection = doc.paths['/v1/projection'].get;
    expect(projection.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['asOf', 'minPosition', 'until', 'waitMs']);
    expect(Object.keys(projection.responses).sort()).toEqual(['200', '400', '503', '504']);
    expect(Object.keys(doc.paths['/v1/events'].post.responses).sort()).toEqual(['201', '400', '401', '413', '415', '503']);
  });

  it('the event JSON Schema accepts what append accepts and rejects what it rejects', async () => {
    const res = await getJson(`${server.url}/v1/schema/events.json`);
    expect(res.headers.get('content-type')).toMatch(/^application\/schema\+json/);
    const schema = res.body;
    expect(schema.oneOf).toHaveLength(eventTypes.length);
    for (const type of eventTypes) expect(Object.keys(schema.$defs)).toContain(type);
    const ajv = new Ajv2020.default({ strict: false, allErrors: true });
    ajv.addFormat('uuid', true).addFormat('date-time', true);
    const validate = ajv.compile(schema);
    for (const e of fleet(5, 200)) expect(validate(e), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ type: 'AgentSpawned', data: { agentId: 'a' }, metadata: { at: '2026-11-20T10:00:00Z' } })).toBe(false);
    expect(validate({ type: 'AgentHeartbeat', data: { agentId: 'a', sessionID: 'typo' }, metadata: { at: '2026-11-20T10:00:00Z' } })).toBe(false);
    expect(validate({ type: 'AgentHeartbeat', data: { agentId: 'a' }, metadata: {} })).toBe(false);
  });
});

describe('GET /', () => {
  it('serves the dashboard page (or the placeholder when its assets are not built)', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toMatch(/<html/i);
  });

  it('serves the placeholder, linking the API, when there are no built assets', async () => {
    const other = await serve(openMemoryStore(), { dashboardDir: '/nonexistent-dashboard-dir' });
    try {
      const text = await (await fetch(`${other.url}/`)).text();
      expect(text).toContain('/v1/pools');
      expect(text).toContain('not built');
    } finally {
      await other.close();
    }
  });
});
