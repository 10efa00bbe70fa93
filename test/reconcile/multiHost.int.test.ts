import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import type { Observer } from '../../src/reconcile/reconciler.js';
import { reconcileOnce } from '../../src/reconcile/reconciler.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { openPostgresStore } from '../../src/stores/postgresStore.js';
import { findPostgres } from '../support/postgres.js';
import { testId } from '../support/lifecycle.js';
import { SPEC4 } from './support.js';
import { correctionCounts, storedEvents } from './stores.js';

const server = await findPostgres();

// SPEC §4: one reconciler per host, all appending to one store. Each observes only its own machine
// (here: an observer that finds every pid it is asked about dead, as after a power cut).
describe.skipIf(server === null)('three reconcilers for three hosts on one PostgreSQL store', () => {
  it('each corrects only its host’s sessions (and the host-less ones); together every correction is stored exactly once', { timeout: 120_000 }, async () => {
    const db = await server!.createDatabase();
    const hosts = ['node-a', 'node-b', 'node-c'];
    const stores: EventStore[] = [];
    try {
      const ago = new Date(Date.now() - 60_000).toISOString();
      const raw: Array<{ type: string; data: Record<string, unknown> }> = [];
      // Four agents per host, one running session each, pids reused across hosts on purpose.
      hosts.forEach((host, h) => {
        for (let i = 0; i < 4; i++) {
          const agentId = `${host}-w${i}`;
          raw.push({ type: 'AgentRegistered', data: { agentId, role: 'worker' } });
          raw.push({ type: 'AgentSpawned', data: { agentId, sessionId: `${agentId}-s`, pid: 1000 + i, host } });
        }
        void h;
      });
      // Two sessions from before hosts were recorded: any reconciler may check them.
      for (let i = 0; i < 2; i++) {
        raw.push({ type: 'AgentRegistered', data: { agentId: `legacy-${i}`, role: 'worker' } });
        raw.push({ type: 'AgentSpawned', data: { agentId: `legacy-${i}`, sessionId: `legacy-${i}-s`, pid: 2000 + i } });
      }
      const events = raw.map((e, i) => ({ id: testId(600_000 + i), ...e, metadata: { at: ago } }) as LifecycleEvent);
      for (let i = 0; i < 3; i++) stores.push(await openPostgresStore({ url: db.url }));
      await stores[0]!.appendBatch(events);

      const asked = new Map<string, number[]>();
      const observerFor = (host: string): Observer => (view, context) => {
        expect(context.host).toBe(host);
        const pids: Record<number, { alive: boolean; detail: string }> = {};
        for (const s of Object.values(view.sessions)) {
          if (s.pid === null || !(s.host === null || s.host === host)) continue;
          pids[s.pid] = { alive: false, detail: `gone on ${host}` };
          asked.set(host, [...(asked.get(host) ?? []), s.pid]);
        }
        return { host, pids };
      };

      const passes = await Promise.all(hosts.map((host, i) => reconcileOnce(stores[i]!, { config: SPEC4, host, observe: observerFor(host) })));

      passes.forEach((pass, i) => {
        const host = hosts[i]!;
        // Every session a reconciler decided on is on its host or has none.
        for (const d of pass.decisions) {
          const session = pass.view.sessions[d.sessionId]!;
          expect(session.host === null || session.host === host, `${host} decided on ${d.sessionId} of ${session.host}`).toBe(true);
        }
        const own = pass.decisions.filter((d) => pass.view.sessions[d.sessionId]!.host === host).map((d) => d.sessionId).sort();
        expect(own).toEqual([0, 1, 2, 3].map((w) => `${host}-w${w}-s`));
        // Its own host's corrections were decided by no one else, so it appended all of them.
        for (const d of pass.decisions.filter((x) => pass.view.sessions[x.sessionId]!.host === host)) expect(pass.appended).toContain(d);
      });

      const counts = await correctionCounts(stores[0]!);
      const expected: Record<string, number> = {};
      for (const host of hosts) for (let i = 0; i < 4; i++) expected[`AgentCrashed ${host}-w${i} ${1000 + i}`] = 1;
      for (let i = 0; i < 2; i++) expected[`AgentCrashed legacy-${i} ${2000 + i}`] = 1;
      expect(counts).toEqual(expected);
      const appendedTotal = passes.reduce((n, p) => n + p.metrics.appended, 0);
      expect(appendedTotal).toBe(14);
      // The projection after all three: nothing left running, and a fresh pass on any host finds nothing.
      const after = await reconcileOnce(stores[1]!, { config: SPEC4, host: 'node-b', observe: observerFor('node-b') });
      expect(after.view.running).toEqual([]);
      expect(after.decisions).toEqual([]);
      expect((await storedEvents(stores[0]!)).length).toBe(events.length + 14);
    } finally {
      for (const s of stores) await s.close();
      await db.drop();
    }
  });
});
