import { afterEach, describe, expect, it } from 'vitest';
import { openRollcall } from '../../src/live/openRollcall.js';
import type { Change } from '../../src/live/types.js';
import { openEsdbStore } from '../../src/stores/esdbStore.js';
import { heartbeats } from '../support/events.js';
import { startFakeEsdb } from '../support/esdbServer.js';
import { agent, pool, spawned } from '../support/lifecycle.js';
import { waitFor } from '../support/waitFor.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});
const until = (what: string, ok: () => boolean, timeoutMs = 30_000) => waitFor(what, ok, { timeoutMs });

describe('live projection on EventStoreDB (the in-process fake)', () => {
  it('follows $all through its subscription, reports a server restart as an outage, and resumes without repeats', async () => {
    const server = await startFakeEsdb();
    cleanups.push(() => server.stop());
    const store = await openEsdbStore({ url: server.url, retry: { initialDelayMs: 20, maxDelayMs: 200 } });
    cleanups.push(() => store.close());
    await store.appendBatch([pool('p1', 2), agent('a1'), agent('a2')]);
    const live = openRollcall({ store });
    cleanups.push(() => live.close());
    await live.whenCaughtUp();
    const changes: Change[] = [];
    live.subscribe((c) => changes.push(c));
    const { lastPosition } = await store.appendBatch([spawned('a1', 's1', { poolId: 'p1' })]);
    await live.whenProcessed(lastPosition!, { timeoutMs: 5_000 });
    expect(changes.map((c) => c.changed)).toEqual([{ pools: ['p1'], agents: ['a1'], sessions: ['s1'] }]);

    await server.stop();
    await until('the outage to be reported', () => !live.status().storeAvailable);
    await server.start();
    await until('availability to be reported', () => live.status().storeAvailable);
    const more = await store.appendBatch(heartbeats(5, { prefix: 'a', agents: 2 }));
    await live.whenProcessed(more.lastPosition!, { timeoutMs: 5_000 });
    expect(changes).toHaveLength(6);
    const positions = changes.map((c) => c.position);
    expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
    expect(new Set(positions).size).toBe(6);
    expect(live.view().pools['p1']!.status.activeAgentIds).toEqual(['a1']);
  }, 30_000);
});
