import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeLine } from '../../src/events/decodeEvent.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { auditAgent } from '../../src/inspect/auditAgent.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { dedupeIds } from '../../src/replay/dedupeIds.js';
import { arbitraryHistory } from '../support/arbitraryHistory.js';
import { agent, ev, foldView, given, pool, record, spawned } from '../support/lifecycle.js';
import { runs } from '../support/runs.js';

// No id or type from input may ever index a plain object (issue 8, item 3).
const names = ['constructor', '__proto__', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__'] as const;

describe.each(names)('the id %s is an ordinary id', (id) => {
  it('as an agent id: registered, running and counted in its pool', () =>
    given(pool('p1', 2), agent(id), spawned(id, 's1', { poolId: 'p1', pid: 7 })).then((v) => {
      expect(Object.keys(v.agents)).toEqual([id]);
      expect(v.agents[id]).toMatchObject({ agentId: id, status: 'running', pid: 7 });
      expect(v.pools['p1']!.status).toMatchObject({ activeCount: 1, activeAgentIds: [id] });
      expect(v.running).toEqual([id]);
      expect(v.anomalies.count).toBe(0);
    }));

  it('as an unregistered agent id: unknown-agent, no state', () =>
    given(spawned(id, 's1')).thenAnomaly('unknown-agent', (v) => expect(Object.keys(v.agents)).toEqual([])));

  it('as a pool id: created, counted, updated, deleted, created again', () =>
    given(pool(id, 1), agent('a1'), spawned('a1', 's1', { poolId: id }), ev('PoolUpdated', { poolId: id, maxSize: 3 })).then((v) => {
      expect(Object.keys(v.pools)).toEqual([id]);
      expect(v.pools[id]).toMatchObject({ poolId: id, maxSize: 3, status: { activeCount: 1, availableSlots: 2 } });
    }));

  it('as an unknown pool id: unknown-pool', () => given(ev('PoolDeleted', { poolId: id })).thenAnomaly('unknown-pool'));

  it('as a session id and a connection id', () =>
    given(agent('a1'), ev('AgentConnected', { agentId: 'a1', connectionId: id }), spawned('a1', id, { pid: 3 }), ev('SessionEnded', { agentId: 'a1', sessionId: 'other', reason: 'x' })).then((v) => {
      expect(Object.keys(v.sessions)).toEqual([id]);
      expect(v.sessions[id]).toMatchObject({ sessionId: id, state: 'running' });
      expect(v.agents['a1']).toMatchObject({ currentSessionId: id, connection: { connectionId: id, state: 'connected' } });
      expect(v.anomalies.byReason).toEqual({ 'unknown-session': 1 });
    }));

  it('as a role, it is an ordinary type key in activeByType', () =>
    given(pool('p1', 2), ev('AgentRegistered', { agentId: 'a1', role: id }), spawned('a1', 's1', { poolId: 'p1' })).then((v) => {
      expect(Object.entries(v.pools['p1']!.status.activeByType)).toEqual([[id, 1]]);
    }));

  it('prints in the view JSON like any other key', async () => {
    const v = await foldView([pool(id, 1), agent(id), spawned(id, id, { poolId: id })]);
    const json = JSON.parse(JSON.stringify(v)) as Record<string, Record<string, unknown>>;
    for (const part of ['pools', 'agents', 'sessions'] as const) {
      expect(Object.keys(json[part]!)).toEqual([id]);
      expect(Object.getOwnPropertyDescriptor(json[part]!, id)?.value).toMatchObject({ [part === 'pools' ? 'poolId' : part === 'agents' ? 'agentId' : 'sessionId']: id });
    }
  });

  it('audit of that agent id is its timeline', async () => {
    const events = record([agent(id), spawned(id, 's1', { pid: 5 })]);
    const audit = await auditAgent(createLifecycleProjection(), [events], id);
    expect(audit.entries.map((e) => e.type)).toEqual(['AgentRegistered', 'AgentSpawned']);
    expect(audit.agent).toMatchObject({ agentId: id, status: 'running' });
  });

  it('as an event type it is an unknown event type (a clear error, not a crash)', () => {
    const r = decodeLine(JSON.stringify({ type: id, data: {}, metadata: { at: '2026-11-20T10:00:00.000Z' } }), { line: 3 });
    expect(r.success).toBe(false);
    expect(!r.success && r.error.code).toBe('unknown-event-type');
    expect(!r.success && r.error.message).toBe(`line 3: type: unknown event type "${id}"`);
  });
});

// Ids renamed to Object.prototype names, keeping their code-unit order so that sorted lists match.
const rename: Record<string, Readonly<Record<string, string>>> = {
  agentId: { a0: '__proto__', a1: 'constructor', a2: 'toString', a3: 'valueOf' },
  sessionId: { s0: '__defineGetter__', s1: '__proto__', s2: 'constructor', s3: 'hasOwnProperty', s4: 'toString', s5: 'valueOf' },
  poolId: { p0: '__proto__', p1: 'constructor' },
  connectionId: { c0: '__proto__', c1: 'toString', c2: 'valueOf' },
};
const renameData = (d: object): object =>
  Object.fromEntries(
    Object.entries(d).map(([k, v]) => [
      k,
      typeof v === 'string' && Object.hasOwn(rename, k) ? (rename[k]![v] ?? v) : Array.isArray(v) ? v.map((x: object) => renameData(x)) : v,
    ]),
  );
// An OrchestratorStarted's adopted list names ids one level down.
const renameEvent = (e: LifecycleEvent): LifecycleEvent => ({ ...e, data: renameData(e.data) }) as LifecycleEvent;
const allNames = new Map(Object.values(rename).flatMap((m) => Object.entries(m)));
/** The plain view with every id value and key renamed the same way (keys through fromEntries: own properties). */
const renameView = (value: unknown, key?: string): unknown => {
  if (Array.isArray(value)) return value.map((v) => renameView(v, key));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => {
      const idKey = ['pools', 'agents', 'sessions'].includes(key ?? '') ? k : null;
      return [idKey === null ? k : renameOne(k, key!), renameView(v, k)];
    }));
  }
  if (typeof value === 'string' && key !== undefined && /Id$|^Ids$|^activeAgentIds$|^running$|^busy$|^quarantined$/.test(key)) return renameOne(value, key);
  return value;
};
const renameOne = (id: string, key: string): string => {
  const kind = key === 'pools' || key === 'poolId' ? 'poolId' : key === 'sessions' || key === 'sessionId' || key === 'currentSessionId' ? 'sessionId' : key === 'connectionId' ? 'connectionId' : 'agentId';
  return rename[kind]![id] ?? (allNames.has(id) ? `?${id}` : id);
};

describe('a property over random histories', { timeout: 120_000 }, () => {
  it('renaming every id to an Object.prototype name gives the same projection, renamed', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryHistory({ retentionJumps: true }), async (events) => {
        const projection = createLifecycleProjection();
        const plain = await foldViewOf(projection, events);
        const hostile = await foldViewOf(projection, events.map(renameEvent));
        const { anomalies: _a, ...plainRest } = renameView(plain) as Record<string, unknown>;
        const { anomalies: _b, ...hostileRest } = JSON.parse(JSON.stringify(hostile)) as Record<string, unknown>;
        expect(JSON.stringify(hostileRest)).toBe(JSON.stringify(plainRest));
        expect(hostile.anomalies.byReason).toEqual(plain.anomalies.byReason);
      }),
      { numRuns: runs(200) },
    );
  });
});

const foldViewOf = async (projection: ReturnType<typeof createLifecycleProjection>, events: LifecycleEvent[]) => {
  const { foldEvents } = await import('../../src/replay/foldEvents.js');
  return projection.view((await foldEvents(projection, dedupeIds([record(events)]))).state);
};
