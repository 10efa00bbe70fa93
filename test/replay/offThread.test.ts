import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RollcallError } from '../../src/errors.js';
import type { LifecycleEvent, RecordedEvent } from '../../src/events/lifecycleEvents.js';
import { generateNdjson } from '../../src/generate/generateHistory.js';
import { lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { foldEvents } from '../../src/replay/foldEvents.js';
import { readOffThread } from '../../src/replay/offThread.js';
import { dedupeIds } from '../../src/replay/dedupeIds.js';
import { readNdjsonEvents } from '../../src/replay/readNdjson.js';
import { isDuplicate, isInvalid, type ReplayItem } from '../../src/replay/replayItem.js';
import { replayFile, replayStore } from '../../src/replay/replayLog.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import { tempDir } from '../support/cli.js';
import { decodeStoredPages } from '../../src/replay/decodeStored.js';
import type { EventStore } from '../../src/stores/eventStore.js';

const decodeStoredPagesOf = (store: EventStore) => decodeStoredPages(store.readPages());

const historyFile = (lines: string[]): string => {
  const path = join(tempDir(), 'history.ndjson');
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
};

const collect = async (source: AsyncIterable<readonly ReplayItem[]>): Promise<ReplayItem[]> => {
  const out: ReplayItem[] = [];
  for await (const chunk of source) out.push(...chunk);
  return out;
};

// Each worker loads the TypeScript sources through tsx here, which takes seconds on a busy machine.
describe('decoding in a worker thread', { timeout: 120_000 }, () => {
  it.each([
    ['dense', {}],
    ['sparse', { days: 3 }],
  ])('yields the same items as the in-thread reader, and the same projection (%s history)', async (_shape, extra) => {
    const path = historyFile([...generateNdjson({ agents: 60, events: 6_000, seed: 'off', ...extra })]);
    // In-thread, a file is read and then deduplicated (rule 4); the worker does both.
    const here = await collect(dedupeIds(readNdjsonEvents(path)));
    const there = await collect(readOffThread({ kind: 'file', path }));
    expect(there).toEqual(here);
    expect(there.filter(isDuplicate).length).toBeGreaterThan(10);
    const a = await replayFile(path, lifecycleProjection, { offThread: false });
    const b = await replayFile(path, lifecycleProjection, { offThread: true });
    expect(b.processed).toBe(6_000);
    expect(lifecycleView(b.state)).toEqual(lifecycleView(a.state));
  });

  it('a bad line stops the replay with an error naming that line; --skip-invalid records it as in-thread', async () => {
    const lines = [...generateNdjson({ agents: 10, events: 3_000, seed: 2 })];
    lines[1_233] = '{"type":"AgentHeartbeat","data":{}}';
    lines[2_000] = '{not json';
    const path = historyFile(lines);
    const err = await replayFile(path, lifecycleProjection, { offThread: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RollcallError);
    expect((err as RollcallError).message).toMatch(/^line 1234: /);
    expect((err as RollcallError).line).toBe(1234);
    const here = await collect(readNdjsonEvents(path));
    const there = await collect(readOffThread({ kind: 'file', path }));
    const invalid = (items: ReplayItem[]) => items.filter(isInvalid).map((i) => ({ ...i, invalid: { ...i.invalid, message: i.invalid.message, code: i.invalid.code } }));
    expect(invalid(there)).toEqual(invalid(here));
    expect(invalid(there).map((i) => i.invalid.message)).toEqual([expect.stringMatching(/^line 1234: data\.agentId/), expect.stringMatching(/^line 2001: not valid JSON/)]);
    const skipped = await replayFile(path, lifecycleProjection, { offThread: true, skipInvalid: true });
    expect(skipped.state.anomalies.byReason['invalid-event']).toBe(2);
  });

  it('stops early with --until and ends the worker', async () => {
    const path = historyFile([...generateNdjson({ agents: 20, events: 20_000, seed: 3 })]);
    const r = await replayFile(path, lifecycleProjection, { offThread: true, until: 777n });
    expect(r).toMatchObject({ processed: 777, stoppedEarly: true, lastPosition: 777n });
    const inThread = await foldEvents(lifecycleProjection, dedupeIds(readNdjsonEvents(path)), { until: 777n });
    expect(lifecycleView(r.state)).toEqual(lifecycleView(inThread.state));
  });

  it('a missing file is the same clear error as in-thread', async () => {
    const missing = join(tempDir(), 'nope.ndjson');
    const there = await collect(readOffThread({ kind: 'file', path: missing })).catch((e: unknown) => e);
    const here = await collect(readNdjsonEvents(missing)).catch((e: unknown) => e);
    expect(there).toBeInstanceOf(RollcallError);
    expect((there as RollcallError).code).toBe((here as RollcallError).code);
    expect((there as RollcallError).message).toBe((here as RollcallError).message);
  });

  it('replays an sqlite store from a worker with the same result, from the start and after a position', async () => {
    const path = join(tempDir(), 'off.db');
    const store = openSqliteStore({ path });
    const events = [...generateNdjson({ agents: 40, events: 5_000, seed: 4 })].map((l) => JSON.parse(l));
    // Duplicates in the generated history are the same id: the store keeps one of each.
    await store.appendBatch(events);
    try {
      const a = await replayStore(store, lifecycleProjection, { noSnapshot: true, offThread: false });
      const b = await replayStore(store, lifecycleProjection, { noSnapshot: true, offThread: true });
      expect(b.processed).toBe(a.processed);
      expect(lifecycleView(b.state)).toEqual(lifecycleView(a.state));
      const tail = await collect(readOffThread({ kind: 'store', url: store.readerUrl!(), after: 4_000n }));
      expect(tail[0]!.position).toBe(4_001n);
      expect(tail.at(-1)!.position).toBe(BigInt(a.processed));
    } finally {
      await store.close();
    }
  });

  // The worker hands on the input's own JSON text where the event is exactly that text, and
  // encodes the decoded event where decoding changed it: an upcast old shape, an uppercase UUID
  // lowercased, a value zod rewrites. Either way the folding thread must get the decoded event.
  it('hands on the decoded event, not the input text, wherever decoding rewrote it (file and store)', async () => {
    const at = (s: number) => `2026-11-20T10:00:${String(s).padStart(2, '0')}.000Z`;
    const lines = [
      JSON.stringify({ type: 'AgentRegistered', data: { agentId: 'a1', type: 'worker:ephemeral' }, metadata: { at: at(0) } }),
      JSON.stringify({ id: 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE', type: 'SessionStarting', data: { agentId: 'a1', sessionId: 's1' }, metadata: { at: at(1) } }),
      JSON.stringify({ id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', type: 'AgentHeartbeat', data: { agentId: 'a1' }, metadata: { at: at(2) } }),
      JSON.stringify({ id: '0b0c6c1e-4a8e-4f43-9b3f-2b8f3a6d5c10', type: 'SessionTerminated', data: { agentId: 'a1', sessionId: 's1', terminationReason: 'done' }, metadata: { at: at(3) } }),
      JSON.stringify({ id: '1b0c6c1e-4a8e-4f43-9b3f-2b8f3a6d5c10', type: 'AgentHeartbeat', data: { agentId: 'a1' }, metadata: { at: '2026-11-20T11:00:04+01:00' } }),
    ];
    const path = historyFile(lines);
    const strip = (items: ReplayItem[]) => items.map((i) => (isDuplicate(i) ? { duplicate: i.event } : i));
    const here = await collect(dedupeIds(readNdjsonEvents(path)));
    const there = await collect(readOffThread({ kind: 'file', path }));
    // The first line has no id: each reader draws a random one; everything else is identical.
    expect(strip(there).slice(1)).toEqual(strip(here).slice(1));
    expect(there[0]).toMatchObject({ type: 'AgentRegistered', data: { agentId: 'a1', role: 'worker', variant: 'ephemeral' } });
    expect(there[1]).toMatchObject({ id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', type: 'SessionStarting' });
    expect(isDuplicate(there[2]!)).toBe(true);
    expect(there[3]).toMatchObject({ type: 'SessionEnded', data: { reason: 'done' } });

    // A store keeps what was appended (decoded already); rows written in an old shape by another
    // producer are upcast on the way out, by the worker as in-thread.
    const dbPath = join(tempDir(), 'rewritten.db');
    const store = openSqliteStore({ path: dbPath });
    const decoded = here.filter((i): i is RecordedEvent => !isDuplicate(i) && !isInvalid(i));
    await store.appendBatch(decoded.map(({ id, type, data, metadata }) => ({ id, type, data, metadata }) as LifecycleEvent));
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(dbPath);
    raw.prepare(`UPDATE events SET type = 'SessionTerminated', data = ? WHERE type = 'SessionEnded'`).run(JSON.stringify({ agentId: 'a1', sessionId: 's1', terminationReason: 'done' }));
    raw.close();
    try {
      const inThread = await collect(decodeStoredPagesOf(store));
      const worker = await collect(readOffThread({ kind: 'store', url: store.readerUrl!(), after: null }));
      expect(worker).toEqual(inThread);
      expect(worker.find((i) => (i as { type?: string }).type === 'SessionEnded')).toMatchObject({ data: { reason: 'done' } });
    } finally {
      await store.close();
    }
  });
});
