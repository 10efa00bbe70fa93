import { describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/events/decodeEvent.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { createFleetClock } from '../../src/generate/fleetClock.js';
import { DEFAULT_START, generateHistory, generateNdjson, type GeneratedEvent } from '../../src/generate/generateHistory.js';
import { resolveOptions } from '../../src/generate/generateOptions.js';
import { createRandom } from '../../src/generate/random.js';
import { checkInvariants } from '../../src/projections/checkInvariants.js';
import { cli } from '../support/cli.js';
import { foldState, foldView } from '../support/lifecycle.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const startMs = Date.parse(DEFAULT_START);
const msOf = (e: GeneratedEvent) => Date.parse(e.metadata.at);
const decodeAll = (events: readonly GeneratedEvent[]): LifecycleEvent[] =>
  events.map((e, i) => {
    const r = decodeEvent(e, { line: i + 1 });
    if (!r.success) throw r.error;
    return r.data;
  });

/** Gaps in `at` longer than `min` ms between an event and the newest time seen before it. */
const quietStretches = (events: readonly GeneratedEvent[], min: number): number[] => {
  const gaps: number[] = [];
  let newest = -Infinity;
  for (const e of events) {
    const t = msOf(e);
    if (t - newest > min && newest !== -Infinity) gaps.push(t - newest);
    newest = Math.max(newest, t);
  }
  return gaps;
};

// Folding week-long histories takes seconds on a loaded machine.
describe('generate --days: sparse histories', { timeout: 60_000 }, () => {
  const week = [...generateHistory({ agents: 120, events: 30_000, seed: 'week', days: 7 })];

  it('spreads the events over the calendar days asked for, starting at start', () => {
    expect(msOf(week[0]!) - startMs).toBeLessThan(60_000);
    const newest = Math.max(...week.map(msOf));
    // Seven busy stretches of half a day: the last one ends in the second half of day 7.
    expect(newest - startMs).toBeGreaterThan(6.3 * DAY);
    expect(newest - startMs).toBeLessThan(7 * DAY);
    expect(week.every((e) => msOf(e) >= startMs)).toBe(true);
  });

  it('has one quiet stretch a day, about as long as the idle share says', () => {
    const gaps = quietStretches(week, 2 * HOUR);
    expect(gaps).toHaveLength(6);
    // idle 0.5 = 12 h of silence a day, moved by up to 2 h either way by the days' wake-up times.
    for (const g of gaps) {
      expect(g).toBeGreaterThan(9.9 * HOUR);
      expect(g).toBeLessThan(14.1 * HOUR);
    }
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeGreaterThan(11 * HOUR);
    expect(mean).toBeLessThan(13 * HOUR);
    const shorter = [...generateHistory({ agents: 120, events: 30_000, seed: 'week', days: 7, idle: 0.25 })];
    const shorterGaps = quietStretches(shorter, 2 * HOUR);
    expect(shorterGaps).toHaveLength(6);
    for (const g of shorterGaps) expect(g).toBeLessThan(8.1 * HOUR);
  });

  it('is deterministic, and another shape than the dense history of the same seed', () => {
    const a = [...generateNdjson({ agents: 40, events: 3_000, seed: 9, days: 3 })];
    expect([...generateNdjson({ agents: 40, events: 3_000, seed: 9, days: 3 })]).toEqual(a);
    expect([...generateNdjson({ agents: 40, events: 3_000, seed: 9 })]).not.toEqual(a);
    expect([...generateNdjson({ agents: 40, events: 3_000, seed: 9, days: 3, idle: 0.3 })]).not.toEqual(a);
  });

  it('decodes, keeps every invariant, and the retention window empties the view of old sessions', async () => {
    const decoded = decodeAll(week);
    const state = await foldState(decoded);
    expect(checkInvariants(state, { retentionMs: DAY })).toEqual([]);
    const view = await foldView(decoded);
    const newest = Math.max(...week.map(msOf));
    const ended = Object.values(view.sessions).filter((s) => s.endedAt !== null);
    expect(ended.length).toBeGreaterThan(0);
    expect(ended.every((s) => Date.parse(s.endedAt!) >= newest - DAY - 60_000)).toBe(true);
    // A week of sessions, most long gone from the view.
    const started = new Set(week.filter((e) => e.type === 'SessionStarting').map((e) => (e.data as { sessionId: string }).sessionId));
    expect(Object.keys(view.sessions).length).toBeLessThan(started.size / 3);
    expect(Object.keys(view.anomalies.byReason)).toEqual(expect.arrayContaining(['duplicate', 'invalid-transition', 'stale-pid']));
  });

  it('the clock never goes back except by skew, and each busy stretch is about half a day', () => {
    const rng = createRandom(1);
    const clock = createFleetClock(rng, resolveOptions({ agents: 10, events: 10_000, days: 4 }));
    let prev = clock.now;
    const times: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      clock.tick();
      expect(clock.now).toBeGreaterThanOrEqual(prev);
      prev = clock.now;
      times.push(clock.now);
    }
    for (let d = 0; d < 4; d++) {
      const inDay = times.filter((t) => t >= startMs + d * DAY && t < startMs + (d + 1) * DAY);
      expect(inDay.length).toBeGreaterThan(2_000);
      expect(inDay.at(-1)! - inDay[0]!).toBeGreaterThan(11 * HOUR);
      expect(inDay.at(-1)! - inDay[0]!).toBeLessThan(12.01 * HOUR);
    }
  });

  it.each([
    [{ days: 0 }, /days must be a positive number/],
    [{ days: -1 }, /days must be a positive number/],
    [{ days: Number.NaN }, /days must be a positive number/],
    [{ idle: 0.5 }, /idle needs days/],
    [{ days: 2, idle: 0.95 }, /idle must be a share of the day/],
  ])('rejects %o', (bad, message) => {
    expect(() => generateHistory({ agents: 3, events: 10, ...bad })).toThrow(message);
  });

  it('the CLI takes --days and --idle, and refuses what is not a number', async () => {
    const out = await cli(['generate', '--agents', '20', '--events', '2000', '--seed', '4', '--days', '2', '--idle', '0.6']);
    expect(out.code).toBe(0);
    const lines = out.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2_000);
    expect(lines).toEqual([...generateNdjson({ agents: 20, events: 2_000, seed: 4, days: 2, idle: 0.6 })]);
    const bad = await cli(['generate', '--agents', '20', '--events', '20', '--days', 'week']);
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr).toContain('--days must be a number, got "week"');
    const idleOnly = await cli(['generate', '--agents', '20', '--events', '20', '--idle', '0.2']);
    expect(idleOnly.code).toBe(2);
    expect(idleOnly.stderr).toContain('idle needs days');
  });
});
