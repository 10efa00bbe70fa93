import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reportError } from '../../src/cli/cliIo.js';
import { RollcallError } from '../../src/errors.js';
import { streamOf, type LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import type { AppendToStreamResult, EventStore, StoredEvent } from '../../src/stores/eventStore.js';
import { heartbeats, makeEvent } from '../support/events.js';
import { appendEvents } from '../../src/ingest/appendEvents.js';

export interface ConformanceOptions {
  /** Events in the large-batch test. Default 100,000. */
  largeBatch?: number;
  /** Timeout of each test in ms. Default 30,000. */
  timeoutMs?: number;
  /** The store must offer snapshots. Default true. */
  snapshots?: boolean;
  /** Positions are exactly 1, 2, 3… (embedded and PostgreSQL stores). Default false: only strictly increasing. */
  gaplessPositions?: boolean;
  /** The store talks to a server (or file) that can fail; false only for the in-process memory store. Default true. */
  hasServer?: boolean;
}

export interface OpenedStore {
  store: EventStore;
  cleanup(): Promise<void>;
  /**
   * Makes the store's server fail every request with an error the adapter does not expect (a
   * dropped table, an INTERNAL gRPC status…), so the suite can check it is reported as
   * `store-unavailable`. Required unless the suite runs with `hasServer: false`.
   */
  breakServer?: () => Promise<void>;
}

/** Everything an iterable yields. */
export const collect = async <T>(iterable: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
};

/** The part of a stored event that must equal what was appended. */
const body = (e: LifecycleEvent | StoredEvent) => ({ id: e.id, type: e.type, data: e.data, metadata: e.metadata });

const expectIncreasing = (events: readonly StoredEvent[]) => {
  for (let i = 1; i < events.length; i++) {
    if (events[i]!.position <= events[i - 1]!.position) {
      throw new Error(`position ${events[i]!.position} at index ${i} does not follow ${events[i - 1]!.position}`);
    }
  }
};

/** Per stream, the revisions in position order must be 0, 1, 2… */
const expectGaplessRevisions = (events: readonly StoredEvent[]) => {
  const next = new Map<string, bigint>();
  for (const e of events) {
    const want = next.get(e.stream) ?? 0n;
    expect(e.revision, `revision of ${e.id} in ${e.stream}`).toBe(want);
    next.set(e.stream, want + 1n);
  }
};

const expectWrongRevision = async (promise: Promise<unknown>, fields: { stream: string; expected: string; actual: string }) => {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RollcallError);
  expect(error).toMatchObject({ code: 'wrong-expected-revision', ...fields });
};

/**
 * The behaviour every EventStore adapter must share, as one vitest suite: run it against a fresh,
 * empty store per test (`open`), and `cleanup` whatever it created.
 */
export const describeEventStoreConformance = (
  name: string,
  open: () => Promise<OpenedStore>,
  options: ConformanceOptions = {},
): void => {
  const timeout = options.timeoutMs ?? 30_000;
  const largeBatch = options.largeBatch ?? 100_000;

  describe(`${name} store conformance`, () => {
    let opened: OpenedStore | undefined;
    let store: EventStore;
    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    }, timeout);
    afterEach(async () => {
      await opened?.cleanup();
      opened = undefined;
    }, timeout);

    it('reads back what was appended, in order, with streams and revisions', async () => {
      const events = heartbeats(20, { agents: 3 });
      const result = await store.appendBatch(events);
      const read = await collect(store.readAll());
      expect(read.map(body)).toEqual(events.map(body));
      expect(read.map((e) => e.stream)).toEqual(events.map(streamOf));
      expectIncreasing(read);
      expectGaplessRevisions(read);
      expect(read.every((e) => e.corrupt === undefined)).toBe(true);
      expect(result).toMatchObject({ appended: 20, duplicates: 0, lastPosition: read[19]!.position });
      if (result.firstPosition !== undefined) expect(result.firstPosition).toBe(read[0]!.position);
      if (options.gaplessPositions) expect(read.map((e) => e.position)).toEqual(read.map((_, i) => BigInt(i + 1)));
    }, timeout);

    it('stores an event id once: appending it again is counted as a duplicate', async () => {
      const events = heartbeats(6, { agents: 2 });
      await store.appendBatch(events.slice(0, 4));
      const again = await store.appendBatch(events);
      expect(again).toMatchObject({ appended: 2, duplicates: 4 });
      const repeatInBatch = makeEvent('AgentHeartbeat', { agentId: 'a0' });
      expect(await store.appendBatch([repeatInBatch, repeatInBatch])).toMatchObject({ appended: 1, duplicates: 1 });
      const single = await store.appendToStream('agent-a0', [events[0]!]);
      expect(single).toMatchObject({ appended: 0, duplicates: 1, lastPosition: null });
      const read = await collect(store.readAll());
      expect(read.map((e) => e.id)).toEqual([...events.slice(0, 4), ...events.slice(4), repeatInBatch].map((e) => e.id));
      expectGaplessRevisions(read);
      expect(single.nextExpectedRevision).toBe(BigInt(read.filter((e) => e.stream === 'agent-a0').length - 1));
    }, timeout);

    it('appendGroup: several requests in one transaction, each as if alone after the earlier ones; a wrong revision refuses that one alone', async () => {
      if (store.appendGroup === undefined) return;
      const [a1, a2, b1, c1, d1] = [0, 1, 2, 3, 4].map(() => makeEvent('AgentHeartbeat', { agentId: 'grp' }));
      const outcomes = await store.appendGroup([
        { events: [a1!, a2!] },
        { stream: 'agent-grp', events: [b1!], expectedRevision: 'no-stream' },
        { stream: 'agent-grp', events: [c1!], expectedRevision: 1n },
        { events: [a1!, d1!] },
      ]);
      const read = await collect(store.readAll());
      expect(read.map((e) => e.id)).toEqual([a1!, a2!, c1!, d1!].map((e) => e.id));
      expectGaplessRevisions(read);
      expect(outcomes.map((o) => o.success)).toEqual([true, false, true, true]);
      expect(outcomes[1]).toMatchObject({ success: false, error: { code: 'wrong-expected-revision' } });
      const [p1, p2, p3, p4] = read.map((e) => e.position);
      expect(outcomes[0]).toMatchObject({ success: true, data: { appended: 2, duplicates: 0, firstPosition: p1, lastPosition: p2 } });
      expect(outcomes[2]).toMatchObject({ success: true, data: { appended: 1, duplicates: 0, lastPosition: p3, nextExpectedRevision: 2n } });
      expect(outcomes[3]).toMatchObject({ success: true, data: { appended: 1, duplicates: 1, lastPosition: p4 } });
      // A group that writes nothing (every id stored, or refused) is no error.
      const none = await store.appendGroup([{ events: [a1!] }, { stream: 'agent-grp', events: [], expectedRevision: 'no-stream' }]);
      expect(none.map((o) => o.success)).toEqual([true, false]);
      expect(none[0]).toMatchObject({ data: { appended: 0, duplicates: 1, lastPosition: null } });
    }, timeout);

    it('group commit: concurrent appendEvents calls each land whole, at contiguous positions, answered once stored', async () => {
      const requests = Array.from({ length: 32 }, (_, i) => heartbeats(1 + (i % 3), { agents: 4, prefix: `g${i}-` }));
      const results = await Promise.all(requests.map((events) => appendEvents(store, events)));
      const read = await collect(store.readAll());
      expect(read).toHaveLength(requests.flat().length);
      const at = new Map(read.map((e) => [e.id, e.position]));
      results.forEach((r, i) => {
        if (!r.success) throw r.error;
        const positions = requests[i]!.map((e) => at.get(e.id)!);
        expect(positions[positions.length - 1]).toBe(r.data.last);
        for (let k = 1; k < positions.length; k++) expect(positions[k]).toBe(positions[k - 1]! + (options.gaplessPositions ? 1n : positions[k]! - positions[k - 1]!));
        if (r.data.first !== null) expect(r.data.first).toBe(positions[0]);
      });
      expectIncreasing(read);
      expectGaplessRevisions(read);
    }, timeout);

    it('enforces expected revisions: no-stream, stream-exists, exact and any', async () => {
      const s = 'agent-rev';
      const ev = () => makeEvent('AgentHeartbeat', { agentId: 'rev' });
      await expectWrongRevision(store.appendToStream(s, [ev()], { expectedRevision: 'stream-exists' }), {
        stream: s,
        expected: 'stream-exists',
        actual: 'no-stream',
      });
      await expectWrongRevision(store.appendToStream(s, [ev()], { expectedRevision: 0n }), {
        stream: s,
        expected: '0',
        actual: 'no-stream',
      });
      const first = await store.appendToStream(s, [ev(), ev()], { expectedRevision: 'no-stream' });
      expect(first).toMatchObject({ appended: 2, duplicates: 0, nextExpectedRevision: 1n });
      await expectWrongRevision(store.appendToStream(s, [ev()], { expectedRevision: 'no-stream' }), {
        stream: s,
        expected: 'no-stream',
        actual: '1',
      });
      await expectWrongRevision(store.appendToStream(s, [ev()], { expectedRevision: 0n }), {
        stream: s,
        expected: '0',
        actual: '1',
      });
      expect(await store.appendToStream(s, [ev()], { expectedRevision: 1n })).toMatchObject({ nextExpectedRevision: 2n });
      expect(await store.appendToStream(s, [ev()], { expectedRevision: 'stream-exists' })).toMatchObject({
        nextExpectedRevision: 3n,
      });
      expect(await store.appendToStream(s, [ev()], { expectedRevision: 'any' })).toMatchObject({ nextExpectedRevision: 4n });
      expect(await store.appendToStream(s, [ev()])).toMatchObject({ nextExpectedRevision: 5n });
      // Rejected appends wrote nothing.
      const read = await collect(store.readStream(s));
      expect(read.map((e) => e.revision)).toEqual([0n, 1n, 2n, 3n, 4n, 5n]);
    }, timeout);

    it('readAll starts after a position (exclusive) and stops at a limit', async () => {
      await store.appendBatch(heartbeats(30, { agents: 4 }));
      const all = await collect(store.readAll());
      expect(all).toHaveLength(30);
      expect(await collect(store.readAll({ after: null }))).toEqual(all);
      expect(await collect(store.readAll({ after: all[9]!.position }))).toEqual(all.slice(10));
      expect(await collect(store.readAll({ after: all[9]!.position, limit: 5 }))).toEqual(all.slice(10, 15));
      expect(await collect(store.readAll({ limit: 3 }))).toEqual(all.slice(0, 3));
      expect(await collect(store.readAll({ limit: 0 }))).toEqual([]);
      expect(await collect(store.readAll({ after: all[29]!.position }))).toEqual([]);
    }, timeout);

    it('readPages hands over what readAll does, in non-empty pages, after a position and up to a limit', async () => {
      await store.appendBatch(heartbeats(30, { agents: 4 }));
      const all = await collect(store.readAll());
      for (const options of [{}, { after: all[9]!.position }, { after: all[9]!.position, limit: 5 }, { limit: 0 }, { after: all[29]!.position }]) {
        const pages = await collect(store.readPages(options));
        expect(pages.every((p) => p.length > 0)).toBe(true);
        expect(pages.flat()).toEqual(await collect(store.readAll(options)));
      }
    }, timeout);

    it('readStream yields one stream in revision order, from a revision; an absent stream yields nothing', async () => {
      const events = heartbeats(12, { agents: 3 });
      await store.appendBatch(events);
      const a1 = await collect(store.readStream('agent-a1'));
      expect(a1.map((e) => e.id)).toEqual(events.filter((e) => streamOf(e) === 'agent-a1').map((e) => e.id));
      expect(a1.map((e) => e.revision)).toEqual([0n, 1n, 2n, 3n]);
      expect(a1.every((e) => e.stream === 'agent-a1')).toBe(true);
      expect((await collect(store.readStream('agent-a1', { fromRevision: 2n }))).map((e) => e.id)).toEqual(
        a1.slice(2).map((e) => e.id),
      );
      expect(await collect(store.readStream('agent-nobody'))).toEqual([]);
    }, timeout);

    it(`appends a batch of ${largeBatch} events in one call and reads it back identical`, async () => {
      const events = heartbeats(largeBatch, { agents: 500 });
      const result = await store.appendBatch(events);
      expect(result).toMatchObject({ appended: largeBatch, duplicates: 0 });
      let i = 0;
      let previous = -1n;
      for await (const e of store.readAll()) {
        const want = events[i]!;
        if (e.id !== want.id || e.position <= previous || (i % 997 === 0 && JSON.stringify(body(e)) !== JSON.stringify(body(want)))) {
          expect(body(e), `event ${i}`).toEqual(body(want));
          expect(e.position, `position of event ${i}`).toBeGreaterThan(previous);
        }
        previous = e.position;
        i++;
      }
      expect(i).toBe(largeBatch);
      expect(result.lastPosition).toBe(previous);
      expect(await store.head()).toBe(previous);
      if (options.gaplessPositions) expect(previous).toBe(BigInt(largeBatch));
    }, Math.max(timeout, 60_000));

    it('concurrent appenders lose nothing: positions strictly increase, revisions stay gapless', async () => {
      const writers = 6;
      const rounds = 12;
      const appended: LifecycleEvent[] = [];
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          let revision: bigint | 'no-stream' = 'no-stream';
          for (let r = 0; r < rounds; r++) {
            // Own stream with exact revisions, shared streams through appendBatch.
            const own = [makeEvent('AgentHeartbeat', { agentId: `w${w}` }), makeEvent('AgentHeartbeat', { agentId: `w${w}` })];
            const shared = heartbeats(3, { agents: 2, prefix: 'shared' });
            appended.push(...own, ...shared);
            const [res]: [AppendToStreamResult, unknown] = await Promise.all([
              store.appendToStream(`agent-w${w}`, own, { expectedRevision: revision }),
              store.appendBatch(shared),
            ]);
            revision = res.nextExpectedRevision;
          }
        }),
      );
      const read = await collect(store.readAll());
      expect(read).toHaveLength(writers * rounds * 5);
      expect(new Set(read.map((e) => e.id))).toEqual(new Set(appended.map((e) => e.id)));
      expectIncreasing(read);
      expectGaplessRevisions(read);
      if (options.gaplessPositions) expect(read.at(-1)!.position).toBe(BigInt(read.length));
      for (let w = 0; w < writers; w++) {
        expect((await collect(store.readStream(`agent-w${w}`))).map((e) => e.revision)).toEqual(
          Array.from({ length: rounds * 2 }, (_, i) => BigInt(i)),
        );
      }
    }, timeout);

    it('round-trips unicode and large payloads exactly', async () => {
      const big = `${'x'.repeat(512 * 1024)}🦀${'ж'.repeat(256 * 1024)}`; // over 1 MB as UTF-8
      const texts = [
        '🚀 emoji 👩‍👩‍👧‍👦 and flags 🇳🇱',
        'مرحبا بالعالم — RTL with ‏marks‏',
        '日本語のテキスト, 한국어, Ελληνικά',
        'e\u0301 combining, "quotes", \\backslash\\, new\nline, tab\t, nul \u0000 end',
        // Legal in JSON input ("\ud83d"), so a producer can send it; JSON.stringify writes it escaped.
        'lone surrogate \ud83d end',
        big,
      ];
      const events = texts.map((name, i) =>
        makeEvent('AgentRegistered', { agentId: `u${i}`, role: 'worker', name }, { source: name.slice(0, 40), 'ключ 🔑': name.slice(0, 10) }),
      );
      await store.appendBatch(events.slice(0, 2));
      for (const e of events.slice(2)) await store.appendToStream(streamOf(e), [e]);
      const read = await collect(store.readAll());
      expect(read.map(body)).toEqual(events.map(body));
      expect((read[5]!.data as { name: string }).name.length).toBe(big.length);
      expect(await collect(store.readStream('agent-u5'))).toEqual([read[5]]);
    }, timeout);

    it('subscribe catches up, then sees events appended after it started, until aborted', async () => {
      const before = heartbeats(3, { agents: 1 });
      await store.appendBatch(before);
      const controller = new AbortController();
      const seen: StoredEvent[] = [];
      const after = heartbeats(4, { agents: 2 });
      let appendedLate = false;
      const following = (async () => {
        for await (const e of store.subscribe({ signal: controller.signal })) {
          seen.push(e);
          if (seen.length === before.length && !appendedLate) {
            appendedLate = true;
            // Appended once the subscription has delivered the history: reading it still or already
            // following, it must see them.
            void store.appendBatch(after.slice(0, 2)).then(() => store.appendBatch(after.slice(2)));
          }
          if (seen.length === before.length + after.length) controller.abort();
        }
      })();
      const timer = setTimeout(() => controller.abort(), 15_000);
      await following;
      clearTimeout(timer);
      expect(seen.map((e) => e.id)).toEqual([...before, ...after].map((e) => e.id));
      expectIncreasing(seen);
      // Exclusive start: from the third event on.
      const ctl = new AbortController();
      const tail: string[] = [];
      for await (const e of store.subscribe({ after: seen[2]!.position, signal: ctl.signal })) {
        tail.push(e.id);
        if (tail.length === 4) ctl.abort();
      }
      expect(tail).toEqual(after.map((e) => e.id));
    }, timeout);

    it('a subscription on an empty store ends when its signal aborts', async () => {
      const controller = new AbortController();
      // Aborted once the subscription is running (its first step has started), whatever it is doing then.
      const live = store.subscribe({ signal: controller.signal })[Symbol.asyncIterator]();
      const next = live.next();
      const started = Date.now();
      controller.abort();
      expect((await next).done).toBe(true);
      expect(Date.now() - started).toBeLessThan(5_000);
    }, timeout);

    it('head is null when empty, then the position of the newest event', async () => {
      expect(await store.head()).toBeNull();
      const first = await store.appendBatch(heartbeats(3));
      expect(await store.head()).toBe(first.lastPosition);
      const second = await store.appendToStream('agent-h', [makeEvent('AgentHeartbeat', { agentId: 'h' })]);
      expect(await store.head()).toBe(second.lastPosition);
      expect(second.lastPosition! > first.lastPosition!).toBe(true);
      const read = await collect(store.readAll());
      expect(read.at(-1)!.position).toBe(second.lastPosition);
    }, timeout);

    if (options.hasServer ?? true) it('an unexpected server error is store-unavailable (exit 3) on every call', async () => {
      expect(opened!.breakServer, 'an adapter with a server must say how to break it').toBeTypeOf('function');
      await store.appendBatch(heartbeats(3));
      await opened!.breakServer!();
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['appendBatch', () => store.appendBatch(heartbeats(1))],
        ['appendToStream', () => store.appendToStream('agent-broken', [makeEvent('AgentHeartbeat', { agentId: 'broken' })])],
        ['readAll', () => collect(store.readAll())],
        ['readStream', () => collect(store.readStream('agent-a0'))],
        ['head', () => store.head()],
      ];
      if (store.snapshots) calls.push(['snapshots.load', () => store.snapshots!.load('lifecycle')]);
      for (const [what, call] of calls) {
        const error = await call().then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, what).toBeInstanceOf(RollcallError);
        expect((error as RollcallError).code, `${what}: ${(error as Error).message}`).toBe('store-unavailable');
        const stderr: string[] = [];
        const exit = reportError({ stdout: { write: () => true }, stderr: { write: (s: string) => stderr.push(s) }, env: {} }, error);
        expect(exit, what).toBe(3);
        expect(stderr.join(''), what).not.toMatch(/\n\s+at /); // one line and a detail, never a stack
      }
    }, timeout);

    if (options.snapshots ?? true) {
      it('keeps the latest snapshot per projection name', async () => {
        const snapshots = store.snapshots;
        expect(snapshots).toBeDefined();
        expect(await snapshots!.load('lifecycle')).toBeNull();
        const first = { name: 'lifecycle', version: 1, position: 41n, payload: '{"pools":{},"note":"é 🚀"}' };
        await snapshots!.save(first);
        expect(await snapshots!.load('lifecycle')).toEqual(first);
        const second = { name: 'lifecycle', version: 2, position: 9_007_199_254_740_993n, payload: 'x'.repeat(100_000) };
        await snapshots!.save(second);
        await snapshots!.save({ name: 'other', version: 1, position: 1n, payload: '{}' });
        expect(await snapshots!.load('lifecycle')).toEqual(second);
        expect(await snapshots!.load('other')).toEqual({ name: 'other', version: 1, position: 1n, payload: '{}' });
      }, timeout);
    }
  });
};
