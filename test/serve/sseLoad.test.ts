import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.js';
import { spawnServe, type ServeProcess } from './serveProcess.js';
import { exactlyOnce, openSse, type SseRecord } from './sseClient.js';

// Three real EventSource clients on one `rollcall serve` process while a writer appends through
// POST /v1/events at RATE events/s for SECONDS s; one client disconnects halfway and resumes with
// Last-Event-ID. Each must see every position exactly once, in order. On a shared machine the
// writer may not reach RATE: it reports what it sustained, and exactly-once is asserted at that.
const RATE = Number(process.env['ROLLCALL_SSE_RATE'] ?? 5000);
const SECONDS = Number(process.env['ROLLCALL_SSE_SECONDS'] ?? 20);

let server: ServeProcess | undefined;
const clients: SseRecord[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop();
});

const line = (i: number) => JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: `load-${i % 200}` }, metadata: { at: new Date().toISOString() } });

describe('SSE under load', () => {
  it(`3 clients, one resumed mid-stream, see every position once while ${RATE} events/s are appended for ${SECONDS} s`, async () => {
    server = spawnServe(['--store', `sqlite:${join(tempDir(), 'load.db')}`, '--log-level', 'warn']);
    const url = await server.url;
    const stream = `${url}/v1/changes?from=0`;
    const a = openSse(stream);
    const b1 = openSse(stream);
    const c = openSse(stream);
    clients.push(a, b1, c);
    let b2: SseRecord | undefined;

    const batch = Math.max(1, Math.round(RATE / 10));
    const started = performance.now();
    let appended = 0;
    let last = 0n;
    let behind = 0;
    for (let tick = 0; performance.now() - started < SECONDS * 1000; tick++) {
      const due = started + tick * 100;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else behind++;
      const body = Array.from({ length: batch }, (_, i) => line(appended + i)).join('\n');
      const res = await fetch(`${url}/v1/events`, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson' } });
      expect(res.status).toBe(201);
      const result = (await res.json()) as { last: string; appended: number };
      appended += result.appended;
      last = BigInt(result.last);
      if (b2 === undefined && performance.now() - started >= (SECONDS * 1000) / 2) {
        // Disconnect mid-stream, then resume from the last id received, as a reconnecting client does.
        b1.close();
        const resumeAt = b1.positions[b1.positions.length - 1];
        b2 = openSse(stream, resumeAt === undefined ? {} : { lastEventId: resumeAt.toString() });
        clients.push(b2);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const sustained = appended / seconds;
    await Promise.all([a, b2!, c].map((client) => client.until(last, 120_000)));
    const drained = (performance.now() - started) / 1000;
    console.log(
      `SSE load: ${appended} events in ${seconds.toFixed(1)} s = ${Math.round(sustained)} events/s sustained (target ${RATE}; writer late on ${behind} of ${Math.round(seconds * 10)} ticks); ` +
        `all 3 clients at ${last} after ${drained.toFixed(1)} s; client B resumed at ${b1.positions[b1.positions.length - 1] ?? 'start'}`,
    );

    const all = Array.from({ length: Number(last) }, (_, i) => BigInt(i + 1));
    const perfect = { missing: 0, repeated: 0, outOfOrder: 0 };
    expect(exactlyOnce(a.positions, all)).toEqual(perfect);
    expect(exactlyOnce(c.positions, all)).toEqual(perfect);
    expect(exactlyOnce([...b1.positions, ...b2!.positions], all)).toEqual(perfect);
    expect(b1.positions.length).toBeGreaterThan(0);
    expect(b2!.positions.length).toBeGreaterThan(0);
    for (const client of [a, b2!, c]) expect(client.positions.length).toBeGreaterThan(0);
    expect(a.caughtUp.length).toBe(1);
    // A run that appended almost nothing would prove nothing.
    expect(appended).toBeGreaterThan(Math.min(10_000, RATE * SECONDS * 0.1));
  }, 300_000);
});
