import fc from 'fast-check';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { T0, testId } from './lifecycle.js';

// Small id spaces so that random histories collide often: the same session ended twice, another
// agent naming it, stale pids and generations, pools deleted and re-created.
const agentId = fc.constantFrom('a0', 'a1', 'a2', 'a3');
const sessionId = fc.constantFrom('s0', 's1', 's2', 's3', 's4', 's5');
const poolId = fc.constantFrom('p0', 'p1');
const pid = fc.integer({ min: 1, max: 4 });
const generation = fc.integer({ min: 0, max: 3 });
const connectionId = fc.constantFrom('c0', 'c1', 'c2');
const reason = fc.constantFrom('done', 'Process no longer alive (PID check)', 'oom');
const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
// Liveness (SPEC §7): two hosts, low epochs (so stale ones happen), leases short enough to lapse.
const host = fc.constantFrom('h0', 'h1');
const epoch = fc.integer({ min: 1, max: 3 });
const leaseMs = fc.constantFrom(2_000, 5_000, 20_000);
const adopted = fc.array(fc.record({ agentId, sessionId, pid: opt(pid) }), { maxLength: 3 });

const strip = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

const body = fc.oneof(
  { weight: 2, arbitrary: fc.record({ type: fc.constant('PoolCreated'), data: fc.record({ poolId, name: fc.constant('pool'), maxSize: fc.integer({ min: 0, max: 3 }), enabled: opt(fc.boolean()) }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('PoolUpdated'), data: fc.record({ poolId, maxSize: opt(fc.integer({ min: 0, max: 3 })), enabled: opt(fc.boolean()) }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('PoolDeleted'), data: fc.record({ poolId }) }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constant('AgentRegistered'), data: fc.record({ agentId, role: fc.constantFrom('worker', 'steward', 'director'), variant: opt(fc.constantFrom('ephemeral', 'merge')) }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('AgentRemoved'), data: fc.record({ agentId }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('AgentConnected'), data: fc.record({ agentId, connectionId }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('AgentDisconnected'), data: fc.record({ agentId, connectionId }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('AgentHeartbeat'), data: fc.record({ agentId }) }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constant('SessionStarting'), data: fc.record({ agentId, sessionId, poolId: opt(poolId), leaseMs: opt(leaseMs) }) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('AgentSpawned'),
      data: fc.record({ agentId, sessionId, poolId: opt(poolId), pid: opt(pid), generation: opt(generation), host: opt(host), epoch: opt(epoch), leaseMs: opt(leaseMs) }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('SessionStartFailed'), data: fc.record({ agentId, sessionId, reason }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('SessionSuspended'), data: fc.record({ agentId, sessionId }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('SessionResumed'), data: fc.record({ agentId, sessionId, pid: opt(pid), host: opt(host), epoch: opt(epoch), leaseMs: opt(leaseMs) }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('SessionTerminationRequested'), data: fc.record({ agentId, sessionId }) }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('SessionEnded'), data: fc.record({ agentId, sessionId, reason, epoch: opt(epoch) }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('SessionNotFound'), data: fc.record({ agentId, sessionId }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('SessionReset'), data: fc.record({ agentId, sessionId, generation }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('RunStarted'), data: fc.record({ agentId, sessionId, generation, epoch: opt(epoch) }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('RunFinished'), data: fc.record({ agentId, sessionId, generation, epoch: opt(epoch) }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('AgentStopped'), data: fc.record({ agentId, resumable: opt(fc.boolean()), reason: opt(reason) }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('AgentCrashed'), data: fc.record({ agentId, reason, pid: opt(pid) }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('OrchestratorStarted'), data: fc.record({ host, epoch, adopted: opt(adopted) }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('SessionLeaseRenewed'), data: fc.record({ agentId, sessionId, leaseMs: opt(leaseMs) }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('AgentSuspected'), data: fc.record({ agentId, reason: fc.constantFrom('silent', 'disconnected') }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('AgentReleased'), data: fc.record({ agentId }) }) },
);

/**
 * A random history: plausible and implausible events mixed, times mostly increasing but sometimes
 * late (out of order), with some events delivered again later under the same id (duplicates),
 * and jumps of hours so the retention window evicts sessions mid-history.
 */
export const arbitraryHistory = (options: { maxLength?: number; retentionJumps?: boolean } = {}): fc.Arbitrary<LifecycleEvent[]> =>
  fc
    .tuple(
      // Usually the fleet is registered first, so most events exercise transitions, not phantoms.
      fc.subarray(['a0', 'a1', 'a2', 'a3']).chain((ids) =>
        fc.tuple(...ids.map((id) => fc.record({ type: fc.constant('AgentRegistered'), data: fc.record({ agentId: fc.constant(id), role: fc.constantFrom('worker', 'worker', 'steward', 'director'), variant: opt(fc.constantFrom('ephemeral', 'merge')) }) }))),
      ),
      fc.subarray([
        { type: 'PoolCreated', data: { poolId: 'p0', name: 'zero', maxSize: 1 } },
        { type: 'PoolCreated', data: { poolId: 'p1', name: 'one', maxSize: 2 } },
      ]),
      fc.array(
      fc.record({
        body,
        step: fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 0, max: 5_000 }) }, { weight: 1, arbitrary: fc.constant(options.retentionJumps ? 20 * 3_600_000 : 60_000) }),
        late: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 30_000 }) }),
        redeliver: fc.oneof({ weight: 12, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat() }),
      }),
      { maxLength: options.maxLength ?? 80, size: 'max' },
    ))
    .map(([agents, pools, random]) => {
      const prelude = [...agents, ...pools].map((b) => ({ body: b, step: 1000, late: 0, redeliver: -1 }));
      const steps = [...prelude, ...random];
      const out: LifecycleEvent[] = [];
      let clock = T0;
      steps.forEach((s, i) => {
        if (s.redeliver >= 0 && out.length > 0) {
          out.push(out[s.redeliver % out.length]!);
          return;
        }
        clock += s.step;
        const at = new Date(clock - s.late).toISOString();
        out.push({ type: s.body.type, data: strip(s.body.data), id: testId(1_000_000 + i), metadata: { at } } as LifecycleEvent);
      });
      return out;
    });

const DAY_S = 24 * 3600;

/**
 * A random history, and the same with redeliveries of earlier events (same id) inserted at later
 * points, each with any `at` (up to 40 days either way); `inserted` counts them.
 */
export const withRedeliveries = fc
  .tuple(arbitraryHistory({ retentionJumps: true }), fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: -40 * DAY_S, max: 40 * DAY_S })), { maxLength: 12 }))
  .map(([events, picks]) => {
    const out = [...events];
    let inserted = 0;
    for (const [from, to, shift] of picks) {
      if (out.length === 0) break;
      const i = from % out.length;
      const j = i + 1 + (to % (out.length - i));
      const original = out[i]!;
      out.splice(j, 0, { ...original, metadata: { ...original.metadata, at: new Date(Date.parse(original.metadata.at) + shift * 1000).toISOString() } });
      inserted++;
    }
    return { events, redelivered: out, inserted };
  });
