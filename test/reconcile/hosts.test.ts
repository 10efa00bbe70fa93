import { describe, expect, it } from 'vitest';
import { checkPid, observeProcesses } from '../../src/reconcile/observeProcesses.js';
import { reconcileOnce } from '../../src/reconcile/reconciler.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { agent, ev, foldView, given as givenEvents, spawned } from '../support/lifecycle.js';
import { MIN, at, given, nothing, SPEC4 } from './support.js';

// SPEC §1.3/§3/§4: hosts. A pid means something only on its own machine.

const reg = (id: string) => ev('AgentRegistered', { agentId: id, role: 'worker' }, { at: 0 });
const onHost = (agentId: string, sessionId: string, pid: number, host?: string) =>
  ev('AgentSpawned', host === undefined ? { agentId, sessionId, pid } : { agentId, sessionId, pid, host }, { at: 10 });
const dead = { alive: false, detail: 'no such process (ESRCH)' } as const;

describe('host in the projection (SPEC §3)', () => {
  it('AgentSpawned with a host: the session records it, the agent shows its live session’s host', () =>
    givenEvents(agent('a1'), spawned('a1', 's1', { pid: 5, host: 'node-a' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ host: 'node-a', pid: 5 });
      expect(v.agents['a1']).toMatchObject({ host: 'node-a', pid: 5 });
    }));

  it('without a host both are null', () =>
    givenEvents(agent('a1'), spawned('a1', 's1', { pid: 5 })).then((v) => {
      expect(v.sessions['s1']!.host).toBeNull();
      expect(v.agents['a1']!.host).toBeNull();
    }));

  it('a suspended or ended session keeps the host it last ran on; the agent has none without a live session', () =>
    givenEvents(agent('a1'), spawned('a1', 's1', { host: 'node-a' }), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'suspended', host: 'node-a', pid: null });
      expect(v.agents['a1']!.host).toBeNull();
    }));

  it('SessionResumed on another host moves the session there; without a host it is unknown again', async () => {
    const base = [agent('a1'), spawned('a1', 's1', { host: 'node-a' }), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' })];
    await givenEvents(...base, ev('SessionResumed', { agentId: 'a1', sessionId: 's1', pid: 8, host: 'node-b' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ host: 'node-b', pid: 8 });
      expect(v.agents['a1']!.host).toBe('node-b');
    });
    await givenEvents(...base, ev('SessionResumed', { agentId: 'a1', sessionId: 's1', pid: 8 })).then((v) => {
      expect(v.sessions['s1']!.host).toBeNull();
    });
  });

  it('a repeat AgentSpawned on a running session updates the host it names, and keeps it when it names none', () =>
    givenEvents(agent('a1'), spawned('a1', 's1', { pid: 1, host: 'node-a' }), spawned('a1', 's1', { pid: 2 }), spawned('a1', 's1', { host: 'node-c' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ pid: 2, host: 'node-c' });
    }));

  it('an ended session keeps its host', () =>
    givenEvents(agent('a1'), spawned('a1', 's1', { pid: 3, host: 'node-a' }), ev('SessionEnded', { agentId: 'a1', sessionId: 's1', reason: 'done' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'terminated', host: 'node-a', pid: null });
    }));
});

describe('decide: pid facts apply only on their own host (SPEC §4)', () => {
  it('a dead pid observed on my host ends my host’s session', () =>
    given(reg('a1'), onHost('a1', 's1', 42, 'me')).when(MIN, { host: 'me', pids: { 42: dead } }).then(({ decisions }) => {
      expect(decisions.map((d) => [d.rule, d.event.type, d.sessionId])).toEqual([['dead-pid', 'AgentCrashed', 's1']]);
      expect(decisions[0]!.event.metadata).toMatchObject({ observed: { host: 'me', pid: 42 } });
    }));

  it('the same pid number dead on my host does not end another host’s session', () =>
    given(reg('a1'), onHost('a1', 's1', 42, 'other')).when(MIN, { host: 'me', pids: { 42: dead } }).then(nothing));

  it('a session with no host is checked by any reconciler (a single-machine fleet)', () =>
    given(reg('a1'), onHost('a1', 's1', 42)).when(MIN, { host: 'me', pids: { 42: dead } }).then(({ decisions }) => {
      expect(decisions.map((d) => d.rule)).toEqual(['dead-pid']);
    }));

  it('pid facts that name no host apply only to sessions with no host', async () => {
    await given(reg('a1'), onHost('a1', 's1', 42, 'node-a')).when(MIN, { pids: { 42: dead } }).then(nothing);
    await given(reg('a1'), onHost('a1', 's1', 42)).when(MIN, { pids: { 42: dead } }).then(({ decisions }) => expect(decisions).toHaveLength(1));
  });

  it('a stuck terminating session on another host is not ended for a dead pid seen here', () =>
    given(reg('a1'), onHost('a1', 's1', 42, 'other'), ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' }, { at: 20 }))
      .when(30 * MIN, { host: 'me', pids: { 42: dead }, agents: { a1: { connection: 'connected' } } })
      .then(nothing));

  it('a pid that could not be checked fires no rule', () =>
    given(reg('a1'), onHost('a1', 's1', 42, 'me')).when(MIN, { host: 'me', pids: { 42: { alive: null, detail: 'cannot check: EINVAL' } } }).then(nothing));

  it('observations of agents are read as own entries only (an agent named `constructor`)', () =>
    given(reg('constructor'), onHost('constructor', 's1', 42, 'me')).when(MIN, { host: 'me', agents: {} }).then(nothing));
});

describe('observeProcesses and checkPid', () => {
  it('checks only sessions on its host and sessions with no host, and says which host it observed', async () => {
    const view = await foldView([reg('a1'), reg('a2'), reg('a3'), onHost('a1', 's1', process.pid, 'me'), onHost('a2', 's2', 9_999_991, 'other'), onHost('a3', 's3', 9_999_992)]);
    const obs = observeProcesses(view, { host: 'me' });
    expect(obs.host).toBe('me');
    expect(Object.keys(obs.pids!).map(Number).sort()).toEqual([process.pid, 9_999_992].sort());
  });

  it.each([2 ** 31, 2 ** 53, 0, -1, 1.5])('pid %s cannot be checked: alive is null, with the reason', (pid) => {
    const o = checkPid(pid);
    expect(o.alive).toBeNull();
    expect(o.detail).toMatch(/^cannot check: /);
  });
});

describe('reconcileOnce reports what it could not check', () => {
  it('an unchecked pid is in the pass and its metrics, and nothing is appended for it', async () => {
    const store = openMemoryStore();
    await store.appendBatch([reg('a1'), onHost('a1', 's1', 77, 'me')]);
    const pass = await reconcileOnce(store, { config: SPEC4,
      host: 'me',
      now: at(MIN),
      observe: (_view, { host }) => ({ host, pids: { 77: { alive: null, detail: 'cannot check: kill(0) failed with EINVAL' } } }),
    });
    expect(pass.unchecked).toEqual([{ agentId: 'a1', sessionId: 's1', pid: 77, detail: 'cannot check: kill(0) failed with EINVAL' }]);
    expect(pass.metrics.unchecked).toBe(1);
    expect(pass.appended).toEqual([]);
  });

  it('the default observer checks pids on the host it is given', async () => {
    const store = openMemoryStore();
    await store.appendBatch([reg('a1'), reg('a2'), onHost('a1', 's1', 9_999_991, 'me'), onHost('a2', 's2', 9_999_993, 'elsewhere')]);
    const pass = await reconcileOnce(store, { config: SPEC4, host: 'me', now: at(MIN) });
    expect(pass.observations.host).toBe('me');
    expect(pass.appended.map((d) => d.sessionId)).toEqual(['s1']);
  });
});
