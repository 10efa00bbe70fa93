// rollcall beside Emmett (@event-driven-io/emmett, a dev dependency), on the same generated history.
//
// (a) live compares like with like: both stores in process and not durable (Emmett's in-memory
// store, rollcall's memory store), and on both sides the projection is current when each append
// (for rollcall, the append and its `whenProcessed`) returns. rollcall on its durable SQLite store
// is an extra row beside them, not a comparison with Emmett.
//
// The peer's projection does at least rollcall's work per event: it is Emmett's own multi-stream
// projection (documents keyed by agent id, or pool id for pool events) whose `evolve` runs
// rollcall's lifecycle reducer — the same rules, the same anomalies — on that document. Emmett adds
// its own per-event costs around it (document lookup and store, stream versioning), which is what
// is being compared; the per-document state is smaller than rollcall's fleet-wide state, so the
// reducer itself has, if anything, less to do there.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LifecycleEvent, RecordedEvent } from '../src/events/lifecycleEvents.js';
import { streamOf } from '../src/events/lifecycleEvents.js';
import { lifecycleProjection } from '../src/projections/lifecycleProjection.js';
import type { LifecycleState } from '../src/projections/lifecycleState.js';
import { replayStore } from '../src/replay/replayLog.js';
import type { EventStore } from '../src/stores/eventStore.js';
import { openMemoryStore } from '../src/stores/memoryStore.js';
import { openSqliteStore } from '../src/stores/sqliteStore.js';
import { openRollcall } from '../src/live/openRollcall.js';
import { throwawayDatabase } from './throwawayDatabase.js';

export interface PeerResult {
  name: string;
  events: number;
  seconds: number;
  note: string;
}

type Any = any;

const docIdOf = (e: { data: Record<string, unknown> }): string => String(e.data['agentId'] ?? `pool:${String(e.data['poolId'])}`);

/** The evolve both Emmett figures use: rollcall's reducer on a per-agent (or per-pool) document. */
const evolve = (doc: { state: LifecycleState } | null, e: Any): { state: LifecycleState } => {
  const state = doc?.state ?? lifecycleProjection.initialState();
  const m = e.metadata;
  const recorded = {
    type: e.type,
    data: e.data,
    id: m.messageId ?? m.eventId ?? '',
    metadata: { at: m.at },
    stream: m.streamName,
    revision: BigInt(m.streamPosition ?? 0),
    position: BigInt(m.globalPosition ?? 0),
  } as unknown as RecordedEvent;
  lifecycleProjection.apply(state as never, recorded);
  return { state };
};

const emmettEvent = (e: LifecycleEvent) => ({ type: e.type, data: e.data, metadata: { ...e.metadata } });

/** (a) live: Emmett's in-memory event store with an inline multi-stream projection, one append per event. */
export const emmettLive = async (events: readonly LifecycleEvent[]): Promise<PeerResult> => {
  const emmett: Any = await import('@event-driven-io/emmett');
  const types = [...new Set(events.map((e) => e.type))];
  const store = emmett.getInMemoryEventStore({
    projections: emmett.projections.inline([
      emmett.inMemoryMultiStreamProjection({ collectionName: 'fleet', canHandle: types, getDocumentId: docIdOf, evolve }),
    ]),
  });
  const started = performance.now();
  for (const e of events) await store.appendToStream(streamOf(e), [emmettEvent(e)]);
  const seconds = (performance.now() - started) / 1000;
  return { name: 'Emmett in-memory store + inline multi-stream projection', events: events.length, seconds, note: 'one appendToStream per event; the projection is current when it returns' };
};

/**
 * Appends event by event and, after each append, awaits the live runtime having applied it
 * (`whenProcessed` of its position): the projection is current when each append and its wait
 * return, as Emmett's inline projection is when its append returns. Timed from `openRollcall`.
 */
const appendEachCurrent = async (store: EventStore, events: readonly LifecycleEvent[]): Promise<number> => {
  const started = performance.now();
  const live = openRollcall({ store, snapshots: false });
  await live.whenCaughtUp();
  for (const e of events) {
    const { lastPosition } = await store.appendBatch([e]);
    if (lastPosition !== null) await live.whenProcessed(lastPosition);
  }
  const seconds = (performance.now() - started) / 1000;
  await live.close();
  return seconds;
};

/** (a) live, like for like: rollcall's memory store (in process, not durable, as Emmett's) with openRollcall following. */
export const rollcallLive = async (events: readonly LifecycleEvent[]): Promise<PeerResult> => {
  const store = openMemoryStore();
  const seconds = await appendEachCurrent(store, events);
  await store.close();
  return {
    name: 'rollcall memory store + openRollcall following',
    events: events.length,
    seconds,
    note: 'one appendBatch per event, then whenProcessed of its position: the projection is current after each',
  };
};

/** The run the live row reads: each side's median (by time) of the runs from `from` on. */
export const medianRun = (runs: readonly PeerResult[], from: number): PeerResult => {
  const warm = runs.slice(from).sort((a, b) => a.seconds - b.seconds);
  return warm[(warm.length - 1) >> 1]!;
};

/**
 * (a) live, both sides `runs` times in this process, alternating (Emmett first), each run on a fresh
 * store: the first run of each is cold (neither side's code has been optimized yet), the later
 * ones warm up both alike, so that neither is read before its code settled while the other's has.
 */
export const alternateLive = async (events: readonly LifecycleEvent[], runs: number): Promise<{ peer: PeerResult[]; ours: PeerResult[] }> => {
  const peer: PeerResult[] = [];
  const ours: PeerResult[] = [];
  for (let i = 0; i < runs; i++) {
    peer.push(await emmettLive(events));
    ours.push(await rollcallLive(events));
  }
  return { peer, ours };
};

/**
 * (a) live, an extra row with no Emmett counterpart: the same on rollcall's SQLite store, durable
 * (WAL, synchronous=FULL: every append is an fsync'd commit), a file in the OS temp directory.
 */
export const rollcallLiveSqlite = async (events: readonly LifecycleEvent[]): Promise<PeerResult> => {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-peer-'));
  try {
    const store = openSqliteStore({ path: join(dir, 'peer.db') });
    const seconds = await appendEachCurrent(store, events);
    await store.close();
    return {
      name: 'rollcall SQLite store (fsync per append) + openRollcall following',
      events: events.length,
      seconds,
      note: 'as the memory row, each append a durable commit; Emmett\'s in-memory store has none',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

/**
 * (b) rebuild from a durable store, PostgreSQL on both sides: Emmett's PostgreSQL event store read
 * back by its consumer with a projector from the beginning (how Emmett rebuilds), versus
 * `rollcall replay --store postgres:` in full (no snapshot). Appending is setup, not timed.
 */
export const rebuildOnPostgres = async (events: readonly LifecycleEvent[], adminUrl: string): Promise<PeerResult[]> => {
  const emmettPg: Any = await import('@event-driven-io/emmett-postgresql');
  const emmett: Any = await import('@event-driven-io/emmett');
  const peerDb = await throwawayDatabase(adminUrl, 'rollcall_peer');
  const ourDb = await throwawayDatabase(adminUrl, 'rollcall_peer');
  try {
    const peerStore = emmettPg.getPostgreSQLEventStore(peerDb.url);
    // Consecutive events of one stream go in one append, so global order is the history's.
    for (let i = 0; i < events.length; ) {
      const stream = streamOf(events[i]!);
      let j = i + 1;
      while (j < events.length && j - i < 100 && streamOf(events[j]!) === stream) j++;
      await peerStore.appendToStream(stream, events.slice(i, j).map(emmettEvent));
      i = j;
    }
    await peerStore.close();

    const docs = new Map<string, { state: LifecycleState }>();
    let seen = 0;
    const consumer = emmettPg.postgreSQLEventStoreConsumer({ connectionString: peerDb.url, stopWhen: { noMessagesLeft: true } });
    consumer.projector({
      processorId: `rebuild-${randomUUID().slice(0, 8)}`,
      startFrom: 'BEGINNING',
      projection: emmett.projection({
        canHandle: [...new Set(events.map((e) => e.type))],
        handle: async (batch: Any[]) => {
          for (const e of batch) {
            const id = docIdOf(e);
            docs.set(id, evolve(docs.get(id) ?? null, e));
            seen++;
          }
        },
      }),
    });
    let started = performance.now();
    await consumer.start();
    const peerSeconds = (performance.now() - started) / 1000;
    await consumer.close();
    if (seen !== events.length) throw new Error(`Emmett's consumer delivered ${seen} of ${events.length} events`);

    const { openPostgresStore } = await import('../src/stores/postgresStore.js');
    const ours = await openPostgresStore({ url: ourDb.url });
    try {
      for (let i = 0; i < events.length; i += 10_000) await ours.appendBatch(events.slice(i, i + 10_000));
      started = performance.now();
      const r = await replayStore(ours, lifecycleProjection, { noSnapshot: true });
      const ourSeconds = (performance.now() - started) / 1000;
      return [
        { name: 'Emmett PostgreSQL store, consumer + projector from BEGINNING', events: seen, seconds: peerSeconds, note: 'its pulling consumer, default batch size' },
        { name: 'rollcall replay --store postgres: (full, no snapshot)', events: r.processed, seconds: ourSeconds, note: 'validates every stored event, full rules' },
      ];
    } finally {
      await ours.close();
    }
  } finally {
    await peerDb.drop().catch(() => undefined);
    await ourDb.drop().catch(() => undefined);
  }
};
