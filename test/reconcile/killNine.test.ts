import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { checkPid } from '../../src/reconcile/observeProcesses.js';
import { reconcileOnce } from '../../src/reconcile/reconciler.js';
import { replayStore } from '../../src/replay/replayLog.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { testId } from '../support/lifecycle.js';
import { waitFor } from '../support/waitFor.js';
import { sqliteKit } from './stores.js';

// The embedded store when it exists; until then the memory store (same interface, same semantics).
const kit = sqliteKit;
const hasProcfs = existsSync('/proc/self/stat');

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

let n = 0;
const event = (type: string, data: Record<string, unknown>, secondsAgo: number): LifecycleEvent =>
  ({ id: testId(900_000 + ++n), type, data, metadata: { at: new Date(Date.now() - secondsAgo * 1000).toISOString(), source: 'test-orchestrator' } }) as LifecycleEvent;

/** A running session of agent a1 in pool p1 (maxSize 1) with this pid, connected as seed 001 has it. */
const runningSession = (pid: number): LifecycleEvent[] => [
  event('AgentRegistered', { agentId: 'a1', role: 'worker', variant: 'ephemeral' }, 10),
  event('PoolCreated', { poolId: 'p1', name: 'test', maxSize: 1 }, 10),
  event('AgentConnected', { agentId: 'a1', connectionId: 'c1' }, 9),
  event('AgentSpawned', { agentId: 'a1', sessionId: 's1', poolId: 'p1', pid }, 9),
];

const viewOf = async (store: EventStore) =>
  lifecycleView((await replayStore(store, createLifecycleProjection(), { noSnapshot: true })).state);

describe(`kill -9 of a real process, reconciled on the ${kit.name} store`, () => {
  it('one pass takes the agent out of the running set and frees the pool slot; a second pass appends nothing', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    children.push(child);
    await once(child, 'spawn');
    const pid = child.pid!;
    const { store, close } = await kit.open();
    try {
      await store.appendBatch(runningSession(pid));

      // Alive: the default observer (real pid check) leaves it alone.
      const whileAlive = await reconcileOnce(store);
      expect(whileAlive.observations.pids?.[pid]).toMatchObject({ alive: true });
      expect(whileAlive.decisions).toEqual([]);
      expect((await viewOf(store)).pools['p1']!.status).toMatchObject({ activeCount: 1, availableSlots: 0 });

      process.kill(pid, 'SIGKILL');
      await once(child, 'exit'); // node has reaped it by now
      await waitFor('the pid to be gone', () => !checkPid(pid).alive);

      const pass = await reconcileOnce(store);
      expect(pass.appended).toHaveLength(1);
      expect(pass.appended[0]).toMatchObject({
        rule: 'dead-pid', agentId: 'a1', sessionId: 's1',
        event: { type: 'AgentCrashed', data: { agentId: 'a1', reason: 'Process no longer alive (PID check)', pid } },
      });
      expect(pass.metrics.corrections['dead-pid']).toBe(1);

      const view = await viewOf(store);
      expect(view.running).toEqual([]);
      expect(view.pools['p1']!.status).toEqual({ activeCount: 0, availableSlots: 1, overCapacityBy: 0, activeByType: {}, activeAgentIds: [] });
      expect(view.agents['a1']).toMatchObject({ status: 'idle', pid: null, currentSessionId: null, lastExitReason: 'Process no longer alive (PID check)' });
      expect(view.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'Process no longer alive (PID check)' });

      const again = await reconcileOnce(store);
      expect(again.decisions).toEqual([]);
      expect(again.appended).toEqual([]);
    } finally {
      await close();
    }
  });

  it.skipIf(!hasProcfs)('a zombie (exited, never reaped by its parent) counts as dead', async () => {
    // sh starts `sleep 0.1` in the background, prints its pid, then becomes `sleep 30`, which never
    // waits for children: when `sleep 0.1` exits it stays a zombie until its parent dies.
    const parent = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(parent);
    const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
    const zombie = Number(line.toString().trim());
    expect(zombie).toBeGreaterThan(0);
    const state = () => {
      try {
        const stat = readFileSync(`/proc/${zombie}/stat`, 'utf8');
        return stat.charAt(stat.lastIndexOf(')') + 2);
      } catch {
        return null;
      }
    };
    await waitFor('the child to become a zombie', () => state() === 'Z');

    // kill(pid, 0) alone is fooled: the zombie still has a process-table entry.
    expect(() => process.kill(zombie, 0)).not.toThrow();
    expect(checkPid(zombie)).toEqual({ alive: false, detail: 'zombie (state Z)' });

    const { store, close } = await kit.open();
    try {
      await store.appendBatch(runningSession(zombie));
      const pass = await reconcileOnce(store);
      expect(pass.appended.map((d) => d.rule)).toEqual(['dead-pid']);
      expect(pass.appended[0]!.event.metadata['observed']).toMatchObject({ pid: zombie, alive: false, detail: 'zombie (state Z)' });
      expect((await viewOf(store)).pools['p1']!.status).toMatchObject({ activeCount: 0, availableSlots: 1 });
    } finally {
      await close();
    }
  });
});
