import { randomUUID } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { status as grpcStatus } from '@grpc/grpc-js';
import { ANY, NO_STREAM, STREAM_EXISTS, WrongExpectedVersionError } from '@eventstore/db-client';
import { RollcallError } from '../../src/errors.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import type { EventStore, StoredEvent } from '../../src/stores/eventStore.js';
import { fromWrongExpectedVersion } from '../../src/stores/esdb/errors.js';
import {
  comparePositions,
  fromEsdbExpectedRevision,
  toEsdbExpectedRevision,
  toEsdbPosition,
  toPublicPosition,
} from '../../src/stores/esdb/records.js';
import { splitConnectionString } from '../../src/stores/esdb/url.js';
import { maskUrl } from '../../src/stores/maskUrl.js';
import { openEsdbStore, type EsdbStoreOptions } from '../../src/stores/esdbStore.js';
import { startFakeEsdb, type FakeEsdb, type FakeEsdbOptions } from '../support/esdbServer.js';
import { waitFor } from '../support/waitFor.js';
import { describeEventStoreConformance } from './conformance.js';

/*
 * The EventStoreDB adapter, end to end through the real @eventstore/db-client over real gRPC.
 * By default against the in-process fake (test/support/esdbServer.ts); with ROLLCALL_TEST_ESDB_URL
 * set, against that server (each store gets its own stream namespace, so runs do not collide), and
 * the tests that need to break the server on purpose are skipped.
 */

const realUrl = process.env['ROLLCALL_TEST_ESDB_URL'];
const onFakeOnly = realUrl ? it.skip : it;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const fake = async (options: FakeEsdbOptions = {}): Promise<FakeEsdb> => {
  const server = await startFakeEsdb(options);
  cleanups.push(() => server.stop());
  return server;
};

const open = async (url: string, options: Partial<EsdbStoreOptions> = {}): Promise<EventStore> => {
  const store = await openEsdbStore({ url, retry: { initialDelayMs: 10, maxDelayMs: 100 }, ...options });
  cleanups.push(() => store.close());
  return store;
};

/**
 * A store on a fresh fake, or on the real server under a namespace of its own; `again()` opens a
 * second store (another process, as far as caches go) on the same log.
 */
const setup = async (fakeOptions: FakeEsdbOptions = {}, storeOptions: Partial<EsdbStoreOptions> = {}) => {
  const server = realUrl ? null : await fake(fakeOptions);
  const url = realUrl ?? server!.url;
  const namespace = realUrl ? { namespace: `t${randomUUID().slice(0, 8)}-` } : {};
  const store = await open(url, { ...namespace, ...storeOptions });
  return { server, store, again: () => open(url, { ...namespace, ...storeOptions }) };
};

let clock = 0;
const meta = () => ({ at: new Date(Date.UTC(2026, 10, 20, 10, 0, 0, clock++)).toISOString() });
const registered = (agentId: string): LifecycleEvent => ({
  id: randomUUID(),
  type: 'AgentRegistered',
  data: { agentId, role: 'worker' },
  metadata: meta(),
});
const heartbeat = (agentId: string): LifecycleEvent => ({
  id: randomUUID(),
  type: 'AgentHeartbeat',
  data: { agentId },
  metadata: meta(),
});
const poolCreated = (poolId: string): LifecycleEvent => ({
  id: randomUUID(),
  type: 'PoolCreated',
  data: { poolId, name: poolId, maxSize: 2 },
  metadata: meta(),
});

const collect = async (it: AsyncIterable<StoredEvent>): Promise<StoredEvent[]> => {
  const out: StoredEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
};

const rejection = async (p: Promise<unknown>): Promise<RollcallError> => {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RollcallError);
    return e as RollcallError;
  }
  throw new Error('expected a rejection');
};

/** Takes `n` events from a live subscription (the timeout only catches a hang). */
const take = async (iterator: AsyncIterator<StoredEvent>, n: number, ms = 30_000): Promise<StoredEvent[]> => {
  const out: StoredEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${out.length}/${n} events`)), ms)));
  try {
    while (out.length < n) {
      const next = await Promise.race([iterator.next(), hang]);
      if (next.done) break;
      out.push(next.value);
    }
    return out;
  } finally {
    clearTimeout(timer);
  }
};


/** Resolves once a client connects to `port` (on which nothing else listens meanwhile), then frees it. */
const reconnectAttempt = (port: number) =>
  new Promise<void>((resolve, reject) => {
    const standIn = createServer((socket) => {
      socket.destroy();
      standIn.close(() => resolve());
    });
    standIn.once('error', reject);
    standIn.listen(port, '127.0.0.1');
  });

const agentId = () => `a${randomUUID().slice(0, 8)}`;

/*
 * The shared suite. Each test gets an empty log: a fresh fake, or a fresh namespace on the real
 * server. Two settings differ from the suite's defaults, for EventStoreDB reasons:
 * - largeBatch 2000: the batch's heartbeats rotate over 500 agents, so every event is its own run
 *   and its own append round trip (appendBatch keeps the given order, so runs cannot be sent in
 *   parallel); 100 000 of them take minutes.
 * - the suite's 1 MB+ event exceeds the server's default MaxAppendSize (1 048 576 bytes): the fake
 *   is configured like a server started with EVENTSTORE_MAX_APPEND_SIZE=4194304, and the store is
 *   told so. With defaults the append fails with a clear error (tested below).
 */
const conformanceAppendSize = 4 * 1024 * 1024;
describeEventStoreConformance(
  realUrl ? 'EventStoreDB (real server)' : 'EventStoreDB (in-process gRPC fake)',
  async () => {
    if (realUrl) {
      const store = await openEsdbStore({
        url: realUrl,
        namespace: `c${randomUUID().slice(0, 8)}-`,
        maxAppendSize: conformanceAppendSize,
      });
      return { store, cleanup: () => store.close() };
    }
    const server = await startFakeEsdb({ maxAppendSize: conformanceAppendSize });
    const store = await openEsdbStore({ url: `${server.url}&maxAppendSize=${conformanceAppendSize}` });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await server.stop();
      },
      // The server answers INTERNAL to everything (e.g. its disk failed).
      breakServer: async () => server.failEverything(grpcStatus.INTERNAL),
    };
  },
  // A real server cannot be broken from here; the fake checks the mapping.
  { largeBatch: 2000, hasServer: !realUrl, gaplessPositions: false, snapshots: true },
);

describe('mapping between rollcall and @eventstore/db-client', () => {
  it.each([
    ['any', ANY],
    ['no-stream', NO_STREAM],
    ['stream-exists', STREAM_EXISTS],
    [7n, 7n],
  ] as const)('expected revision %s maps to the client and back', (ours, theirs) => {
    expect(toEsdbExpectedRevision(ours)).toBe(theirs);
    expect(fromEsdbExpectedRevision(theirs)).toBe(ours);
  });

  it('a WrongExpectedVersionError becomes a typed wrong-expected-revision error', () => {
    const e = new WrongExpectedVersionError(undefined as never, { streamName: 'agent-x', expected: NO_STREAM, current: 3n });
    const mapped = fromWrongExpectedVersion(e);
    expect(mapped).toMatchObject({ code: 'wrong-expected-revision', stream: 'agent-x', expected: 'no-stream', actual: '3' });
    expect(mapped.message).toBe('stream agent-x: expected revision no-stream, but it is at 3');
    const absent = fromWrongExpectedVersion(
      new WrongExpectedVersionError(undefined as never, { streamName: 'agent-y', expected: 4n, current: NO_STREAM }),
    );
    expect(absent).toMatchObject({ expected: '4', actual: 'no-stream' });
  });

  it('a public position maps to the event’s {commit, prepare} and back', () => {
    for (const p of [0n, 335n, 2n ** 63n - 1n]) {
      expect(toEsdbPosition(p)).toEqual({ commit: p, prepare: p });
      expect(toPublicPosition(toEsdbPosition(p))).toBe(p);
    }
    // A filtered checkpoint ({commit ahead, prepare 0}) orders after the event before it and
    // before the event at that commit: resuming from it would be safe, converting it would skip.
    expect(comparePositions({ commit: 535n, prepare: 0n }, { commit: 440n, prepare: 440n })).toBe(1);
    expect(comparePositions({ commit: 535n, prepare: 0n }, { commit: 535n, prepare: 535n })).toBe(-1);
  });

  it('takes rollcall’s own parameters out of the URL before the client parses it', () => {
    expect(splitConnectionString('esdb://h:2113?tls=false&maxAppendSize=4194304&namespace=t1-')).toEqual({
      connectionString: 'esdb://h:2113?tls=false',
      params: { maxAppendSize: 4194304, namespace: 't1-' },
    });
    expect(splitConnectionString('esdb://h:2113')).toEqual({ connectionString: 'esdb://h:2113', params: {} });
    expect(() => splitConnectionString('esdb://h:2113?maxAppendSize=lots')).toThrow(/maxAppendSize must be a positive integer/);
  });

  it('masks the password of a URL', () => {
    expect(maskUrl('esdb://admin:changeit@localhost:2113?tls=false')).toBe('esdb://admin:***@localhost:2113?tls=false');
    expect(maskUrl('esdb://localhost:2113?tls=false')).toBe('esdb://localhost:2113?tls=false');
  });
});

describe('EventStoreDB adapter', () => {
  it('appends, reads back in order, and reports positions that are the $all commit positions', async () => {
    const { server, store } = await setup();
    const a = agentId();
    const events = [registered(a), heartbeat(a), heartbeat(a)];
    const r = await store.appendToStream(`agent-${a}`, events, { expectedRevision: 'no-stream' });
    expect(r).toMatchObject({ appended: 3, duplicates: 0, nextExpectedRevision: 2n });

    const read = await collect(store.readStream(`agent-${a}`));
    expect(read.map((e) => [e.id, e.type, e.revision])).toEqual(events.map((e, i) => [e.id, e.type, BigInt(i)]));
    expect(read[0]!.data).toEqual(events[0]!.data);
    expect(read[0]!.metadata).toEqual(events[0]!.metadata);
    // The last position of a multi-event append is its last event's, not the first (transaction) one.
    expect(r.lastPosition).toBe(read[2]!.position);
    expect(read[0]!.position < read[1]!.position && read[1]!.position < read[2]!.position).toBe(true);
    if (server) {
      const onServer = server.records().filter((x) => x.stream === `agent-${a}`);
      expect(read.map((e) => e.position)).toEqual(onServer.map((x) => x.position));
      // Byte-like positions: not 1, 2, 3.
      expect(read[1]!.position - read[0]!.position).toBeGreaterThan(1n);
    }
  });

  it('readAll yields only rollcall streams, never system or foreign events, and head() is the newest of ours', async () => {
    const { server, store } = await setup();
    const a = agentId();
    await store.appendBatch([registered(a), poolCreated(`p-${a}`)]);
    server?.appendRaw({ stream: `orders-${a}`, type: 'OrderPlaced', data: '{}' });
    server?.appendRaw({ stream: '$stats-127.0.0.1:2113', type: '$statsCollected', data: '{}' });
    const all = await collect(store.readAll());
    const mine = all.filter((e) => e.stream.endsWith(a));
    expect(mine.map((e) => e.stream)).toEqual([`agent-${a}`, `pool-p-${a}`]);
    expect(all.every((e) => /^(agent|pool)-/.test(e.stream) && !e.type.startsWith('$'))).toBe(true);
    expect(await store.head()).toBe(mine[1]!.position);
    for (let i = 1; i < all.length; i++) expect(all[i]!.position > all[i - 1]!.position).toBe(true);
  });

  onFakeOnly('head() is null and readAll empty on a log with only system events', async () => {
    const { server, store } = await setup();
    expect(server!.records().length).toBeGreaterThan(0);
    expect(await store.head()).toBeNull();
    expect(await collect(store.readAll())).toEqual([]);
  });

  it('readAll({ after }) is exclusive and `after: p - 1n` starts at p; `limit` counts our events only', async () => {
    const { server, store } = await setup();
    const a = agentId();
    await store.appendBatch([registered(a), heartbeat(a)]);
    server?.appendRaw({ stream: `other-${a}`, type: 'Foreign', data: '{}' });
    await store.appendBatch([heartbeat(a), heartbeat(a)]);
    const mine = (await collect(store.readAll())).filter((e) => e.stream === `agent-${a}`);
    expect(mine).toHaveLength(4);
    const [first, second, third] = mine as [StoredEvent, StoredEvent, StoredEvent];
    expect((await collect(store.readAll({ after: first.position, limit: 2 }))).map((e) => e.id)).toEqual([second.id, third.id]);
    expect((await collect(store.readAll({ after: second.position - 1n, limit: 1 })))[0]!.id).toBe(second.id);
    expect(await collect(store.readAll({ after: first.position, limit: 0 }))).toEqual([]);
    expect((await collect(store.readAll({ after: mine[3]!.position })))).toEqual([]);
  });

  it('readStream of an absent stream yields nothing; fromRevision starts there', async () => {
    const { store } = await setup();
    const a = agentId();
    expect(await collect(store.readStream(`agent-${a}`))).toEqual([]);
    await store.appendBatch([registered(a), heartbeat(a), heartbeat(a)]);
    expect((await collect(store.readStream(`agent-${a}`, { fromRevision: 1n }))).map((e) => e.revision)).toEqual([1n, 2n]);
  });

  describe.each([
    ['BatchAppend', true],
    ['Append', false],
  ])('expected revisions over %s', (_rpc, batchAppend) => {
    it('a mismatch is the typed wrong-expected-revision error, with stream, expected and actual', async () => {
      const { server, store } = await setup({ batchAppend });
      const a = agentId();
      const stream = `agent-${a}`;
      const absent = await rejection(store.appendToStream(stream, [registered(a)], { expectedRevision: 'stream-exists' }));
      expect(absent).toMatchObject({ code: 'wrong-expected-revision', stream, expected: 'stream-exists', actual: 'no-stream' });
      await store.appendToStream(stream, [registered(a)], { expectedRevision: 'no-stream' });
      const exists = await rejection(store.appendToStream(stream, [heartbeat(a)], { expectedRevision: 'no-stream' }));
      expect(exists).toMatchObject({ code: 'wrong-expected-revision', stream, expected: 'no-stream', actual: '0' });
      const behind = await rejection(store.appendToStream(stream, [heartbeat(a)], { expectedRevision: 5n }));
      expect(behind).toMatchObject({ code: 'wrong-expected-revision', expected: '5', actual: '0' });
      expect(behind.message).toBe(`stream ${stream}: expected revision 5, but it is at 0`);
      const ok = await store.appendToStream(stream, [heartbeat(a)], { expectedRevision: 0n });
      expect(ok).toMatchObject({ appended: 1, nextExpectedRevision: 1n });
      expect(await store.appendToStream(stream, [heartbeat(a)], { expectedRevision: 'stream-exists' })).toMatchObject({
        appended: 1,
        nextExpectedRevision: 2n,
      });
      if (server) expect(batchAppend ? server.calls.batchAppend : server.calls.append).toBeGreaterThan(0);
      if (server) expect(batchAppend ? server.calls.append : server.calls.batchAppend).toBe(0);
    });
  });

  it('re-appending known ids writes nothing and still checks the expected revision', async () => {
    const { store } = await setup({ idempotencyCacheSize: 0 });
    const a = agentId();
    const stream = `agent-${a}`;
    const events = [registered(a), heartbeat(a)];
    await store.appendToStream(stream, events);
    // The fake's ANY dedupe is off: only the adapter's own id check can prevent the doubling.
    expect(await store.appendToStream(stream, events)).toMatchObject({ appended: 0, duplicates: 2, lastPosition: null, nextExpectedRevision: 1n });
    const mixed = await store.appendToStream(stream, [events[1]!, heartbeat(a)], { expectedRevision: 1n });
    expect(mixed).toMatchObject({ appended: 1, duplicates: 1, nextExpectedRevision: 2n });
    const stale = await rejection(store.appendToStream(stream, events, { expectedRevision: 0n }));
    expect(stale).toMatchObject({ code: 'wrong-expected-revision', expected: '0', actual: '2' });
    const stored = await collect(store.readStream(stream));
    expect(stored.map((e) => e.id).slice(0, 2)).toEqual(events.map((e) => e.id));
    expect(stored).toHaveLength(3);
    expect(mixed.lastPosition).toBe(stored[2]!.position);
  });

  it('appendBatch groups runs by stream, keeps order, and counts duplicates within and across calls', async () => {
    const { store } = await setup({ idempotencyCacheSize: 0 });
    const a = agentId();
    const b = agentId();
    const e1 = registered(a);
    const batch = [e1, heartbeat(a), registered(b), poolCreated(`p-${a}`), heartbeat(a), e1];
    const first = await store.appendBatch(batch);
    expect(first).toMatchObject({ appended: 5, duplicates: 1 });
    const all = (await collect(store.readAll())).filter((e) => e.stream.endsWith(a) || e.stream.endsWith(b));
    expect(all.map((e) => e.id)).toEqual(batch.slice(0, 5).map((e) => e.id));
    expect(first.lastPosition).toBe(all[4]!.position);
    expect(await store.appendBatch(batch)).toEqual({ appended: 0, duplicates: 6, lastPosition: null });
  });

  describe.each([
    ['BatchAppend', true],
    ['Append', false],
  ])('interrupted batches over %s', (_rpc, batchAppend) => {
    onFakeOnly('re-running a batch interrupted by a lost acknowledgement completes it with nothing doubled', async () => {
      const { server, store, again } = await setup({ idempotencyCacheSize: 0, batchAppend });
      const a = agentId();
      const b = agentId();
      const batch = [registered(a), heartbeat(a), registered(b), heartbeat(b), heartbeat(a)];
      // Runs: [a a] [b b] [a]. The second run is written but its acknowledgement is lost.
      server!.failAppends({ skip: 1, afterWrite: true });
      const interrupted = await rejection(store.appendBatch(batch));
      expect(interrupted.code).toBe('store-unavailable');
      expect(server!.records().filter((r) => r.stream.endsWith(a) || r.stream.endsWith(b))).toHaveLength(4);
      const rerun = await store.appendBatch(batch);
      expect(rerun).toMatchObject({ appended: 1, duplicates: 4 });
      // Another process (a second store, with nothing cached) re-running it finds everything there.
      const other = await again();
      expect(await other.appendBatch(batch)).toMatchObject({ appended: 0, duplicates: 5 });
      const stored = server!.records().filter((r) => r.stream.endsWith(a) || r.stream.endsWith(b));
      expect(stored.map((r) => r.id)).toEqual(batch.map((e) => e.id));
    });

    onFakeOnly('a batch whose write failed before reaching the log writes it on the re-run', async () => {
      const { server, store } = await setup({ batchAppend });
      const a = agentId();
      const batch = [registered(a), heartbeat(a)];
      server!.failAppends({ afterWrite: false });
      expect((await rejection(store.appendBatch(batch))).code).toBe('store-unavailable');
      expect(server!.records().filter((r) => r.stream === `agent-${a}`)).toHaveLength(0);
      expect(await store.appendBatch(batch)).toMatchObject({ appended: 2, duplicates: 0 });
    });
  });

  it('a writer that slips in between is detected by the exact expected revision, and nothing is doubled', async () => {
    const { store, again } = await setup({ idempotencyCacheSize: 0 });
    const other = await again();
    const a = agentId();
    const shared = heartbeat(a);
    // The first store learns the stream, then the second one appends (including an id the first will also send).
    await store.appendBatch([registered(a)]);
    await other.appendBatch([heartbeat(a), shared]);
    const r = await store.appendBatch([shared, heartbeat(a)]);
    expect(r).toMatchObject({ appended: 1, duplicates: 1 });
    const ids = (await collect(store.readStream(`agent-${a}`))).map((x) => x.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(4);
  });

  onFakeOnly('damaged rows are yielded with `corrupt` set, not thrown', async () => {
    const { server, store } = await setup();
    const a = agentId();
    await store.appendBatch([registered(a)]);
    server!.appendRaw({ stream: `agent-${a}`, type: 'AgentHeartbeat', data: '{"agentId": "a', metadata: '{"at":"2026-11-20T10:00:00.000Z"}' });
    server!.appendRaw({ stream: `agent-${a}`, type: 'AgentHeartbeat', data: `{"agentId":"${a}"}`, metadata: '{oops' });
    server!.appendRaw({
      stream: `agent-${a}`,
      type: 'AgentHeartbeat',
      contentType: 'application/octet-stream',
      data: `{"agentId":"${a}"}`,
      metadata: '{"at":"2026-11-20T10:00:00.000Z"}',
    });
    const read = await collect(store.readAll());
    const mine = read.filter((e) => e.stream === `agent-${a}`);
    expect(mine.map((e) => e.corrupt === undefined)).toEqual([true, false, false, true]);
    expect(mine[1]!.corrupt).toMatch(/data is not a JSON object/);
    expect(mine[2]!.corrupt).toMatch(/metadata is not JSON/);
    expect(mine[3]!.data).toEqual({ agentId: a });
    expect((await collect(store.readStream(`agent-${a}`)))[1]!.corrupt).toBeDefined();
  });

  onFakeOnly('splits a long run of one stream into appends within the server’s MaxAppendSize', async () => {
    const { server, store } = await setup();
    const a = agentId();
    const padding = 'p'.repeat(2000);
    const events = Array.from({ length: 1200 }, () => ({ ...heartbeat(a), metadata: { ...meta(), padding } }));
    const before = { calls: server!.calls.batchAppend, appends: server!.calls.appends };
    const result = await store.appendBatch(events);
    expect(result).toMatchObject({ appended: 1200, duplicates: 0 });
    const stored = await collect(store.readStream(`agent-${a}`));
    expect(stored.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(result.lastPosition).toBe(stored.at(-1)!.position);
    // ~2.6 MB in one run: at least three appends, over the one BatchAppend call the client keeps open.
    expect(server!.calls.appends - before.appends).toBeGreaterThanOrEqual(3);
    expect(server!.calls.batchAppend - before.calls).toBeLessThanOrEqual(1);
    expect(server!.records().filter((r) => r.stream === `agent-${a}`)).toHaveLength(1200);
  });

  describe.each([
    ['BatchAppend', true],
    ['Append', false],
  ])('an append larger than MaxAppendSize over %s', (_rpc, batchAppend) => {
    onFakeOnly('fails with a clear error and writes nothing', async () => {
      const { server, store } = await setup({ batchAppend });
      const a = agentId();
      const big = { ...registered(a), data: { agentId: a, role: 'worker', name: 'x'.repeat(1_100_000) } } as LifecycleEvent;
      const e = await rejection(store.appendToStream(`agent-${a}`, [big]));
      expect(e.code).toBe('io');
      expect(e.message).toMatch(/larger than the server's maximum append size \(1048576 bytes\).*maxAppendSize=<bytes>/);
      expect((await rejection(store.appendBatch([big]))).code).toBe('io');
      expect(server!.records().filter((r) => r.stream === `agent-${a}`)).toHaveLength(0);
    });
  });

  it('an id that is not a UUID is rejected up front as invalid-event, nothing written', async () => {
    const { store } = await setup();
    const a = agentId();
    const bad = { ...registered(a), id: 'e1' };
    await expect(store.appendBatch([registered(a), bad])).rejects.toMatchObject({ code: 'invalid-event', path: 'id' });
    await expect(store.appendToStream(`agent-${a}`, [bad])).rejects.toThrow('event id "e1" is not a UUID');
    expect(await collect(store.readStream(`agent-${a}`))).toEqual([]);
  });

  it('snapshots round-trip, live outside the rollcall streams, and the newest one wins', async () => {
    const { server, store } = await setup();
    const name = `lifecycle-${randomUUID().slice(0, 8)}`;
    expect(await store.snapshots!.load(name)).toBeNull();
    await store.snapshots!.save({ name, version: 1, position: 10n, payload: 'old' });
    await store.snapshots!.save({ name, version: 2, position: 2n ** 40n, payload: 'x\n{"a":1}' });
    expect(await store.snapshots!.load(name)).toEqual({ name, version: 2, position: 2n ** 40n, payload: 'x\n{"a":1}' });
    expect((await collect(store.readAll())).some((e) => e.type === 'RollcallSnapshot')).toBe(false);
    if (server) {
      // Older snapshots are left for the server to drop: the stream's metadata caps it.
      const meta = server.records().filter((r) => r.stream === `$$rollcall-snapshots-${name}`);
      expect(meta.map((r) => JSON.parse(Buffer.from(r.data).toString('utf8')))).toEqual([{ $maxCount: 2 }]);
    }
  });

  describe('subscribe', () => {
    it('catches up from `after` (exclusive), then follows live appends', async () => {
      const { store } = await setup();
      const a = agentId();
      await store.appendBatch([registered(a), heartbeat(a)]);
      const first = (await collect(store.readAll())).find((e) => e.stream === `agent-${a}`)!;
      const stop = new AbortController();
      const live = store.subscribe({ after: first.position, signal: stop.signal })[Symbol.asyncIterator]();
      const caughtUp = await take(live, 1);
      expect(caughtUp[0]!.type).toBe('AgentHeartbeat');
      const later = [heartbeat(a), poolCreated(`p-${a}`)];
      // Appended once the history is delivered: the subscription must go on to them.
      const appended = store.appendBatch(later);
      const followed = await take(live, 2);
      expect(followed.map((e) => e.id)).toEqual(later.map((e) => e.id));
      // The subscription may see the events before the append has its answer: await it before the store closes.
      expect(await appended).toMatchObject({ appended: 2 });
      stop.abort();
      expect((await live.next()).done).toBe(true);
    });

    onFakeOnly('skips system and foreign events and ignores the filtered checkpoints', async () => {
      const { server, store } = await setup();
      const a = agentId();
      const stop = new AbortController();
      const live = store.subscribe({ signal: stop.signal })[Symbol.asyncIterator]();
      const first = take(live, 2);
      await store.appendBatch([registered(a)]);
      server!.appendRaw({ stream: `orders-${a}`, type: 'OrderPlaced', data: '{}' });
      server!.appendRaw({ stream: `agent-${a}`, type: '$metadata', data: '{}' });
      await store.appendBatch([heartbeat(a)]);
      const got = await first;
      expect(got.map((e) => e.type)).toEqual(['AgentRegistered', 'AgentHeartbeat']);
      stop.abort();
    });

    onFakeOnly('resumes after the server drops the subscription, without skipping or repeating an event', async () => {
      const retries: unknown[] = [];
      const { server, store } = await setup({}, { onSubscriptionRetry: (e) => retries.push(e) });
      const a = agentId();
      const written: LifecycleEvent[] = [registered(a), heartbeat(a), heartbeat(a)];
      await store.appendBatch(written);
      const stop = new AbortController();
      const live = store.subscribe({ signal: stop.signal })[Symbol.asyncIterator]();
      const received = await take(live, 3);
      // Drop every open read while the consumer is between events, and again mid-stream.
      expect(server!.dropReads()).toBeGreaterThan(0);
      for (let i = 0; i < 3; i++) {
        const batch = [heartbeat(a), heartbeat(a)];
        written.push(...batch);
        await store.appendBatch(batch);
        received.push(...(await take(live, 1)));
        server!.dropReads();
        received.push(...(await take(live, 1)));
      }
      expect(retries.length).toBeGreaterThanOrEqual(2);
      expect(received.map((e) => e.id)).toEqual(written.map((e) => e.id));
      expect(server!.calls.subscribe).toBeGreaterThan(2);
      stop.abort();
      expect((await live.next()).done).toBe(true);
    });

    onFakeOnly('survives a server restart: waits with backoff, resubscribes from the last event seen', async () => {
      const { server, store } = await setup();
      const a = agentId();
      await store.appendBatch([registered(a)]);
      const stop = new AbortController();
      const live = store.subscribe({ signal: stop.signal })[Symbol.asyncIterator]();
      expect((await take(live, 1))[0]!.type).toBe('AgentRegistered');
      await server!.stop();
      // While it is down, another producer writes straight into the log; then it comes back.
      const missed = server!.appendRaw({ stream: `agent-${a}`, type: 'AgentHeartbeat', data: `{"agentId":"${a}"}`, metadata: '{"at":"2026-11-20T10:00:00.000Z"}' });
      const pending = take(live, 2);
      // The client tries again while it is down: a stand-in listener on its port sees the attempt.
      await reconnectAttempt(Number(new URL(server!.url).port));
      await server!.start();
      const after = heartbeat(a);
      await waitFor('the subscription to be back', () => server!.subscriptionCount() > 0);
      await store.appendBatch([after]);
      const got = await pending;
      expect(got.map((e) => e.id)).toEqual([missed.id, after.id]);
      stop.abort();
    });

    it('ends promptly when the signal aborts while waiting for events', async () => {
      const { store } = await setup();
      const stop = new AbortController();
      const live = store.subscribe({ after: await store.head(), signal: stop.signal })[Symbol.asyncIterator]();
      const next = live.next();
      // Aborted once the subscription is running (its first step has started), whatever it is doing then.
      const started = Date.now();
      stop.abort();
      expect((await next).done).toBe(true);
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('ends when the store closes', async () => {
      const { store } = await setup();
      const live = store.subscribe({ after: await store.head() })[Symbol.asyncIterator]();
      const next = live.next();
      await store.close();
      expect((await next).done).toBe(true);
    });
  });

  describe('unavailable server', () => {
    const freePort = async (): Promise<number> =>
      new Promise((resolve) => {
        const s = createServer();
        s.listen(0, '127.0.0.1', () => {
          const port = (s.address() as { port: number }).port;
          s.close(() => resolve(port));
        });
      });

    it('opening against a port with nothing listening fails fast with store-unavailable', async () => {
      const port = await freePort();
      const started = Date.now();
      const e = await rejection(openEsdbStore({ url: `esdb://127.0.0.1:${port}?tls=false` }));
      expect(e.code).toBe('store-unavailable');
      expect(e.message).toContain(`EventStoreDB at esdb://127.0.0.1:${port}?tls=false is unavailable`);
      expect(Date.now() - started).toBeLessThan(3500);
    });

    it('opening against a host that never answers fails with store-unavailable at the deadline', async () => {
      // A listener that accepts TCP but never speaks HTTP/2: the gRPC call hangs until our deadline.
      const sockets = new Set<Socket>();
      const silent = createServer((socket) => void sockets.add(socket));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
      cleanups.push(
        () =>
          new Promise((r) => {
            for (const socket of sockets) socket.destroy();
            silent.close(() => r());
          }),
      );
      const port = (silent.address() as { port: number }).port;
      const started = Date.now();
      const e = await rejection(openEsdbStore({ url: `esdb://127.0.0.1:${port}?tls=false`, connectTimeoutMs: 400 }));
      expect(e.code).toBe('store-unavailable');
      expect(e.message).toMatch(/did not answer within 400 ms/);
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('an invalid URL is a usage error', async () => {
      expect((await rejection(openEsdbStore({ url: 'esdb://' }))).code).toBe('usage');
    });

    onFakeOnly('calls after the server went away fail with store-unavailable, and work again when it is back', async () => {
      const { server, store } = await setup();
      const a = agentId();
      await server!.stop();
      expect((await rejection(store.appendBatch([registered(a)]))).code).toBe('store-unavailable');
      expect((await rejection(collect(store.readAll()))).code).toBe('store-unavailable');
      expect((await rejection(store.head())).code).toBe('store-unavailable');
      await server!.start();
      // The first calls after the restart may still fail while the client reconnects.
      const result = await waitFor('an append to succeed again', () => store.appendBatch([registered(a)]).catch(() => undefined), { intervalMs: 20 });
      expect(result).toMatchObject({ appended: 1 });
    });
  });
});
