import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RollcallError } from '../../src/errors.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { groupCommitFor } from '../../src/ingest/groupCommit.js';
import { appendEvents } from '../../src/ingest/appendEvents.js';
import type { EventStore, ExpectedRevision, GroupRequest, StoredEvent } from '../../src/stores/eventStore.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';

const at = '2026-11-20T10:00:00.000Z';
const idOf = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const heartbeat = (id: string, agentId: string): LifecycleEvent => ({ id, type: 'AgentHeartbeat', data: { agentId }, metadata: { at } }) as LifecycleEvent;

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

const readAll = async (store: EventStore): Promise<StoredEvent[]> => {
  const out: StoredEvent[] = [];
  for await (const e of store.readAll()) out.push(e);
  return out;
};

/**
 * A memory store whose group commits take `delays[i]` turns of the event loop (a round trip, an
 * fsync) and fail, with nothing written, where `failures[i]` says so (the store refusing a group).
 */
const flakyStore = (delays: readonly number[], failures: readonly boolean[]) => {
  const inner = openMemoryStore();
  let call = 0;
  const groups: GroupRequest[][] = [];
  const store: EventStore = {
    ...inner,
    async appendGroup(requests) {
      const i = call++;
      await turns(delays[i % delays.length] ?? 0);
      if (failures[i % failures.length]) throw new RollcallError('store-unavailable', `group ${i} refused by the store`);
      groups.push([...requests]);
      return inner.appendGroup!(requests);
    },
  };
  return { store, groups, inner };
};

type Spec =
  | { kind: 'batch'; agents: string[]; repeat: number | null }
  | { kind: 'invalid'; agents: string[] }
  | { kind: 'stream'; agent: string; count: number; expected: ExpectedRevision };

const agent = fc.constantFrom('a0', 'a1', 'a2');
const spec: fc.Arbitrary<Spec> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('batch' as const), agents: fc.array(agent, { minLength: 1, maxLength: 4 }), repeat: fc.option(fc.nat(60), { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('invalid' as const), agents: fc.array(agent, { minLength: 0, maxLength: 3 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('stream' as const),
      agent,
      count: fc.integer({ min: 0, max: 3 }),
      expected: fc.oneof(fc.constantFrom<ExpectedRevision>('any', 'no-stream', 'stream-exists'), fc.bigInt({ min: -1n, max: 6n })),
    }),
  },
);

interface Outcome {
  spec: Spec;
  events: LifecycleEvent[];
  submitted: number;
  settled: number;
  ok: boolean;
  first: bigint | null;
  last: bigint | null;
  appended: number;
  duplicates: number;
  /** The store's head when the call was answered: a 201 is only true once its events are stored. */
  headAtAnswer: bigint | null;
  code?: string;
}

describe('group commit', () => {
  it('property: under random concurrency, refusals and store failures, every success is stored, in commit order, and every refusal left nothing', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.record({ spec, wait: fc.nat(2) }), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(2), { minLength: 1, maxLength: 5 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
        async (clients, delays, failures) => {
          const { store, inner } = flakyStore(delays, failures);
          let nextId = 1;
          let clock = 0;
          const outcomes: Outcome[] = [];
          const run = async (requests: Array<{ spec: Spec; wait: number }>) => {
            for (const { spec, wait } of requests) {
              await turns(wait);
              const events =
                spec.kind === 'stream'
                  ? Array.from({ length: spec.count }, () => heartbeat(idOf(nextId++), spec.agent))
                  : spec.agents.map((a) => heartbeat(idOf(nextId++), a));
              // An id another request already used (appended, refused, or still in flight).
              if (spec.kind === 'batch' && spec.repeat !== null && spec.repeat < nextId - 1 && events.length > 1) events[1] = heartbeat(idOf(spec.repeat + 1), spec.agents[1]!);
              const o: Outcome = { spec, events, submitted: clock++, settled: -1, ok: false, first: null, last: null, appended: 0, duplicates: 0, headAtAnswer: null };
              outcomes.push(o);
              if (spec.kind === 'stream') {
                try {
                  const r = await groupCommitFor(store).appendToStream(`agent-${spec.agent}`, events, { expectedRevision: spec.expected });
                  Object.assign(o, { ok: true, first: r.firstPosition ?? null, last: r.lastPosition, appended: r.appended, duplicates: r.duplicates });
                } catch (e) {
                  o.code = (e as RollcallError).code;
                }
              } else {
                // An invalid request: one event of it is not an event at all.
                const input = spec.kind === 'invalid' ? [...events, { type: 'AgentHeartbeat', data: {}, metadata: { at } }] : events;
                const r = await appendEvents(store, input);
                if (r.success) Object.assign(o, { ok: true, first: r.data.first, last: r.data.last, appended: r.data.appended, duplicates: r.data.duplicates });
                else o.code = r.error.code;
              }
              o.settled = clock++;
              o.headAtAnswer = await inner.head();
            }
          };
          await Promise.all(clients.map(run));

          const log = await readAll(inner);
          const byPosition = new Map(log.map((e) => [e.position, e]));
          const covered = new Set<bigint>();
          for (const o of outcomes) {
            if (!o.ok) {
              expect(o.code).toEqual(o.spec.kind === 'invalid' ? 'invalid-event' : o.spec.kind === 'stream' ? expect.stringMatching(/^(wrong-expected-revision|store-unavailable)$/) : 'store-unavailable');
              continue;
            }
            expect(o.spec.kind).not.toBe('invalid');
            expect(o.appended + o.duplicates).toBe(o.events.length);
            if (o.appended === 0) continue;
            // Durable when answered, at contiguous positions, its own events in its own order.
            expect(o.headAtAnswer! >= o.last!).toBe(true);
            expect(o.last! - o.first! + 1n).toBe(BigInt(o.appended));
            const ids = o.events.map((e) => e.id);
            let from = 0;
            for (let p = o.first!; p <= o.last!; p++) {
              const stored = byPosition.get(p)!;
              const at = ids.indexOf(stored.id, from);
              expect(at, `position ${p} holds ${stored.id}, not one of this request's next events`).toBeGreaterThanOrEqual(from);
              from = at + 1;
              expect(covered.has(p)).toBe(false);
              covered.add(p);
            }
            if (o.spec.kind === 'stream' && typeof o.spec.expected === 'bigint') expect(byPosition.get(o.first!)!.revision).toBe(o.spec.expected + 1n);
          }
          // Nothing else was written: every refusal left nothing.
          expect(covered.size).toBe(log.length);
          // Commit order: a request answered before another was asked has the lower positions.
          const written = outcomes.filter((o) => o.ok && o.appended > 0);
          for (const a of written) for (const b of written) if (a.settled < b.submitted) expect(a.last! < b.first!).toBe(true);
          // Per stream, revisions stay 0, 1, 2… whatever was refused.
          const next = new Map<string, bigint>();
          for (const e of log) {
            expect(e.revision).toBe(next.get(e.stream) ?? 0n);
            next.set(e.stream, e.revision + 1n);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('appends asked in one turn share one transaction; a bad one never joins and fails no other', async () => {
    const { store, groups } = flakyStore([0], [false]);
    const calls = Array.from({ length: 32 }, (_, i) => appendEvents(store, i === 7 ? { type: 'AgentHeartbeat', data: {}, metadata: { at } } : heartbeat(idOf(i + 1), `a${i}`)));
    const results = await Promise.all(calls);
    expect(results.filter((r) => !r.success).map((r) => !r.success && r.error.code)).toEqual(['invalid-event']);
    expect(groups).toHaveLength(1);
    expect(groups[0]).toHaveLength(31);
    expect(groupCommitFor(store).stats).toEqual({ groups: 1, requests: 31, largest: 31 });
    // Positions in the order the requests joined.
    const firsts = results.flatMap((r) => (r.success ? [r.data.first!] : []));
    expect(firsts).toEqual(Array.from({ length: 31 }, (_, i) => BigInt(i + 1)));
  });

  it('what arrives while a group commits is the next group; a store failure fails its own group only', async () => {
    const { store, groups } = flakyStore([3, 0, 0], [true, false, false]);
    const first = appendEvents(store, heartbeat(idOf(1), 'a1'));
    await turns(2); // the first group is now committing (and will fail)
    const later = Array.from({ length: 5 }, (_, i) => appendEvents(store, heartbeat(idOf(i + 2), 'a1')));
    const [r0, ...rest] = await Promise.all([first, ...later]);
    expect(r0!.success ? 'ok' : r0!.error.code).toBe('store-unavailable');
    expect(rest.map((r) => r.success)).toEqual([true, true, true, true, true]);
    expect(groups.map((g) => g.length)).toEqual([5]);
    expect((await readAll(store)).map((e) => e.id)).toEqual([2, 3, 4, 5, 6].map(idOf));
  });

  it('a wrong expected revision refuses that request alone inside its group', async () => {
    const { store, groups } = flakyStore([0], [false]);
    const g = groupCommitFor(store);
    const results = await Promise.allSettled([
      g.appendToStream('agent-a1', [heartbeat(idOf(1), 'a1')], { expectedRevision: 'no-stream' }),
      g.appendToStream('agent-a1', [heartbeat(idOf(2), 'a1')], { expectedRevision: 'no-stream' }),
      g.appendToStream('agent-a1', [heartbeat(idOf(3), 'a1')], { expectedRevision: 0n }),
      g.appendBatch([heartbeat(idOf(4), 'a2')]),
    ]);
    expect(groups).toHaveLength(1);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as RollcallError).code).toBe('wrong-expected-revision');
    expect(results[2]).toMatchObject({ value: { appended: 1, nextExpectedRevision: 1n, lastPosition: 2n } });
    expect((await readAll(store)).map((e) => e.id)).toEqual([1, 3, 4].map(idOf));
  });

  it('a group holds at most maxGroupEvents events; a larger request goes alone', async () => {
    const { store, groups } = flakyStore([0], [false]);
    const big = Array.from({ length: 10_001 }, (_, i) => heartbeat(idOf(i + 10), 'a1'));
    await Promise.all([appendEvents(store, heartbeat(idOf(1), 'a2')), appendEvents(store, big), appendEvents(store, heartbeat(idOf(2), 'a2'))]);
    expect(groups.map((g) => g.map((r) => r.events.length))).toEqual([[1], [10_001], [1]]);
  });
});
