import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { generateHistory } from '../../src/generate/generateHistory.js';
import { initialLifecycleState } from '../../src/projections/lifecycleState.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { isArrayIndex, lifecycleViewText } from '../../src/projections/viewText.js';
import { arbitraryHistory } from '../support/arbitraryHistory.js';
import { foldState } from '../support/lifecycle.js';
import { runs } from '../support/runs.js';

// `replay --json` prints lifecycleViewText's pieces: they must join to exactly what
// JSON.stringify(lifecycleView(state), null, 2) printed before, whatever the ids and chunk sizes.
const pretty = (state: Parameters<typeof lifecycleView>[0]) => JSON.stringify(lifecycleView(state), null, 2);

// Ids an object orders or prints specially: array indexes (listed first, ascending, whatever the
// insertion order), near misses that are ordinary keys, prototype names, and strings JSON escapes.
const trickyIds = ['10', '2', '0', '4294967294', '4294967295', '01', '-1', '1.5', '1e3', '__proto__', 'constructor', 'a"b\\c', 'tab\there', '\u2028', '\ud800', 'é'];

/** The history with its session ids s0…s5 renamed by `rename` (consistently: the same session keeps its one id). */
const renamed = (events: LifecycleEvent[], rename: readonly string[]): LifecycleEvent[] =>
  events.map((e) => JSON.parse(JSON.stringify(e).replace(/"sessionId":"s([0-5])"/g, (_, n: string) => `"sessionId":${JSON.stringify(rename[Number(n)])}`)) as LifecycleEvent);

describe('lifecycleViewText', () => {
  it('isArrayIndex is what an object orders first', () => {
    const o: Record<string, number> = Object.create(null) as Record<string, number>;
    for (const id of ['b', ...trickyIds, 'a']) o[id] = 0;
    const first = Object.keys(o).filter(isArrayIndex);
    expect(first).toEqual(['0', '2', '10', '4294967294']);
    expect(Object.keys(o).slice(0, first.length)).toEqual(first);
  });

  it('joins to the pretty JSON of the view, byte for byte, for any history, ids and chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        arbitraryHistory({ retentionJumps: true }),
        fc.shuffledSubarray(trickyIds, { minLength: 6, maxLength: 6 }),
        fc.integer({ min: 1, max: 4 }),
        async (events, ids, chunk) => {
          const state = await foldState(renamed(events, ids));
          const pieces = [...lifecycleViewText(state, { chunk })];
          expect(pieces.join('')).toBe(pretty(state));
          expect(pieces.every((p) => p.length > 0)).toBe(true);
        },
      ),
      { numRuns: runs(200) },
    );
  });

  it('the empty state is one piece', () => {
    const state = initialLifecycleState();
    expect([...lifecycleViewText(state)]).toEqual([pretty(state)]);
  });

  it('a generated fleet, in the default chunks', async () => {
    const events = [...generateHistory({ agents: 120, events: 12_000, seed: 'view-text' })] as unknown as LifecycleEvent[];
    const state = await foldState(events);
    expect(state.sessions.size).toBeGreaterThan(2 * 256);
    const pieces = [...lifecycleViewText(state)];
    // Around the sessions (two pieces) and one per chunk of 256.
    expect(pieces.length).toBe(2 + Math.ceil(state.sessions.size / 256));
    expect(pieces.join('')).toBe(pretty(state));
  });
});
