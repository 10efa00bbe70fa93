import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompactIdSet } from '../../src/events/compactIdSet.js';
import { createLiveView } from '../../src/live/liveView.js';
import { trackLifecycleChanges } from '../../src/projections/lifecycleChanged.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView, type ProjectionJson } from '../../src/projections/lifecycleView.js';
import { markRedelivery } from '../../src/replay/dedupeIds.js';
import { isDuplicate } from '../../src/replay/replayItem.js';
import { arbitraryHistory } from '../support/arbitraryHistory.js';
import { agent, ev, pool, record, spawned } from '../support/lifecycle.js';

/** Follows events as the live runtime does (in place, each change noted), looking at the view where `looks` says. */
const follow = (events: ReturnType<typeof record>, looks: (i: number) => boolean, retentionMs?: number) => {
  const projection = createLifecycleProjection(retentionMs === undefined ? {} : { retentionMs });
  const state = projection.initialState();
  const tracker = trackLifecycleChanges(projection, state);
  const live = createLiveView(state);
  const seen = new CompactIdSet();
  const handedOut: Array<{ view: ProjectionJson; text: string }> = [];
  const look = (i: number) => {
    // Sections read in a random order, some not at all: each must be exact whenever it is read.
    const full = lifecycleView(state);
    const names = (['pools', 'agents', 'sessions', 'running', 'anomalies', 'projection'] as const).filter((_, k) => (i * 7 + k * 3) % 5 !== 0 || k === 5);
    for (const name of i % 2 ? names : [...names].reverse()) {
      const section = live.section(name);
      const expected = name === 'projection' ? full : name === 'running' ? { running: full.running, busy: full.busy } : full[name];
      expect(section.position).toBe(full.position);
      expect(section.json()).toBe(JSON.stringify(expected));
      expect(JSON.stringify(section.value)).toBe(JSON.stringify(expected));
    }
    // Each agent's sessions from the index: exactly those of the full view, sorted by id, the same objects the sessions section holds.
    const agentIds = new Set([...Object.keys(full.agents), ...Object.values(full.sessions).map((s) => s.agentId), 'no-such-agent']);
    for (const agentId of agentIds) {
      const of = live.sessionsOf(agentId);
      const expected = Object.values(full.sessions)
        .filter((s) => s.agentId === agentId)
        .sort((a, b) => (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0));
      expect(of.position).toBe(full.position);
      expect(JSON.stringify(of.sessions)).toBe(JSON.stringify(expected));
      const section = live.section('sessions').value;
      for (const s of of.sessions) expect(section[s.sessionId]).toBe(s);
    }
    const view = live.view();
    const text = JSON.stringify(view);
    // Byte for byte what a full build gives: same entities, same values, same key order.
    expect(text).toBe(JSON.stringify(full));
    expect(live.view()).toBe(view);
    handedOut.push({ view, text });
  };
  for (let i = 0; i < events.length; i++) {
    const item = markRedelivery(events[i]!, seen);
    const change = isDuplicate(item) ? tracker.applyDuplicate(item.event) : tracker.apply(events[i]!);
    live.note(change.changed);
    if (looks(i)) look(i);
  }
  look(events.length);
  return handedOut;
};

describe('the live view: rebuilt per position from what each event changed', () => {
  it('property: after any history, looked at anywhere, it is exactly lifecycleView(state), and no view handed out changes afterwards', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(arbitraryHistory({ retentionJumps: true }), fc.array(fc.boolean(), { minLength: 1 }), fc.constantFrom(undefined, 3_600_000), (events, pattern, retentionMs) => {
        const handedOut = follow(record(events), (i) => pattern[i % pattern.length]!, retentionMs);
        for (const { view, text } of handedOut) expect(JSON.stringify(view)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('shares what did not change with the previous view, and rebuilds what did', () => {
    const projection = createLifecycleProjection();
    const state = projection.initialState();
    const tracker = trackLifecycleChanges(projection, state);
    const live = createLiveView(state);
    const [p1, a1, a2, start] = record([pool('p1', 2), agent('a1'), agent('a2'), spawned('a1', 's1', { poolId: 'p1' })]);
    for (const e of [p1!, a1!, a2!]) live.note(tracker.apply(e).changed);
    const before = live.view();
    live.note(tracker.apply(start!).changed);
    const after = live.view();
    expect(after).not.toBe(before);
    expect(after.agents['a2']).toBe(before.agents['a2']);
    expect(after.agents['a1']).not.toBe(before.agents['a1']);
    expect(after.pools['p1']!.status).toMatchObject({ activeCount: 1, activeAgentIds: ['a1'] });
    expect(before.pools['p1']!.status.activeCount).toBe(0);
    expect(after.running).toEqual(['a1']);
    expect(before.running).toEqual([]);
    // Nothing noted and no new position: the same object.
    expect(live.view()).toBe(after);
  });

  it('a section is rebuilt only when read and only when something in it changed; its text is made once', () => {
    const projection = createLifecycleProjection();
    const state = projection.initialState();
    const tracker = trackLifecycleChanges(projection, state);
    const live = createLiveView(state);
    const [p1, a1, a2, start, beat] = record([pool('p1', 2), agent('a1'), agent('a2'), spawned('a1', 's1', { poolId: 'p1' }), ev('AgentHeartbeat', { agentId: 'a2' })]);
    for (const e of [p1!, a1!, a2!]) live.note(tracker.apply(e).changed);
    const pools = live.section('pools');
    const sessions = live.section('sessions');
    expect(pools.json()).toBe(pools.json());
    live.note(tracker.apply(start!).changed);
    const pools2 = live.section('pools');
    expect(pools2.value).not.toBe(pools.value);
    expect(pools2.position).toBe('4');
    // A heartbeat of an agent in no pool: the pools read after it are the same object and the same text.
    live.note(tracker.apply(beat!).changed);
    const pools3 = live.section('pools');
    expect(pools3.value).toBe(pools2.value);
    expect(pools3.json()).toBe(pools2.json());
    expect(pools3.position).toBe('5');
    // The sessions section was not read meanwhile: it catches up on both events at once.
    expect(Object.keys(live.section('sessions').value)).toEqual(['s1']);
    expect(Object.keys(sessions.value)).toEqual([]);
    // A handle's text is its own value's, even after the section moved on.
    expect(pools.json()).toBe(JSON.stringify(pools.value));
    expect(sessions.json()).toBe('{}');
  });
});
