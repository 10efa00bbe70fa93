// The text summary of `rollcall replay` lists the sessions to look at, oldest first.
import { describe, expect, it } from 'vitest';
import { formatSummary } from '../../src/cli/formatSummary.js';
import type { ProjectionJson, SessionJson } from '../../src/projections/viewJson.js';

const session = (sessionId: string, state: SessionJson['state'], startedAt: string | null, terminatingSince: string | null = null): SessionJson => ({
  sessionId,
  agentId: `a-${sessionId}`,
  poolId: 'p',
  state,
  pid: null,
  host: null,
  startedAt,
  endedAt: null,
  terminatingSince,
  terminationReason: null,
  epoch: null,
  leaseMs: null,
  leaseExpiresAt: null,
});

const view = (sessions: SessionJson[]): ProjectionJson => ({
  position: '9',
  pools: {},
  agents: {},
  sessions: Object.fromEntries(sessions.map((s) => [s.sessionId, s])),
  running: [],
  busy: [],
  hosts: {},
  quarantined: [],
  anomalies: { count: 0, byReason: {}, recent: [] },
});

const section = (text: string, title: string): string[] => {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`${title} (`));
  if (start < 0) return [];
  const end = lines.indexOf('', start);
  return lines.slice(start, end < 0 ? undefined : end);
};

describe('formatSummary', () => {
  const text = formatSummary(
    view([
      session('s-late', 'terminating', '2026-01-01T00:00:00.000Z', '2026-01-01T03:00:00.000Z'),
      session('s-early', 'terminating', '2026-01-01T00:00:00.000Z', '2026-01-01T01:00:00.000Z'),
      session('s-mid', 'terminating', '2026-01-01T00:00:00.000Z', '2026-01-01T02:00:00.000Z'),
      session('s-new', 'starting', '2026-01-01T05:00:00.000Z'),
      session('s-old', 'starting', '2026-01-01T04:00:00.000Z'),
      session('s-run', 'running', '2026-01-01T00:00:00.000Z'),
    ]),
  );

  it('lists starting sessions, the longest waiting first', () => {
    expect(section(text, 'STARTING')).toEqual([
      'STARTING (2)',
      '  session  agent    pool  since',
      '  s-old    a-s-old  p     2026-01-01T04:00:00.000Z',
      '  s-new    a-s-new  p     2026-01-01T05:00:00.000Z',
    ]);
  });

  it('lists terminating sessions by how long they have been stuck, not in map order', () => {
    expect(section(text, 'TERMINATING').map((l) => l.trim().split(/\s+/)[0])).toEqual(['TERMINATING', 'session', 's-early', 's-mid', 's-late']);
  });

  it('caps each list and says how many more there are', () => {
    const many = Array.from({ length: 5 }, (_, i) => session(`s-${i}`, 'starting', `2026-01-01T0${i}:00:00.000Z`));
    const capped = section(formatSummary(view(many), { maxRows: 2 }), 'STARTING');
    expect(capped.slice(2).map((l) => l.trim().split(/\s+/)[0])).toEqual(['s-0', 's-1', '…']);
    expect(capped.at(-1)).toBe('  … and 3 more (--json for all)');
  });

  it('leaves out a section with nothing in it', () => {
    expect(section(formatSummary(view([session('s-run', 'running', null)])), 'STARTING')).toEqual([]);
    expect(formatSummary(view([]))).not.toContain('TERMINATING');
  });
});
