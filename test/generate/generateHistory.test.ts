import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RollcallError } from '../../src/errors.js';
import { decodeEvent } from '../../src/events/decodeEvent.js';
import { eventTypes, type LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import {
  DEFAULT_START,
  generateHistory,
  generateNdjson,
  type GeneratedEvent,
  type GenerateOptions,
} from '../../src/generate/generateHistory.js';
import { createIsoFormatter } from '../../src/generate/isoTime.js';
import { createRandom } from '../../src/generate/random.js';
import { foldView } from '../support/lifecycle.js';

const history = (options: GenerateOptions): GeneratedEvent[] => [...generateHistory(options)];
const clean = { duplicate: 0, late: 0, skew: 0, stray: 0 };
const ISO_MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Facts about a history that a reader of the log can check without a projection. */
const audit = (events: readonly GeneratedEvent[]) => {
  const seen = new Map<string, GeneratedEvent>();
  const registered = new Set<string>();
  const startedSessions = new Set<string>();
  // Per agent: the order its sessions started in, its newest spawned session, pids and generation.
  const sessionIndex = new Map<string, number>();
  const newestSpawned = new Map<string, number>();
  const sessionsStarted = new Map<string, number>();
  const pids = new Map<string, number[]>();
  const livePid = new Map<string, number>();
  const generation = new Map<string, number>();
  const connection = new Map<string, string>();
  const facts = {
    types: new Map<string, number>(),
    redeliveries: 0,
    redeliveriesIdentical: true,
    lateEnds: 0,
    stalePidCrashes: 0,
    liveCrashes: 0,
    staleRunFinished: 0,
    resetsNotHigher: 0,
    earlierAt: 0,
    staleDisconnects: 0,
    unknownAgent: 0,
    unknownSession: 0,
  };
  let newestAt = '';
  for (const e of events) {
    facts.types.set(e.type, (facts.types.get(e.type) ?? 0) + 1);
    if (e.metadata.at < newestAt) facts.earlierAt++;
    else newestAt = e.metadata.at;
    const first = seen.get(e.id);
    if (first !== undefined) {
      facts.redeliveries++;
      if (JSON.stringify(first) !== JSON.stringify(e)) facts.redeliveriesIdentical = false;
      continue;
    }
    seen.set(e.id, e);
    if (!('agentId' in e.data)) continue;
    const agentId = e.data.agentId;
    if (e.type === 'AgentRegistered') {
      registered.add(agentId);
      continue;
    }
    if (!registered.has(agentId)) facts.unknownAgent++;
    const sessionId = 'sessionId' in e.data ? e.data.sessionId : undefined;
    if (sessionId !== undefined && !sessionIndex.has(sessionId)) {
      if (e.type === 'SessionStarting' || e.type === 'AgentSpawned') {
        const n = (sessionsStarted.get(agentId) ?? 0) + 1;
        sessionsStarted.set(agentId, n);
        sessionIndex.set(sessionId, n);
        startedSessions.add(sessionId);
      } else facts.unknownSession++;
    }
    const index = sessionId === undefined ? undefined : sessionIndex.get(sessionId);
    switch (e.type) {
      case 'AgentSpawned':
      case 'SessionResumed':
        if (e.type === 'AgentSpawned' && index !== undefined) newestSpawned.set(agentId, Math.max(newestSpawned.get(agentId) ?? 0, index));
        if (e.data.pid !== undefined) {
          pids.set(agentId, [...(pids.get(agentId) ?? []), e.data.pid]);
          livePid.set(agentId, e.data.pid);
        }
        break;
      case 'SessionEnded':
      case 'SessionNotFound':
      case 'SessionStartFailed':
        if (index !== undefined && index < (newestSpawned.get(agentId) ?? 0)) facts.lateEnds++;
        break;
      case 'AgentCrashed':
        if (e.data.pid === undefined) break;
        if (e.data.pid === livePid.get(agentId)) facts.liveCrashes++;
        else if ((pids.get(agentId) ?? []).includes(e.data.pid)) facts.stalePidCrashes++;
        break;
      case 'SessionReset':
        if (e.data.generation <= (generation.get(agentId) ?? 0)) facts.resetsNotHigher++;
        generation.set(agentId, e.data.generation);
        break;
      case 'RunFinished':
        if (e.data.generation < (generation.get(agentId) ?? 0)) facts.staleRunFinished++;
        break;
      case 'AgentConnected':
        connection.set(agentId, e.data.connectionId);
        break;
      case 'AgentDisconnected':
        if (connection.get(agentId) !== e.data.connectionId) facts.staleDisconnects++;
        break;
      default:
        break;
    }
  }
  return facts;
};

const decodeAll = (events: readonly GeneratedEvent[]): LifecycleEvent[] =>
  events.map((e, i) => {
    const r = decodeEvent(e, { line: i + 1 });
    if (!r.success) throw r.error;
    return r.data;
  });

describe('generateHistory', () => {
  it('is deterministic: the same options give byte-identical output', () => {
    const a = [...generateNdjson({ agents: 40, events: 5_000, seed: 'fleet-7' })];
    const b = [...generateNdjson({ agents: 40, events: 5_000, seed: 'fleet-7' })];
    expect(b).toEqual(a);
    expect([...generateNdjson({ agents: 40, events: 300 })]).toEqual([...generateNdjson({ agents: 40, events: 300, seed: 0 })]);
  });

  it('a number seed and its decimal string give the same history; other seeds differ', () => {
    const n = [...generateNdjson({ agents: 20, events: 500, seed: 42 })];
    expect([...generateNdjson({ agents: 20, events: 500, seed: '42' })]).toEqual(n);
    expect([...generateNdjson({ agents: 20, events: 500, seed: 43 })]).not.toEqual(n);
  });

  it('a prefix is the shorter history: asking for more events only appends', () => {
    const long = [...generateNdjson({ agents: 30, events: 2_000, seed: 3 })];
    expect([...generateNdjson({ agents: 30, events: 700, seed: 3 })]).toEqual(long.slice(0, 700));
  });

  it.each([0, 1, 5, 1_234])('emits exactly %i events', (events) => {
    expect(history({ agents: 25, events, seed: 1 })).toHaveLength(events);
  });

  it('streams: the first events of an enormous history come at once', () => {
    const it = generateHistory({ agents: 100_000, events: 1e12, seed: 1 });
    const firstTen = Array.from({ length: 10 }, () => it.next().value as GeneratedEvent);
    expect(firstTen.every((e) => typeof e.id === 'string')).toBe(true);
  });

  it.each([1, 'fleet', 7])('every event of a 20k history decodes (seed %s)', (seed) => {
    const events = history({ agents: 50, events: 20_000, seed });
    const decoded = decodeAll(events);
    expect(decoded.every((d, i) => d.id === events[i]!.id)).toBe(true);
    expect(events.filter((e) => !ISO_MS_Z.test(e.metadata.at))).toEqual([]);
    expect(events.filter((e) => Object.keys(e).join() !== 'id,type,data,metadata')).toEqual([]);
  });

  it.each([
    [50, 1],
    [50, 'fleet'],
    [200, 2],
  ])('every event type of the catalog appears in a 20k history (%i agents, seed %s)', (agents, seed) => {
    const { types } = audit(history({ agents, events: 20_000, seed }));
    expect(eventTypes.filter((t) => !types.has(t))).toEqual([]);
  });

  it('rejects bad options with a usage error', () => {
    for (const bad of [
      { agents: 0, events: 10 },
      { agents: 1.5, events: 10 },
      { agents: 3, events: -1 },
      { agents: 3, events: 10, start: 'yesterday' },
      { agents: 3, events: 10, mess: { duplicate: 2 } },
      { agents: 3, events: 10, mess: { unknown: 0.1 } as never },
    ]) {
      expect(() => generateHistory(bad)).toThrow(RollcallError);
    }
    expect(() => generateNdjson({ agents: 0, events: 1 })).toThrow(/agents must be a positive integer/);
  });
});

describe('a realistic history', { timeout: 60_000 }, () => {
  const events = history({ agents: 50, events: 20_000, seed: 11 });
  const facts = audit(events);

  it('starts at options.start (default 2026-11-20) and advances tens to hundreds of ms per event', () => {
    expect(Date.parse(events[0]!.metadata.at) - Date.parse(DEFAULT_START)).toBeLessThan(5_000);
    expect(events.every((e) => e.metadata.at >= DEFAULT_START)).toBe(true);
    const span = Date.parse(events.at(-1)!.metadata.at) - Date.parse(DEFAULT_START);
    expect(span / events.length).toBeGreaterThan(20);
    expect(span / events.length).toBeLessThan(500);
    const later = history({ agents: 5, events: 50, seed: 11, start: '2027-01-31T23:59:59.990Z' });
    expect(later.every((e) => e.metadata.at >= '2027-01-31T23:59:59.990Z' && ISO_MS_Z.test(e.metadata.at))).toBe(true);
  });

  it('redelivers some events: the same id, the same bytes, a little later', () => {
    expect(facts.redeliveries).toBeGreaterThan(50);
    expect(facts.redeliveriesIdentical).toBe(true);
  });

  it("delivers an old session's end after the agent's next session has spawned", () => {
    expect(facts.lateEnds).toBeGreaterThan(10);
  });

  it('reports crashes with the live pid, and some late ones with the pid of an earlier process', () => {
    expect(facts.liveCrashes).toBeGreaterThan(100);
    expect(facts.stalePidCrashes).toBeGreaterThan(5);
  });

  it('resets always raise the generation; some runs of an old generation finish afterwards', () => {
    expect(facts.types.get('SessionReset')).toBeGreaterThan(50);
    expect(facts.resetsNotHigher).toBe(0);
    expect(facts.staleRunFinished).toBeGreaterThan(3);
  });

  it('has stale disconnects, earlier `at` than already seen, and events for unknown agents and sessions', () => {
    expect(facts.staleDisconnects).toBeGreaterThan(10);
    expect(facts.earlierAt).toBeGreaterThan(100);
    expect(facts.unknownAgent).toBeGreaterThan(5);
    expect(facts.unknownSession).toBeGreaterThan(5);
  });

  it('has every role and variant, and most sessions in a pool', () => {
    // (Restarts, lapsed leases and crash loops free slots late in the simulation's eyes: a little under 60 %.)
    const registered = events.filter((e) => e.type === 'AgentRegistered').map((e) => e.data);
    const kinds = new Set(registered.map((d) => ('variant' in d && d.variant ? `${d.role}:${d.variant}` : d.role)));
    expect([...kinds].sort()).toEqual(['director', 'steward', 'steward:merge', 'worker', 'worker:ephemeral']);
    const starts = events.filter((e) => e.type === 'SessionStarting');
    expect(starts.filter((e) => 'poolId' in e.data && e.data.poolId !== undefined).length / starts.length).toBeGreaterThan(0.55);
  });

  it('exercises every ignore rule of the projection, and only those a real fleet produces', async () => {
    const view = await foldView(decodeAll(events));
    expect(Object.keys(view.anomalies.byReason).sort()).toEqual([
      'agent-exists',
      'duplicate',
      'invalid-transition',
      'pool-exists',
      'quarantined-start',
      'removed-agent',
      'session-agent-mismatch',
      'stale-connection',
      'stale-epoch',
      'stale-generation',
      'stale-pid',
      'unknown-agent',
      'unknown-pool',
      'unknown-session',
    ]);
    const states = new Set(Object.values(view.sessions).map((s) => s.state));
    expect(states).toContain('terminating');
    expect(states).toContain('running');
  });
});

describe('mess rates', { timeout: 60_000 }, () => {
  it('with every rate at 0 the history is clean: no redelivery, time never goes back, no anomaly', async () => {
    const events = history({ agents: 40, events: 15_000, seed: 5, mess: clean });
    const facts = audit(events);
    expect(facts.redeliveries).toBe(0);
    expect(facts.earlierAt).toBe(0);
    expect(facts.lateEnds + facts.stalePidCrashes + facts.staleRunFinished + facts.unknownAgent).toBe(0);
    const view = await foldView(decodeAll(events));
    expect(view.anomalies.byReason).toEqual({});
  });

  it('raising a rate raises what it controls', () => {
    const base = audit(history({ agents: 40, events: 10_000, seed: 5 }));
    const messy = audit(history({ agents: 40, events: 10_000, seed: 5, mess: { duplicate: 0.1, stray: 0.03 } }));
    expect(messy.redeliveries).toBeGreaterThan(base.redeliveries * 5);
    expect(messy.unknownAgent + messy.unknownSession).toBeGreaterThan(base.unknownAgent + base.unknownSession);
  });
});

describe('generateNdjson', { timeout: 60_000 }, () => {
  it.each([1, 'x'])('lines are JSON.stringify of the events and parse back to them (seed %s)', (seed) => {
    const events = history({ agents: 60, events: 20_000, seed });
    const lines = [...generateNdjson({ agents: 60, events: 20_000, seed })];
    expect(lines).toHaveLength(events.length);
    for (const [i, line] of lines.entries()) {
      expect(line).toBe(JSON.stringify(events[i]));
      expect(JSON.parse(line)).toEqual(events[i]);
    }
  });
});

describe('properties', () => {
  it('any seed, fleet and length: exactly that many events, all decodable, deterministic', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer(), fc.string({ maxLength: 12 })),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 0, max: 400 }),
        (seed, agents, count) => {
          const lines = [...generateNdjson({ agents, events: count, seed })];
          expect(lines).toHaveLength(count);
          for (const line of lines) {
            const r = decodeEvent(JSON.parse(line));
            if (!r.success) throw r.error;
          }
          expect([...generateNdjson({ agents, events: count, seed })]).toEqual(lines);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('the cached ISO formatter equals Date#toISOString on any walk of the clock', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 8_000_000_000_000 }), { minLength: 1, maxLength: 50 }), (times) => {
        const iso = createIsoFormatter();
        for (const t of times) {
          expect(iso(t)).toBe(new Date(t).toISOString());
          expect(iso(t + 59_999)).toBe(new Date(t + 59_999).toISOString());
        }
      }),
    );
  });

  it('random uuids are valid v4 and the stream depends on the seed', () => {
    const uuid = z.uuid();
    const a = createRandom('a');
    const ids = Array.from({ length: 2_000 }, () => a.uuid());
    expect(ids.every((id) => uuid.safeParse(id).success && id[14] === '4' && '89ab'.includes(id[19]!))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(createRandom('b').uuid()).not.toBe(createRandom('a').uuid());
  });
});
