import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { checkInvariants } from '../../src/projections/checkInvariants.js';
import type { LifecycleState, SessionRecord } from '../../src/projections/lifecycleState.js';
import { agent, ev, foldState, pool, spawned, T0 } from '../support/lifecycle.js';

// The invariants of SPEC §7 (epochs, leases, suspects, quarantine), one corruption at a time, as
// in checkInvariants.test.ts: a valid state folded from a small history checks clean, then one
// fact of the plain state is changed by hand and the exact violations are asserted.

const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const at = <E extends LifecycleEvent>(s: number, e: E): E => ({ ...e, metadata: { at: iso(s) } });
const crash = (s: number, agentId: string) => at(s, ev('AgentCrashed', { agentId, reason: 'oom' }));

/**
 * h1 at epoch 1 runs a1's s1 (epoch 1, a 60 s lease renewed by a heartbeat to 80 s); a2 crashed
 * three times (quarantined, ends at positions 7, 9, 11) and holds no session; a3's s3 is live and
 * suspect; a4 crashed once. The clock is at 20 s.
 */
const history: LifecycleEvent[] = [
  at(1, pool('p1', 3)),
  at(2, agent('a1')),
  at(2, agent('a2')),
  at(2, agent('a3')),
  at(3, ev('OrchestratorStarted', { host: 'h1', epoch: 1 })),
  at(4, spawned('a1', 's1', { poolId: 'p1', host: 'h1', pid: 11, epoch: 1, leaseMs: 60_000 })),
  ...[0, 1, 2].flatMap((i) => [at(5 + 2 * i, spawned('a2', `c${i}`)), crash(6 + 2 * i, 'a2')]),
  at(11, spawned('a3', 's3', { poolId: 'p1', host: 'h2' })),
  at(12, ev('AgentSuspected', { agentId: 'a3', reason: 'silent' })),
  at(13, agent('a4')),
  at(14, spawned('a4', 's4')),
  crash(15, 'a4'),
  at(20, ev('AgentHeartbeat', { agentId: 'a1' })),
];

const session = (s: LifecycleState, id: string): SessionRecord => s.sessions.get(id)!;
const corrupt = async (f: (s: LifecycleState) => void) => {
  const s = await foldState(history);
  f(s);
  return checkInvariants(s);
};

describe('checkInvariants: the liveness invariants (SPEC §7)', () => {
  it('the base state holds a live session at its host epoch, a lease, a quarantine and a suspect, and breaks nothing', async () => {
    const s = await foldState(history);
    expect(session(s, 's1')).toMatchObject({ state: 'running', host: 'h1', epoch: 1, leaseExpiresMs: Date.parse(iso(80)) });
    expect(s.hosts.get('h1')!.epoch).toBe(1);
    expect(s.agents.get('a2')!.quarantine).toMatchObject({ since: iso(10), ends: ['8', '10', '12'] });
    expect(s.agents.get('a3')!.suspect).toEqual({ since: iso(12), reason: 'silent' });
    expect(checkInvariants(s)).toEqual([]);
  });

  it('epoch-fenced: a live session older than its host epoch', async () => {
    expect(await corrupt((s) => (s.hosts.get('h1')!.epoch = 2))).toEqual([
      { invariant: 'epoch-fenced', detail: "session s1 is live on h1 at epoch 1, older than the host's 2" },
    ]);
  });

  it('epoch-fenced: a session that is not live, or has no epoch, is not fenced', async () => {
    expect(
      await corrupt((s) => {
        s.hosts.get('h1')!.epoch = 2;
        session(s, 's1').epoch = null;
        session(s, 'c0').host = 'h1';
        session(s, 'c0').epoch = 0;
      }),
    ).toEqual([]);
  });

  it('lease-honoured: a live session whose lease the clock has passed', async () => {
    expect(await corrupt((s) => (session(s, 's1').leaseExpiresMs = Date.parse(iso(19))))).toEqual([
      { invariant: 'lease-honoured', detail: `session s1 is live with its lease lapsed at ${iso(19)}` },
    ]);
  });

  it('lease-honoured: a lease due exactly at the clock still holds, and an ended session keeps its lease unchecked', async () => {
    expect(await corrupt((s) => (session(s, 's1').leaseExpiresMs = Date.parse(iso(20))))).toEqual([]);
    expect(
      await corrupt((s) => {
        session(s, 'c0').leaseMs = 1000;
        session(s, 'c0').leaseExpiresMs = Date.parse(iso(7));
      }),
    ).toEqual([]);
  });

  it('lease-length: a lease expiry without a lease length', async () => {
    expect(await corrupt((s) => (session(s, 's1').leaseMs = null))).toEqual([
      { invariant: 'lease-length', detail: 'session s1 has a lease expiry without a lease length' },
    ]);
  });

  it('lease-heap: the lease queue out of heap order', async () => {
    const s = await foldState(history);
    expect(s.leases.map((l) => [l.dueMs, l.id])).toEqual([
      [T0 + 64_000, 's1'],
      [T0 + 80_000, 's1'],
    ]);
    s.leases.reverse();
    expect(checkInvariants(s)).toEqual([{ invariant: 'lease-heap', detail: 'lease queue out of heap order at 1' }]);
  });

  it('quarantine-count: the window full but no quarantine, or a quarantine with the window short of it', async () => {
    expect(await corrupt((s) => (s.agents.get('a2')!.quarantine = null))).toEqual([
      { invariant: 'quarantine-count', detail: 'agent a2 is not quarantined with 3 abnormal ends in its window' },
    ]);
    expect(await corrupt((s) => (s.agents.get('a4')!.quarantine = { since: iso(15), reason: 'r', ends: ['17'] }))).toEqual([
      { invariant: 'quarantine-count', detail: 'agent a4 is quarantined with 1 abnormal ends in its window' },
    ]);
  });

  it('quarantine-count follows the projection threshold it is given', async () => {
    const s = await foldState(history);
    expect(checkInvariants(s, { quarantineAfter: 4 })).toEqual([
      { invariant: 'quarantine-count', detail: 'agent a2 is quarantined with 3 abnormal ends in its window' },
    ]);
  });

  it('quarantine-ends: a quarantine naming other ends than its window holds', async () => {
    expect(await corrupt((s) => (s.agents.get('a2')!.quarantine!.ends = ['8', '10', '11']))).toEqual([
      { invariant: 'quarantine-ends', detail: "agent a2's quarantine names [8,10,11], its window holds [8,10,12]" },
    ]);
  });

  it('suspect-live: a suspect without a live session', async () => {
    expect(await corrupt((s) => (s.agents.get('a4')!.suspect = { since: iso(15), reason: 'silent' }))).toEqual([
      { invariant: 'suspect-live', detail: 'agent a4 is suspect without a live session' },
    ]);
  });

  it('host-live-sessions: the view counts a host by its agents, the check by scanning sessions', async () => {
    const violations = await corrupt((s) => (s.agents.get('a1')!.openSessionIds = []));
    expect(violations).toContainEqual({ invariant: 'host-live-sessions', detail: 'host h1 counts 0 live sessions, expected 1' });
  });
});
