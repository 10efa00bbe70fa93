import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { appendEvents } from '../../src/ingest/appendEvents.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import type { StoredEvent } from '../../src/stores/eventStore.js';

const at = '2026-11-20T10:00:00.000Z';
const now = Date.parse(at);
const hb = (agentId: string, extra: object = {}) => ({ type: 'AgentHeartbeat', data: { agentId }, metadata: { at }, ...extra });

const readAll = async (store: ReturnType<typeof openMemoryStore>) => {
  const out: StoredEvent[] = [];
  for await (const e of store.readAll()) out.push(e);
  return out;
};

describe('appendEvents, the validated append an orchestrator embeds', () => {
  it.each([
    ['one event object', hb('a1')],
    ['an array of events', [hb('a1'), hb('a2')]],
    ['NDJSON text', `${JSON.stringify(hb('a1'))}\n\n${JSON.stringify(hb('a2'))}\n`],
    ['NDJSON bytes', Buffer.from(`${JSON.stringify(hb('a1'))}\n${JSON.stringify(hb('a2'))}`)],
    ['a byte stream', Readable.from([Buffer.from(`${JSON.stringify(hb('a1'))}\n{"type":"Agent`), Buffer.from(`Heartbeat","data":{"agentId":"a2"},"metadata":{"at":"${at}"}}\n`)])],
  ])('takes %s', async (_name, input) => {
    const store = openMemoryStore();
    const r = await appendEvents(store, input, { now });
    expect(r.success).toBe(true);
    const n = (await readAll(store)).length;
    expect(r).toEqual({ success: true, data: { first: 1n, last: BigInt(n), appended: n, duplicates: 0 } });
  });

  it('refuses the whole input for one bad event, naming its index and path, and writes nothing', async () => {
    const store = openMemoryStore();
    const r = await appendEvents(store, [hb('a1'), hb('a2'), { type: 'AgentSpawned', data: { agentId: 'a3' }, metadata: { at } }], { now });
    expect(r.success).toBe(false);
    expect(!r.success && { code: r.error.code, index: r.error.index, path: r.error.path, message: r.error.message }).toEqual({
      code: 'invalid-event',
      index: 2,
      path: 'data.sessionId',
      message: 'events[2]: data.sessionId: Invalid input: expected string, received undefined',
    });
    expect(await readAll(store)).toEqual([]);
  });

  it('names the line and the index of an NDJSON event', async () => {
    const r = await appendEvents(openMemoryStore(), `${JSON.stringify(hb('a1'))}\n\n{"nope"\n`, { now });
    expect(!r.success && [r.error.code, r.error.line, r.error.index]).toEqual(['invalid-json', 3, 1]);
  });

  it('refuses an event stamped more than maxClockSkewMs ahead of now, as clock-skew', async () => {
    const store = openMemoryStore();
    const late = hb('a1', { metadata: { at: new Date(now + 301_000).toISOString() } });
    const r = await appendEvents(store, [hb('a0'), late], { now });
    expect(!r.success && [r.error.code, r.error.index, r.error.path, r.error.message]).toEqual([
      'clock-skew',
      1,
      'metadata.at',
      "events[1]: metadata.at: 2026-11-20T10:05:01.000Z is 301 s ahead of this machine's clock (at most 300 s allowed); nothing appended",
    ]);
    expect(await readAll(store)).toEqual([]);
    expect((await appendEvents(store, late, { now, maxClockSkewMs: 600_000 })).success).toBe(true);
    expect((await appendEvents(store, hb('a2', { metadata: { at: new Date(now + 299_000).toISOString() } }), { now })).success).toBe(true);
  });

  it('opens a lazily given store only once the input is valid', async () => {
    let opened = 0;
    const open = async () => {
      opened++;
      return openMemoryStore();
    };
    expect((await appendEvents(open, [hb('')], { now })).success).toBe(false);
    expect(opened).toBe(0);
    expect((await appendEvents(open, [hb('a1')], { now })).success).toBe(true);
    expect(opened).toBe(1);
  });

  it('ids: lowercased; from an NDJSON line, derived from its number and text (a re-run doubles nothing); from an object, random', async () => {
    const store = openMemoryStore();
    const upper = 'ABCDEF01-2345-4678-89AB-CDEF01234567';
    await appendEvents(store, hb('a1', { id: upper }), { now });
    const dup = await appendEvents(store, hb('a1', { id: upper.toLowerCase() }), { now });
    expect(dup.success && dup.data).toMatchObject({ appended: 0, duplicates: 1 });
    const text = `${JSON.stringify(hb('a2'))}\n`;
    await appendEvents(store, text, { now });
    const again = await appendEvents(store, text, { now });
    expect(again.success && again.data).toMatchObject({ appended: 0, duplicates: 1 });
    await appendEvents(store, hb('a3'), { now });
    await appendEvents(store, hb('a3'), { now });
    const ids = (await readAll(store)).map((e) => e.id);
    expect(ids[0]).toBe(upper.toLowerCase());
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
  });

  it('an aborted signal stops it before anything is written', async () => {
    const store = openMemoryStore();
    const controller = new AbortController();
    controller.abort('SIGINT');
    const r = await appendEvents(store, [hb('a1')], { now, signal: controller.signal });
    expect(!r.success && [r.error.code, r.error.message]).toEqual(['interrupted', 'interrupted by SIGINT before anything was appended']);
    expect(await readAll(store)).toEqual([]);
  });

  it('a stream that fails while it is read is an io failure, returned, with nothing written', async () => {
    const store = openMemoryStore();
    // One line, then the connection fails when the reader asks for more.
    let reads = 0;
    const failing = new Readable({
      read() {
        if (++reads === 1) this.push(Buffer.from(`${JSON.stringify(hb('a1'))}\n`));
        else process.nextTick(() => this.destroy(new Error('connection reset')));
      },
    });
    const r = await appendEvents(store, failing, { now });
    expect(!r.success && [r.error.code, r.error.message]).toEqual(['io', 'cannot read the input: connection reset']);
    expect(await readAll(store)).toEqual([]);
  });

  it('empty input appends nothing and opens nothing', async () => {
    let opened = false;
    const r = await appendEvents(async () => ((opened = true), openMemoryStore()), '\n  \n', { now });
    expect(r).toEqual({ success: true, data: { first: null, last: null, appended: 0, duplicates: 0 } });
    expect(opened).toBe(false);
  });
});
