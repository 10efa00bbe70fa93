import { describe, expect, it } from 'vitest';
import { poolSlotHistory } from '../../src/inspect/slotHistory.js';
import { explainPoolIn } from '../../src/projections/explainState.js';
import { defaultReconcileConfig } from '../../src/reconcile/reconcileConfig.js';
import { foldEvents } from '../../src/replay/foldEvents.js';
import { dedupeIds } from '../../src/replay/dedupeIds.js';
import { fleet } from '../serve/harness.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { agent, ended, ev, pool, record, spawned, starting, T0 } from '../support/lifecycle.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';

const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const at = <E extends { metadata: { at: string } }>(s: number, e: E): E => ({ ...e, metadata: { at: iso(s) } });
const projection = createLifecycleProjection();
const history = (events: LifecycleEvent[], from = 0, to = 1000, limit?: number) =>
  poolSlotHistory(projection, [record(events)], 'p1', { from: iso(from), to: iso(to), ...(limit === undefined ? {} : { limit }) });
const base = [at(0, pool('p1', 2)), at(0, agent('a1')), at(0, agent('a2')), at(0, agent('a3'))];
/** Each hold as `agent slot from–to` (seconds after T0; `…` while still held). */
const brief = (h: Awaited<ReturnType<typeof history>>) =>
  h.intervals.map((i) => `${i.agentId} ${i.slot} ${(Date.parse(i.from) - T0) / 1000}–${i.to === null ? '…' : (Date.parse(i.to) - T0) / 1000} ${i.endedAs ?? ''}`.trim());

describe('slot history of a pool: who held which slot when', () => {
  it('a freed slot goes to the next hold; a hold keeps its slot until it ends', async () => {
    const h = await history([
      ...base,
      at(10, spawned('a1', 's1', { poolId: 'p1' })),
      at(20, spawned('a2', 's2', { poolId: 'p1' })),
      at(30, ended('a1', 's1')),
      at(40, starting('a3', 's3', 'p1')),
    ]);
    expect(brief(h)).toEqual(['a1 0 10–30 done', 'a2 1 20–…', 'a3 0 40–…']);
    expect(h).toMatchObject({ exists: true, max: 2, slots: 2, truncated: false, position: '8' });
    expect(h.intervals[0]).toMatchObject({ sessionId: 's1', fromPosition: '5', toPosition: '7' });
  });

  it('only holds overlapping the range, with slots as assigned from the start of the log', async () => {
    const events = [
      ...base,
      at(10, spawned('a1', 's1', { poolId: 'p1' })),
      at(20, spawned('a2', 's2', { poolId: 'p1' })),
      at(30, ended('a2', 's2')),
      at(50, spawned('a3', 's3', { poolId: 'p1' })),
      at(70, spawned('a2', 's4', { poolId: 'p1' })),
    ];
    // Ended before the range: left out. Started after it: never read.
    expect(brief(await history(events, 40, 60))).toEqual(['a1 0 10–…', 'a3 1 50–…']);
  });

  it('a lapsed lease frees its slot at its expiry, a restart frees the non-adopted sessions of its host', async () => {
    const h = await history([
      ...base,
      at(1, ev('OrchestratorStarted', { host: 'h1', epoch: 1 })),
      at(10, spawned('a1', 's1', { poolId: 'p1', leaseMs: 5000 })),
      at(12, spawned('a2', 's2', { poolId: 'p1', host: 'h1', epoch: 1, pid: 7 })),
      at(20, ev('AgentHeartbeat', { agentId: 'a3' })),
      at(30, ev('OrchestratorStarted', { host: 'h1', epoch: 2 })),
    ]);
    expect(brief(h)).toEqual(['a1 0 10–15 lease_expired', 'a2 1 12–30 orchestrator_restarted']);
    expect(h.intervals.map((i) => i.abnormal)).toEqual([true, true]);
  });

  it('a crash is an abnormal end whatever its reason; an ordinary end and a suspension are not', async () => {
    const h = await history([
      ...base,
      at(10, spawned('a1', 's1', { poolId: 'p1' })),
      at(11, spawned('a2', 's2', { poolId: 'p1' })),
      at(20, ev('AgentCrashed', { agentId: 'a1', reason: 'oom' })),
      at(21, ev('SessionSuspended', { agentId: 'a2', sessionId: 's2' })),
      at(30, spawned('a3', 's3', { poolId: 'p1' })),
      at(40, ended('a3', 's3')),
    ]);
    expect(brief(h)).toEqual(['a1 0 10–20 oom', 'a2 1 11–21 suspended', 'a3 0 30–40 done']);
    expect(h.intervals.map((i) => i.abnormal)).toEqual([true, false, false]);
  });

  it('another pool, a director and a pool-less session hold none of its slots', async () => {
    const h = await history([
      ...base,
      at(0, pool('p2', 1)),
      at(0, agent('d1', 'director')),
      at(10, spawned('a1', 's1', { poolId: 'p2' })),
      at(11, spawned('d1', 'sd', { poolId: 'p1' })),
      at(12, spawned('a2', 's2')),
    ]);
    expect(h.intervals).toEqual([]);
    expect(h.slots).toBe(0);
  });

  it('an unknown pool does not exist; past the limit the oldest holds are left out', async () => {
    expect((await poolSlotHistory(projection, [record(base)], 'nope', { from: iso(0), to: iso(10) })).exists).toBe(false);
    const churn = [1, 2, 3].flatMap((i) => [at(i * 10, spawned('a1', `s${i}`, { poolId: 'p1' })), at(i * 10 + 5, ended('a1', `s${i}`))]);
    const h = await history([...base, ...churn], 0, 1000, 2);
    expect(brief(h)).toEqual(['a1 0 20–25 done', 'a1 0 30–35 done']);
    expect(h.truncated).toBe(true);
  });

  it('a redelivered event changes nothing', async () => {
    const events = [...base, at(10, spawned('a1', 's1', { poolId: 'p1' })), at(20, ended('a1', 's1'))];
    const twice = record([...events, events[4]!, events[5]!]);
    const h = await poolSlotHistory(projection, [twice], 'p1', { from: iso(0), to: iso(100) });
    expect(brief(h)).toEqual(['a1 0 10–20 done']);
  });
  it('a redelivery marked by the store (same event id twice) changes nothing, even of an event that would end the next session', async () => {
    // Applied again, the crash would end s2, a1's session then.
    const events = [...base, at(10, spawned('a1', 's1', { poolId: 'p1' })), at(20, ev('AgentCrashed', { agentId: 'a1', reason: 'oom' })), at(30, spawned('a1', 's2', { poolId: 'p1' }))];
    const once = await poolSlotHistory(projection, dedupeIds([record(events)]), 'p1', { from: iso(0), to: iso(100) });
    const twice = await poolSlotHistory(projection, dedupeIds([record([...events, events[5]!])]), 'p1', { from: iso(0), to: iso(100) });
    expect(brief(twice)).toEqual(['a1 0 10–20 oom', 'a1 0 30–…']);
    expect({ ...twice, position: once.position }).toEqual(once);
    expect(twice.position).toBe('8');
  });
});

describe('slot history: the range, the position and the limit', () => {
  const log = [
    ...base,
    at(10, spawned('a1', 's1', { poolId: 'p1' })),
    at(20, spawned('a2', 's2', { poolId: 'p1' })),
    at(30, ended('a2', 's2')),
    at(40, spawned('a3', 's3', { poolId: 'p1' })),
  ];

  it('holds are listed by when they began, a still-open one before a later closed one; an open hold is not abnormal', async () => {
    const h = await history(log.slice(0, 7));
    expect(brief(h)).toEqual(['a1 0 10–…', 'a2 1 20–30 done']);
    expect(h.intervals[0]).toMatchObject({ sessionId: 's1', to: null, toPosition: null, endedAs: null, abnormal: false });
  });

  it('a hold ending exactly at `from` is in the range, and so is a hold beginning exactly at `to`', async () => {
    expect(brief(await history(log, 30, 40))).toEqual(['a1 0 10–…', 'a2 1 20–30 done', 'a3 1 40–…']);
  });

  it('`until` reads the log no further than that position', async () => {
    const h = await poolSlotHistory(projection, [record(log)], 'p1', { from: iso(0), to: iso(1000), until: 6n });
    expect(brief(h)).toEqual(['a1 0 10–…', 'a2 1 20–…']);
    expect(h.position).toBe('6');
  });

  it('the limit keeps the holds that began last, open ones included; exactly the limit is not truncated', async () => {
    const one = await history(log, 0, 1000, 1);
    expect(brief(one)).toEqual(['a3 1 40–…']);
    expect(one.truncated).toBe(true);
    const three = await history(log, 0, 1000, 3);
    expect(brief(three)).toEqual(['a1 0 10–…', 'a2 1 20–30 done', 'a3 1 40–…']);
    expect(three.truncated).toBe(false);
  });
});

describe('slot history: which holds the limit keeps', () => {
  it('the ones that began last, not the ones that ended last', async () => {
    // a1 began first and ended last: past the limit it is left out, and so is s2, which began before s3.
    const events = [
      ...base,
      at(10, spawned('a1', 's1', { poolId: 'p1' })),
      at(20, spawned('a2', 's2', { poolId: 'p1' })),
      at(21, ended('a2', 's2')),
      at(30, spawned('a2', 's3', { poolId: 'p1' })),
      at(31, ended('a2', 's3')),
      at(40, ended('a1', 's1')),
    ];
    const one = await history(events, 0, 1000, 1);
    expect(brief(one)).toEqual(['a2 1 30–31 done']);
    expect(one.truncated).toBe(true);
  });

  it('many more ended holds than the limit, ending in another order than they began: the last to begin, listed by start', async () => {
    // Pairs on two slots: in each pair, the hold that began first ends last.
    const pairs = Array.from({ length: 7 }, (_, i) => {
      const s = 100 * (i + 1);
      return [at(s, spawned('a1', `x${i}`, { poolId: 'p1' })), at(s + 1, spawned('a2', `y${i}`, { poolId: 'p1' })), at(s + 2, ended('a2', `y${i}`)), at(s + 3, ended('a1', `x${i}`))];
    });
    const h = await history([...base, ...pairs.flat()], 0, 10_000, 3);
    expect(h.intervals.map((i) => i.sessionId)).toEqual(['y5', 'x6', 'y6']);
    expect(h.truncated).toBe(true);
  });
});

describe('slot history: one event that frees a slot and takes one', () => {
  it('the slot it frees goes to the session it starts (a start superseding the agent’s own live session)', async () => {
    // Sorted by id, s9 would be looked at before s1: frees are applied first all the same.
    const h = await history([...base, at(10, spawned('a1', 's9', { poolId: 'p1' })), at(20, spawned('a2', 's2', { poolId: 'p1' })), at(30, spawned('a1', 's1', { poolId: 'p1' }))]);
    expect(brief(h)).toEqual(['a1 0 10–30 superseded', 'a2 1 20–…', 'a1 0 30–…']);
  });
});

describe('slot history against explain on a generated fleet', () => {
  it('who held the slots at any moment is exactly who explain says held them then', async () => {
    const events = record(fleet(60, 6000, 5));
    const times = events.map((e) => Date.parse(e.metadata.at));
    const first = Math.min(...times);
    const last = Math.max(...times);
    const pools = [...new Set(events.filter((e) => e.type === 'PoolCreated').map((e) => (e.data as { poolId: string }).poolId))];
    expect(pools.length).toBeGreaterThan(1);
    let compared = 0;
    for (const poolId of pools) {
      const h = await poolSlotHistory(projection, [events], poolId, { from: new Date(first).toISOString(), to: new Date(last).toISOString() });
      // Slots are never shared: two holds of one slot never overlap in the log (late deliveries can make event times disagree).
      const end = (i: (typeof h.intervals)[number]) => (i.toPosition === null ? Infinity : Number(i.toPosition));
      for (const a of h.intervals) {
        for (const b of h.intervals) if (a !== b && a.slot === b.slot) expect(Number(a.fromPosition) >= end(b) || Number(b.fromPosition) >= end(a)).toBe(true);
      }
      for (let k = 1; k <= 8; k++) {
        const t = first + ((last - first) * k) / 9;
        const asOf = new Date(t).toISOString();
        const explained = explainPoolIn((await foldEvents(projection, [events], { asOf })).state, poolId, defaultReconcileConfig);
        // The same moment as explain saw it: the position its fold stopped at.
        const p = Number(explained.position);
        const held = h.intervals.filter((i) => Number(i.fromPosition) <= p && end(i) > p);
        expect(held.map((i) => i.sessionId).sort()).toEqual(explained.holders.map((x) => x.sessionId).sort());
        compared += explained.holders.length;
      }
    }
    expect(compared).toBeGreaterThan(20);
  });
});
