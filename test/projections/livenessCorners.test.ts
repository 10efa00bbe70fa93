import { describe, expect, it } from 'vitest';
import { agent, ev, given, spawned, starting, T0 } from '../support/lifecycle.js';

// Corners of SPEC §7 the mutation run found untested: what a repeated AgentSpawned of a running
// session keeps, and the edges of the quarantine window. Every case also runs with every event
// delivered twice (`given`).

const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const at = <E extends { metadata: { at: string } }>(s: number, e: E): E => ({ ...e, metadata: { at: iso(s) } });
const crash = (s: number) => at(s, ev('AgentCrashed', { agentId: 'a1', reason: 'exit code 1' }));
/** Session `n` of a1 starts at `s` and crashes at `s + d` (an abnormal end there). */
const life = (n: number, s: number, d = 1) => [at(s, spawned('a1', `s${n}`)), crash(s + d)];

describe('a repeated AgentSpawned of a running session', () => {
  const running = [at(0, agent('a1')), at(1, ev('OrchestratorStarted', { host: 'h1', epoch: 1 })), at(2, spawned('a1', 's1', { host: 'h1', pid: 11, epoch: 1, leaseMs: 30_000 }))];

  it('naming only a new pid keeps its host, its epoch and its lease', () =>
    given(...running, at(10, spawned('a1', 's1', { pid: 12 }))).then((v) => {
      expect(v.sessions.s1).toMatchObject({ state: 'running', pid: 12, host: 'h1', epoch: 1, leaseExpiresAt: iso(32) });
      expect(v.agents.a1).toMatchObject({ pid: 12, host: 'h1', lastSeenAt: iso(10) });
    }));

  it('naming leaseMs runs the lease again from that event', () =>
    given(...running, at(10, spawned('a1', 's1', { leaseMs: 60_000 }))).then((v) => {
      expect(v.sessions.s1).toMatchObject({ leaseMs: 60_000, leaseExpiresAt: iso(70) });
    }));
});

describe('the quarantine window (SPEC §7.4)', () => {
  it('an end exactly quarantineWindow (10 min) before the newest is outside it', () =>
    given(at(0, agent('a1')), ...life(1, 0), ...life(2, 300), ...life(3, 600)).then((v) => {
      expect(v.agents.a1!.quarantine).toBeNull();
    }));

  it('one second later it is inside', () =>
    given(at(0, agent('a1')), ...life(1, 0, 2), ...life(2, 300), ...life(3, 600)).then((v) => {
      expect(v.agents.a1!.quarantine).toEqual({ since: iso(601), reason: '3 abnormal ends within 600 s', ends: ['3', '5', '7'] });
    }));

  it('ends at the same instant count each', () =>
    given(at(0, agent('a1')), ...life(1, 0), ...life(2, 100), ...life(3, 101, 0)).then((v) => {
      expect(v.agents.a1!.quarantine).toMatchObject({ since: iso(101), ends: ['3', '5', '7'] });
    }));

  it("a quarantined agent's starting session made running is one quarantined start, not two", () =>
    given(at(0, agent('a1')), ...life(1, 0), ...life(2, 100), ...life(3, 200), at(300, starting('a1', 's4')), at(301, spawned('a1', 's4'))).then((v) => {
      expect(v.sessions.s4!.state).toBe('running');
      expect(v.anomalies.byReason['quarantined-start']).toBe(1);
    }));
});

describe('SessionLeaseRenewed (SPEC §7.2)', () => {
  it('without leaseMs it runs the lease again for its own length', () =>
    given(at(0, agent('a1')), at(2, spawned('a1', 's1', { leaseMs: 30_000 })), at(20, ev('SessionLeaseRenewed', { agentId: 'a1', sessionId: 's1' }))).then((v) => {
      expect(v.sessions.s1).toMatchObject({ state: 'running', leaseMs: 30_000, leaseExpiresAt: iso(50) });
      expect(v.anomalies.count).toBe(0);
    }));

  it('with leaseMs it gives a session started without a lease one', () =>
    given(at(0, agent('a1')), at(2, spawned('a1', 's1')), at(20, ev('SessionLeaseRenewed', { agentId: 'a1', sessionId: 's1', leaseMs: 10_000 }))).then((v) => {
      expect(v.sessions.s1).toMatchObject({ state: 'running', leaseMs: 10_000, leaseExpiresAt: iso(30) });
      expect(v.anomalies.count).toBe(0);
    }));
});
