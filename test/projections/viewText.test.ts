import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import type { LifecycleState, SessionRecord } from '../../src/projections/lifecycleState.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { createViewTextCache, indexKey, SESSION_FIELDS } from '../../src/projections/viewText.js';
import { applyItemsInPlace } from '../../src/replay/foldEvents.js';
import { arbitraryHistory } from '../support/arbitraryHistory.js';
import { agent, foldState, record, spawned } from '../support/lifecycle.js';
import { runs } from '../support/runs.js';

const decoder = new TextDecoder();
const viewText = (state: LifecycleState) => JSON.stringify(lifecycleView(state));

// Ids an object does not list in the order they were set (array indices, numeric order first), and
// ids JSON escapes or UTF-8 writes in more than one byte.
const trickyIds = ['10', '2', '0', '4294967294', '4294967295', '01', '-1', '__proto__', 'constructor', 'é', '"q\\', '\u2028', '😀', 's'];

/** The history with its session ids s0…s5 renamed to the ids given (in order). */
const renamed = (history: LifecycleEvent[], ids: string[]): LifecycleEvent[] =>
  history.map((e) => {
    const data = e.data as { sessionId?: unknown };
    if (typeof data.sessionId !== 'string') return e;
    const n = /^s(\d)$/.exec(data.sessionId);
    return n === null ? e : ({ ...e, data: { ...data, sessionId: ids[Number(n[1])] ?? data.sessionId } } as LifecycleEvent);
  });

describe('the view text made from session texts (createViewTextCache)', () => {
  it('is JSON.stringify of the view, byte for byte, on every cut of random histories folded in place through one cache', async () => {
    await fc.assert(
      fc.asyncProperty(
        arbitraryHistory({ maxLength: 60 }),
        fc.shuffledSubarray(trickyIds, { minLength: 6, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (history, ids, cuts) => {
          const projection = createLifecycleProjection();
          const events = record(renamed(history, ids));
          const state = projection.initialState();
          const cache = createViewTextCache();
          // As the worker does: one state changed in place between views, the texts kept across them.
          let at = 0;
          for (const cut of [...cuts.map((c) => c % (events.length + 1)).sort((a, b) => a - b), events.length]) {
            applyItemsInPlace(projection, state, events.slice(at, cut));
            at = Math.max(at, cut);
            expect(decoder.decode(cache.bytes(state))).toBe(viewText(state));
          }
        },
      ),
      { numRuns: runs(300) },
    );
  });

  it('reuses the text of a session that did not change, and writes one any field of which did', async () => {
    const state = await foldState([agent('a'), agent('b'), spawned('a', 's1', { pid: 1 }), spawned('b', 's2', { pid: 2 })]);
    const cache = createViewTextCache();
    cache.bytes(state);
    expect(cache.last).toEqual({ reused: 0, written: 2 });
    cache.bytes(state);
    expect(cache.last).toEqual({ reused: 2, written: 0 });
    const s1 = state.sessions.get('s1')! as unknown as Record<string, unknown>;
    for (const field of SESSION_FIELDS) {
      if (field === 'sessionId') continue;
      const before = s1[field];
      s1[field] = typeof before === 'number' ? before + 1 : `${String(before)}x`;
      expect(decoder.decode(cache.bytes(state)), field).toBe(viewText(state));
      expect(cache.last, field).toEqual({ reused: 1, written: 1 });
      s1[field] = before;
      cache.bytes(state);
    }
  });

  it('keeps only the texts of the last state, and answers a state keying a session by another id as the view does', async () => {
    const state = await foldState([agent('a'), agent('b'), spawned('a', 's1'), spawned('b', 's2')]);
    const cache = createViewTextCache();
    cache.bytes(state);
    state.sessions.delete('s1');
    cache.bytes(state);
    expect(cache.size()).toBe(1);
    state.sessions.set('other', { ...state.sessions.get('s2')! } satisfies SessionRecord);
    expect(decoder.decode(cache.bytes(state))).toBe(viewText(state));
  });

  it('answers in a buffer of its own, even for a small view (it is transferred to another thread)', async () => {
    const bytes = createViewTextCache().bytes(await foldState([agent('a')]));
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
  });

  it('takes as array indices exactly the keys an object lists first', () => {
    for (const key of [...trickyIds, '4294967293', '00', '1.5', ' 1', '1e3', '']) {
      const o: Record<string, true> = Object.create(null) as Record<string, true>;
      o['zz'] = true;
      o[key] = true;
      expect(indexKey(key) !== null, key).toBe(Object.keys(o)[0] === key && key !== 'zz');
    }
  });
});
