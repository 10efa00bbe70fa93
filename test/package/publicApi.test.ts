import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';
import { RollcallError } from '../../src/errors.js';
import type { EventOf } from '../../src/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs an ES module in a fresh node process at the repository root, where `rollcall` resolves to the built package. */
const runModule = (source: string): string =>
  execFileSync(process.execPath, ['--input-type=module', '-e', source], { cwd: root, encoding: 'utf8' });

describe('the public API (src/index.ts)', () => {
  it('is the curated surface: no internals', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "EventEnvelope",
        "EventMetadata",
        "LifecycleEventBody",
        "RollcallError",
        "appendEvents",
        "createLifecycleProjection",
        "decide",
        "decodeEvent",
        "defaultReconcileConfig",
        "defaultStoreUrl",
        "event",
        "eventJsonSchema",
        "eventSchemas",
        "eventTypes",
        "isRollcallError",
        "lifecycleProjection",
        "lifecycleView",
        "observeProcesses",
        "openMemoryStore",
        "openRollcall",
        "openSqliteStore",
        "openStore",
        "reconcileOnce",
        "recoverOnStartup",
        "replayFile",
        "replayStore",
        "runReconciler",
        "streamOf",
      ]
    `);
    for (const internal of ['applyItems', 'applyEvent', 'decodeStoredChunks', 'encodeSnapshot', 'runCli', 'foldEvents'])
      expect(api).not.toHaveProperty(internal);
  });

  it('event() builds a typed, validated event with a fresh id', () => {
    const spawned: EventOf<'AgentSpawned'> = api.event(
      'AgentSpawned',
      { agentId: 'a1', sessionId: 's1', pid: 42 },
      { at: new Date(Date.UTC(2026, 10, 20, 10)), source: 'test' },
    );
    expect(spawned).toMatchObject({
      type: 'AgentSpawned',
      data: { agentId: 'a1', sessionId: 's1', pid: 42 },
      metadata: { at: '2026-11-20T10:00:00.000Z', source: 'test' },
    });
    expect(spawned.id).toMatch(/^[0-9a-f-]{36}$/);
    const again = api.event('AgentSpawned', spawned.data, { at: spawned.metadata.at });
    expect(again.id).not.toBe(spawned.id);
    expect(api.event('AgentHeartbeat', { agentId: 'a1' }, { at: '2026-11-20T10:00:00Z', id: spawned.id }).id).toBe(spawned.id);
  });

  it.each([
    ['a pid of 0', () => api.event('AgentSpawned', { agentId: 'a1', sessionId: 's1', pid: 0 }, { at: '2026-11-20T10:00:00Z' }), 'data.pid'],
    ['an empty agent id', () => api.event('AgentHeartbeat', { agentId: '' }, { at: '2026-11-20T10:00:00Z' }), 'data.agentId'],
    ['an at without a zone', () => api.event('AgentHeartbeat', { agentId: 'a1' }, { at: '2026-11-20T10:00:00' }), 'metadata.at'],
    ['an id that is not a UUID', () => api.event('AgentHeartbeat', { agentId: 'a1' }, { at: '2026-11-20T10:00:00Z', id: 'x' }), 'id'],
  ])('event() refuses %s with invalid-event naming the field', (_name, build, path) => {
    let error: unknown;
    try {
      build();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RollcallError);
    expect(error).toMatchObject({ code: 'invalid-event', path });
  });

  it('eventSchemas has one strict schema per event type', () => {
    expect(Object.keys(api.eventSchemas).sort()).toEqual([...api.eventTypes].sort());
    expect(api.eventSchemas.AgentCrashed.safeParse({ type: 'AgentCrashed', data: { agentId: 'a', reason: 'r' } }).success).toBe(true);
    expect(api.eventSchemas.AgentCrashed.safeParse({ type: 'AgentCrashed', data: { agentId: 'a', reason: 'r', pid: 1, x: 1 } }).success).toBe(false);
  });

  it('importing the built package changes no global state', () => {
    const out = runModule(`
      import * as immer from 'immer';
      import { z } from 'zod';
      const refusesMaps = () => { try { immer.produce(new Map(), (d) => { d.set(1, 1); }); return false; } catch { return true; } };
      const refusesPatches = () => { try { immer.produceWithPatches({ a: 1 }, (d) => { d.a = 2; }); return false; } catch { return true; } };
      const snapshot = () => JSON.stringify({
        globals: Reflect.ownKeys(globalThis).map(String).sort(),
        processListeners: process.eventNames().map((n) => [String(n), process.listenerCount(n)]),
        zodIds: z.globalRegistry._idmap.size,
        zodConfig: Object.keys(z.config()),
        immerMaps: refusesMaps(),
        immerPatches: refusesPatches(),
        stackTraceLimit: Error.stackTraceLimit,
      });
      // zod installs its own defaults (locale, memoizer) on the first schema anyone builds: do it first.
      z.object({ warm: z.string() });
      const config = { ...z.config() };
      const before = snapshot();
      const rollcall = await import('rollcall');
      const after = snapshot();
      const configSame = Object.keys(config).every((k) => z.config()[k] === config[k]);
      // The checks can fail: loading the plugins by hand flips them.
      immer.enableMapSet(); immer.enablePatches();
      console.log(JSON.stringify({ before, after, exported: Object.keys(rollcall).length, control: [refusesMaps(), refusesPatches()], configSame }));
    `);
    const { before, after, exported, control, configSame } = JSON.parse(out) as {
      before: string;
      after: string;
      exported: number;
      control: boolean[];
      configSame: boolean;
    };
    expect(configSame).toBe(true);
    expect(exported).toBeGreaterThan(10);
    expect(JSON.parse(before)).toMatchObject({ immerMaps: true, immerPatches: true });
    expect(after).toBe(before);
    expect(control).toEqual([false, false]);
  }, 60_000);
});
