import { connect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StartedServer } from '../../src/serve/startServer.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { heartbeats } from '../support/events.js';
import { getJson, serve } from './harness.js';
import { exactlyOnce, openSse, type SseRecord } from './sseClient.js';

// Real servers and clients on a shared machine: room beyond vitest's 5 s default.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const started: StartedServer[] = [];
const clients: SseRecord[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of started.splice(0)) await s.close();
});
const up = async (...args: Parameters<typeof serve>) => {
  const s = await serve(...args);
  started.push(s);
  return s;
};
const sse = (...args: Parameters<typeof openSse>) => {
  const c = openSse(...args);
  clients.push(c);
  return c;
};
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => BigInt(from + i));

describe('GET /v1/changes', () => {
  it('sends every position after ?from once, in order, then caught-up once, then live changes', async () => {
    const store = openMemoryStore();
    await store.appendBatch(heartbeats(500));
    const s = await up(store);
    const c = sse(`${s.url}/v1/changes?from=100`);
    await c.until(500n);
    await c.untilCaughtUp();
    expect(c.caughtUp).toEqual(['500']);
    await store.appendBatch(heartbeats(20));
    await c.until(520n);
    expect(exactlyOnce(c.positions, range(101, 520))).toEqual({ missing: 0, repeated: 0, outOfOrder: 0 });
    expect(c.positions.length).toBe(420);
    expect(c.caughtUp).toEqual(['500']);
  });

  it('without from starts now; Last-Event-ID resumes where the client left (and wins over ?from)', async () => {
    const store = openMemoryStore();
    await store.appendBatch(heartbeats(50));
    const s = await up(store);
    const now = sse(`${s.url}/v1/changes`);
    await now.untilCaughtUp();
    await store.appendBatch(heartbeats(10));
    await now.until(60n);
    expect(now.positions).toEqual(range(51, 60));
    expect(now.caughtUp).toEqual(['50']);

    const resumed = sse(`${s.url}/v1/changes?from=0`, { lastEventId: '55' });
    await resumed.until(60n);
    expect(resumed.positions).toEqual(range(56, 60));
  });

  it('rejects a bad from / Last-Event-ID with 400 JSON', async () => {
    const s = await up(openMemoryStore());
    expect((await getJson(`${s.url}/v1/changes?from=-1`)).status).toBe(400);
    const bad = await getJson(`${s.url}/v1/changes`, { headers: { 'last-event-id': 'abc' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid-request');
  });

  it('sends a keep-alive comment on the interval', async () => {
    const s = await up(openMemoryStore(), { keepAliveMs: 100 });
    const controller = new AbortController();
    const res = await fetch(`${s.url}/v1/changes`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('rollcall-position')).toBe('0');
    const reader = res.body!.getReader();
    let text = '';
    const deadline = Date.now() + 5000;
    while ((text.match(/: keep-alive/g) ?? []).length < 2 && Date.now() < deadline) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    expect((text.match(/: keep-alive\n\n/g) ?? []).length).toBeGreaterThanOrEqual(2);
  });

  it('drops a client that stops reading (no drain within sseStallMs); an EventSource then resumes without a gap', async () => {
    const store = openMemoryStore();
    const s = await up(store, { sseStallMs: 1_000 });
    // A raw client that sends the request and never reads a byte.
    const socket = connect(Number(new URL(s.url).port), '127.0.0.1');
    socket.pause();
    socket.on('error', () => undefined);
    // A paused socket does not notice the server's reset; the server's count says it dropped it.
    const dropped = async () => /^rollcall_sse_clients_dropped_total [1-9]/m.test(await (await fetch(`${s.url}/metrics`)).text());
    let closed = false;
    socket.write('GET /v1/changes?from=0 HTTP/1.1\r\nHost: x\r\n\r\n');
    const reader = sse(`${s.url}/v1/changes?from=0`);
    let appended = 0;
    for (let i = 0; i < 400 && !closed; i++) {
      await store.appendBatch(heartbeats(500, { agents: 50 }));
      appended += 500;
      await s.rollcall.whenProcessed(BigInt(appended), { timeoutMs: 30_000 });
      closed = await dropped();
    }
    expect(closed).toBe(true);
    // The reading client kept up (or was dropped and resumed by itself): every position once.
    await reader.until(BigInt(appended), 60_000);
    expect(exactlyOnce(reader.positions, range(1, appended))).toEqual({ missing: 0, repeated: 0, outOfOrder: 0 });
    socket.destroy();
  }, 120_000);

  it('closes SSE streams when the server shuts down', async () => {
    const s = await serve(openMemoryStore());
    const res = await fetch(`${s.url}/v1/changes`);
    const reader = res.body!.getReader();
    await reader.read();
    await s.close();
    let done = false;
    for (let i = 0; i < 10 && !done; i++) done = (await reader.read()).done;
    expect(done).toBe(true);
  });
});
