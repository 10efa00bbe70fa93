import { describe, expect, it } from 'vitest';
import { appendEvents } from '../../src/ingest/appendEvents.js';
import type { StoredEvent } from '../../src/stores/eventStore.js';
import { storedRow } from '../../src/stores/relational/storedRow.js';
import { fileIdentity } from '../../src/stores/sqlite/fileIdentity.js';
import { createSqliteFeed, type FeedReader } from '../../src/stores/sqlite/follow.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import { heartbeats, makeEvent } from '../support/events.js';
import { waitFor } from '../support/waitFor.js';
import { collect } from './conformance.js';
import { tempDbs } from '../support/tempDb.js';

// What this process commits is handed to its store's subscriptions instead of being read back
// (src/stores/sqlite/follow.ts); what other connections commit is read.

const tempDb = tempDbs('rollcall-handover-');

/** Follows `store` from `after` into `into` until the signal aborts. */
const follow = (store: { subscribePages: (o: { after: bigint; signal: AbortSignal }) => AsyncIterable<readonly StoredEvent[]> }, after: bigint, signal: AbortSignal, into: StoredEvent[]) =>
  (async () => {
    for await (const page of store.subscribePages({ after, signal })) into.push(...page);
  })();

describe.each([false, true])('sqlite handover (commit thread: %s)', (commitThread) => {
  it('a handed-over event equals what a read of the store gives back, field for field, duplicates and stream requests included', async () => {
    const store = openSqliteStore({ path: tempDb(), pollIntervalMs: 20, commitThread });
    try {
      await store.appendBatch(heartbeats(5));
      const controller = new AbortController();
      const seen: StoredEvent[] = [];
      const following = follow(store, 5n, controller.signal, seen);
      const repeated = heartbeats(2, { prefix: 'r' });
      await store.appendBatch(repeated);
      // A group: a batch repeating an id (a duplicate, not written), a stream request, an odd payload.
      const odd = makeEvent('AgentHeartbeat', { agentId: 'ünïcødé "quoted" \\ \u2028' }, { labels: { a: 'b' } });
      const outcomes = await store.appendGroup!([
        { events: [repeated[0]!, ...heartbeats(3, { prefix: 'g' })] },
        { stream: 'agent-s', events: [makeEvent('AgentHeartbeat', { agentId: 's' }), makeEvent('AgentHeartbeat', { agentId: 's' })], expectedRevision: 'no-stream' },
        { events: [odd] },
      ]);
      expect(outcomes.map((o) => o.success && o.data.duplicates)).toEqual([1, 0, 0]);
      const results = await Promise.all([0, 1, 2].map((i) => appendEvents(store, { type: 'AgentHeartbeat', data: { agentId: `c${i}` }, metadata: { at: new Date().toISOString() } })));
      const head = (await store.head())!;
      await waitFor('every appended event followed', () => seen.at(-1)?.position === head, { describe: () => seen.map((e) => e.position) });
      controller.abort();
      await following;
      expect(results.every((r) => r.success)).toBe(true);
      expect(seen).toEqual(await collect(store.readAll({ after: 5n })));
      expect(seen.map((e) => e.position)).toEqual(Array.from({ length: Number(head) - 5 }, (_, i) => BigInt(i + 6)));
    } finally {
      await store.close();
    }
  });

  it('a commit is folded by a follower only after the appends it answers have resumed (answers first, then the fold)', async () => {
    const store = openSqliteStore({ path: tempDb(), pollIntervalMs: 20, commitThread });
    try {
      const controller = new AbortController();
      const seen: StoredEvent[] = [];
      const following = follow(store, 0n, controller.signal, seen);
      // The follower is waiting once it has taken a first commit.
      await appendEvents(store, heartbeats(1));
      await waitFor('the first append followed', () => seen.length === 1);
      // Concurrent calls share a group; each records what the follower had when its answer resumed it.
      const seenAtAnswer = await Promise.all([0, 1, 2, 3].map((i) => appendEvents(store, heartbeats(2, { prefix: `a${i}` })).then((r) => (r.success ? seen.length : -1))));
      expect(seenAtAnswer).toEqual([1, 1, 1, 1]);
      await waitFor('every append followed', () => seen.length === 9);
      controller.abort();
      await following;
      expect(seen.map((e) => e.position)).toEqual(Array.from({ length: 9 }, (_, i) => BigInt(i + 1)));
    } finally {
      await store.close();
    }
  });

  it("another connection's appends (another process's, as far as this store can tell) still arrive, in position order between its own", async () => {
    const path = tempDb();
    const store = openSqliteStore({ path, pollIntervalMs: 20, commitThread });
    const other = openSqliteStore({ path, create: false });
    try {
      const controller = new AbortController();
      const seen: StoredEvent[] = [];
      const following = follow(store, 0n, controller.signal, seen);
      for (let round = 0; round < 10; round++) {
        // Not awaited one by one: the other's commit may land between two of this store's, so a
        // handed-over batch does not follow on from what the subscription has.
        await Promise.all([store.appendGroup!([{ events: heartbeats(2, { prefix: `s${round}-` }) }]), other.appendBatch(heartbeats(3, { prefix: `o${round}-` }))]);
        await store.appendGroup!([{ events: heartbeats(1, { prefix: `t${round}-` }) }]);
      }
      const head = (await store.head())!;
      expect(head).toBe(60n);
      await waitFor('all 60 followed', () => seen.length >= 60, { describe: () => seen.map((e) => e.position) });
      controller.abort();
      await following;
      expect(seen).toEqual(await collect(store.readAll()));
    } finally {
      await other.close();
      await store.close();
    }
  });
});

describe('sqlite change feed', () => {
  const event = (position: number): StoredEvent =>
    storedRow(BigInt(position), `agent-${position}`, 0n, `00000000-0000-4000-8000-${String(position).padStart(12, '0')}`, 'AgentHeartbeat', `{"agentId":"${position}"}`, '{"at":"2026-12-07T10:00:00.000Z"}');

  /**
   * A feed over a fake log (`log`: what the store holds), recording the position after which each
   * read started. Its data_version is the log's length; `pollIntervalMs` short lets a follower see
   * a commit before its handover, as the file watch would.
   */
  const fakeFeed = (pollIntervalMs = 60_000, inFlightWaitMs?: number) => {
    const log: StoredEvent[] = [];
    const pages: bigint[] = [];
    const reader: FeedReader = {
      dataVersion: () => log.length,
      page: async (after, limit) => {
        pages.push(after);
        return log.filter((e) => e.position > after).slice(0, limit);
      },
      close: () => undefined,
    };
    // The follower checks the file once per turn of its loop: counted, to know it went round.
    let turns = 0;
    const identity = { ...fileIdentity(':memory:', 'sqlite::memory:'), check: () => void turns++ };
    const feed = createSqliteFeed({ path: ':memory:', pageSize: 100, pollIntervalMs, openReader: () => reader, isClosed: () => false, identity, ...(inFlightWaitMs !== undefined ? { inFlightWaitMs } : {}) });
    return { log, feed, pages, turns: () => turns };
  };

  it('a commit of this process is yielded as handed, without a read', async () => {
    const { log, feed, pages } = fakeFeed();
    const controller = new AbortController();
    const iterator = feed.subscribePages({ after: 0n, signal: controller.signal });
    const first = iterator.next();
    await waitFor('the first read', () => pages.length === 1);
    const handed = [event(1), event(2)];
    log.push(...handed);
    feed.committed(() => handed);
    const page = (await first).value as StoredEvent[];
    expect(page).toEqual(handed);
    expect(page[0]).toBe(handed[0]);
    expect(pages).toEqual([0n]);
    controller.abort();
    await iterator.return(undefined);
  });

  it('a commit of this process seen in the store before its answer arrives is still yielded as handed, not read back', async () => {
    // The wait for the handover is bounded (50 ms by default); here only the handover may end it,
    // so that a busy machine's slow turns between the test's steps cannot.
    const { log, feed, pages, turns } = fakeFeed(1, 3_600_000);
    const controller = new AbortController();
    const iterator = feed.subscribePages({ after: 0n, signal: controller.signal });
    const first = iterator.next();
    await waitFor('the first read', () => pages.length === 1);
    const before = turns();
    feed.committing();
    const handed = [event(1), event(2)];
    // Committed (the data_version moved) while the commit thread's answer is on its way: the
    // follower, polling every ms, goes round with it visible (in the same turn of this test as
    // committing(), so any later turn of the follower sees it), and waits for the handover instead of reading.
    log.push(...handed);
    await waitFor('the follower went round with the commit visible', () => turns() >= before + 1);
    feed.committed(() => handed);
    feed.settled();
    const page = (await first).value as StoredEvent[];
    expect(page[0]).toBe(handed[0]);
    expect(page).toEqual(handed);
    expect(pages).toEqual([0n]);
    controller.abort();
    await iterator.return(undefined);
  });

  it('a commit of this process held up in flight does not hold back what another writer committed', async () => {
    const { log, feed, pages } = fakeFeed(1);
    const controller = new AbortController();
    const iterator = feed.subscribePages({ after: 0n, signal: controller.signal });
    const first = iterator.next();
    await waitFor('the first read', () => pages.length === 1);
    feed.committing();
    // Another writer's commit while this process's waits for the write lock (no answer for now).
    log.push(event(1));
    expect(((await first).value as StoredEvent[]).map((e) => e.position)).toEqual([1n]);
    expect(pages).toEqual([0n, 0n]);
    // Then this process's own commit is answered: handed over, after what was read.
    const mine = [event(2)];
    log.push(...mine);
    feed.committed(() => mine);
    feed.settled();
    const next = (await iterator.next()).value as StoredEvent[];
    expect(next[0]).toBe(mine[0]);
    controller.abort();
    await iterator.return(undefined);
  });

  it('a handed batch that does not follow on is read from the store, with what another writer put before it', async () => {
    const { log, feed, pages } = fakeFeed();
    log.push(event(1));
    const controller = new AbortController();
    const iterator = feed.subscribePages({ after: 0n, signal: controller.signal });
    expect(((await iterator.next()).value as StoredEvent[]).map((e) => e.position)).toEqual([1n]);
    // Another writer's 2, then this process's 3; the watch has not woken anyone yet.
    log.push(event(2), event(3));
    feed.committed(() => [event(3)]);
    const next = ((await iterator.next()).value as StoredEvent[]).map((e) => e.position);
    expect(next).toEqual([2n, 3n]);
    expect(pages).toEqual([0n, 1n]);
    controller.abort();
    await iterator.return(undefined);
  });

  it('a subscription that stops pulling holds a bounded number of handed events, then reads what it dropped', async () => {
    const { log, feed, pages } = fakeFeed();
    const controller = new AbortController();
    const iterator = feed.subscribePages({ after: 0n, signal: controller.signal });
    const first = iterator.next();
    await waitFor('the first read', () => pages.length === 1);
    log.push(event(1));
    feed.committed(() => [event(1)]);
    expect(((await first).value as StoredEvent[]).map((e) => e.position)).toEqual([1n]);
    // Not pulled while 20,000 events are committed in batches of 1,000.
    for (let b = 0; b < 20; b++) {
      const batch = Array.from({ length: 1000 }, (_, i) => event(2 + b * 1000 + i));
      log.push(...batch);
      feed.committed(() => batch);
    }
    const positions: bigint[] = [];
    while (positions.length < 20_000) positions.push(...((await iterator.next()).value as StoredEvent[]).map((e) => e.position));
    expect(positions).toEqual(Array.from({ length: 20_000 }, (_, i) => BigInt(i + 2)));
    expect(pages.length).toBeGreaterThan(1);
    controller.abort();
    await iterator.return(undefined);
  });
});
