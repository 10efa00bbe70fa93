import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RollcallError } from '../../src/errors.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { reconcileOnce } from '../../src/reconcile/reconciler.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { ev } from '../support/lifecycle.js';
import { MIN, SPEC4, at } from './support.js';
import { inMemoryOtel } from '../support/inMemoryOtel.js';

// What docs/observability.md promises of a reconcile pass, in process: an SDK registered in this
// file's own process, exporting to memory (the CLI's OTLP export is tested in test/telemetry).
const otel = inMemoryOtel('delta');
const { spans, collected } = otel;
const passSpans = () => spans.getFinishedSpans().filter((s) => s.name === 'rollcall.reconcile');

// A dead pid (a1) and a start that never finished (a2): two corrections of two rules.
const fleet = (): LifecycleEvent[] => [
  ev('AgentRegistered', { agentId: 'a1', role: 'worker' }, { at: 0 }),
  ev('AgentRegistered', { agentId: 'a2', role: 'worker' }, { at: 0 }),
  ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', pid: 11 }, { at: 1 }),
  ev('SessionStarting', { agentId: 'a2', sessionId: 's2' }, { at: 3 }),
];
const observe = () => ({ pids: { 11: { alive: false } } });

describe('reconcile telemetry', () => {
  beforeAll(() => otel.register());
  afterAll(() => otel.unregister());
  beforeEach(async () => {
    spans.reset();
    await collected();
  });

  it('a pass: one rollcall.reconcile span with its counts and the position it read, one pass counted, its corrections by rule', async () => {
    const store = openMemoryStore();
    await store.appendBatch(fleet());
    const pass = await reconcileOnce(store, { config: SPEC4, observe, now: at(30 * MIN) });
    expect(pass.appended.map((d) => d.rule)).toEqual(['dead-pid', 'start-timeout']);
    const [span, ...more] = passSpans();
    expect(more).toEqual([]);
    expect(span!.attributes).toEqual({
      'rollcall.store.kind': 'memory',
      'rollcall.reconcile.actions': 2,
      'rollcall.reconcile.appended': 2,
      'rollcall.reconcile.already_stored': 0,
      'rollcall.reconcile.conflicts': 0,
      'rollcall.reconcile.unchecked': 0,
      'rollcall.position.last': 4,
    });
    const m = await collected();
    expect(m['rollcall.reconcile.passes']).toEqual([{ attributes: {}, value: 1 }]);
    expect(m['rollcall.reconcile.corrections']).toEqual(
      expect.arrayContaining([
        { attributes: { 'rollcall.reconcile.rule': 'dead-pid' }, value: 1 },
        { attributes: { 'rollcall.reconcile.rule': 'start-timeout' }, value: 1 },
      ]),
    );
    // Rules that corrected nothing are not counted at all (no zero points).
    expect(m['rollcall.reconcile.corrections']).toHaveLength(2);
  });

  it('a pass over an empty store has no position to report and counts no correction', async () => {
    await reconcileOnce(openMemoryStore(), { config: SPEC4, observe, now: at(30 * MIN) });
    const [span] = passSpans();
    expect(span!.attributes).not.toHaveProperty('rollcall.position.last');
    expect(span!.attributes).toMatchObject({ 'rollcall.reconcile.actions': 0, 'rollcall.reconcile.appended': 0 });
    const m = await collected();
    expect(m['rollcall.reconcile.passes']).toEqual([{ attributes: {}, value: 1 }]);
    expect(m['rollcall.reconcile.corrections'] ?? []).toEqual([]);
  });

  it('a failed pass is counted with its error.type (the RollcallError code)', async () => {
    const store = openMemoryStore();
    await store.appendBatch(fleet());
    const { appendGroup: _, ...rest } = store;
    const failing: EventStore = { ...rest, appendToStream: () => Promise.reject(new RollcallError('store-unavailable', 'disk full')) };
    await expect(reconcileOnce(failing, { config: SPEC4, observe, now: at(30 * MIN) })).rejects.toThrow('disk full');
    const m = await collected();
    expect(m['rollcall.reconcile.passes']).toEqual([{ attributes: { 'error.type': 'store-unavailable' }, value: 1 }]);
  });
});
