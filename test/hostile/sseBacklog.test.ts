import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StartedServer } from '../../src/serve/startServer.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { openStore } from '../../src/stores/openStore.js';
import { tempDir } from '../support/cli.js';
import { heartbeats } from '../support/events.js';
import { fleet, serve } from '../serve/harness.js';
import { exactlyOnce, openSse, type SseRecord } from '../serve/sseClient.js';

// Issue 18.2: a backlog of any length streams with backpressure. Before, `?from=0` on a 50k-event
// store wrote the whole backlog in one chunk, found it over the 4 MiB bound and dropped the client
// with 0 bytes, every time; a subscriber joining a full ring got the whole ring in one tick, the same.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

const EVENTS = 50_000;
const perfect = { missing: 0, repeated: 0, outOfOrder: 0 };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => BigInt(from + i));
const metric = async (url: string, name: string): Promise<number> => {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${url}/metrics`)).text());
  return m === null ? Number.NaN : Number(m[1]);
};

let store: EventStore;
let head: number;
const servers: StartedServer[] = [];
const clients: SseRecord[] = [];
beforeAll(async () => {
  // The generator `rollcall generate` runs, in process: a realistic fleet, with duplicates skipped.
  store = await openStore(`sqlite:${join(tempDir(), 'backlog.db')}`);
  const events = fleet(2_000, EVENTS, 7);
  for (let i = 0; i < events.length; i += 10_000) await store.appendBatch(events.slice(i, i + 10_000));
  head = Number(await store.head());
});
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
  await store?.close();
});
const up = async (s: EventStore, options: Parameters<typeof serve>[1] = {}) => {
  const started = await serve(s, options);
  servers.push(started);
  return started;
};

describe('SSE backlog', () => {
  it(`?from=0 on a ${EVENTS / 1000}k-event store streams every position once, on one connection, then caught-up`, async () => {
    expect(head).toBeGreaterThan(45_000);
    const s = await up(store, { sseStallMs: 10_000 });
    const c = openSse(`${s.url}/v1/changes?from=0`);
    clients.push(c);
    await c.until(BigInt(head), 120_000);
    expect(exactlyOnce(c.positions, range(1, head))).toEqual(perfect);
    expect(c.positions.length).toBe(head);
    // Never dropped: one connection carried the whole backlog.
    expect(c.opens).toBe(1);
    expect(await metric(s.url, 'rollcall_sse_clients_dropped_total')).toBe(0);
    c.close();
  });

  it('a subscriber joining a ring of 30k recent changes gets them all, paced, without being dropped', async () => {
    const fresh = await openStore(`sqlite:${join(tempDir(), 'ring.db')}`);
    try {
      const s = await up(fresh, { sseStallMs: 10_000 });
      for (let i = 0; i < 3; i++) await fresh.appendBatch(heartbeats(10_000, { agents: 500, prefix: `r${i}-` }));
      await s.rollcall.whenProcessed(30_000n, { timeoutMs: 60_000 });
      const c = openSse(`${s.url}/v1/changes?from=0`);
      clients.push(c);
      await c.until(30_000n, 60_000);
      expect(exactlyOnce(c.positions, range(1, 30_000))).toEqual(perfect);
      expect(c.opens).toBe(1);
      c.close();
    } finally {
      for (const s of servers.splice(0)) await s.close();
      await fresh.close();
    }
  });

  it('a resuming client gets ids at once: its first change comes in a small first write, not after the whole backlog', async () => {
    const s = await up(store);
    const controller = new AbortController();
    const res = await fetch(`${s.url}/v1/changes`, { headers: { 'last-event-id': '10' }, signal: controller.signal });
    const body = res.body!.getReader();
    let text = '';
    while (!text.includes('id: 11\n')) {
      const { value, done } = await body.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    expect(text).toMatch(/^retry: 1000\n\nid: 11\nevent: change\n/);
    // Ids went out before the backlog (about 10 MB of frames here) was written.
    expect(text.length).toBeLessThan(256 * 1024);
  });

  it('a client that stops reading is dropped after sseStallMs, holding at most a batch past the socket buffer; readers go on', async () => {
    const s = await up(store, { sseStallMs: 1_000 });
    // A raw client that sends the request and never reads a byte.
    const socket = connect(Number(new URL(s.url).port), '127.0.0.1');
    socket.pause();
    socket.on('error', () => undefined);
    socket.write('GET /v1/changes?from=0 HTTP/1.1\r\nHost: x\r\n\r\n');
    const reader = openSse(`${s.url}/v1/changes?from=0`);
    clients.push(reader);
    // While it stalls, what the server holds for it stays bounded (one batch of frames past the high-water mark).
    let maxBuffered = 0;
    while ((await metric(s.url, 'rollcall_sse_clients_dropped_total')) === 0) {
      maxBuffered = Math.max(maxBuffered, await metric(s.url, 'rollcall_sse_buffered_bytes'));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(maxBuffered).toBeLessThan(512 * 1024);
    await reader.until(BigInt(head), 120_000);
    expect(exactlyOnce(reader.positions, range(1, head))).toEqual(perfect);
    expect(reader.opens).toBe(1);
    // Only the reader's stream is left open.
    expect(await metric(s.url, 'rollcall_sse_clients')).toBe(1);
    socket.destroy();
  });
});
