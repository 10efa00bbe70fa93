import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, ndjsonFile, tempDir } from '../support/cli.js';

const at = (s: number) => new Date(Date.UTC(2026, 10, 20, 10, 0, s)).toISOString();
const seed000 = [
  { type: 'PoolCreated', data: { poolId: 'el-rmw5', name: 'test', maxSize: 1 }, metadata: { at: at(0) } },
  { type: 'AgentRegistered', data: { agentId: 'el-5d6n', role: 'worker', variant: 'ephemeral' }, metadata: { at: at(1) } },
  { type: 'AgentSpawned', data: { agentId: 'el-5d6n', sessionId: 's-1', poolId: 'el-rmw5', pid: 4242 }, metadata: { at: at(2) } },
  { type: 'AgentCrashed', data: { agentId: 'el-5d6n', reason: 'Process no longer alive (PID check)', pid: 4242 }, metadata: { at: at(300) } },
  { type: 'SessionEnded', data: { agentId: 'el-5d6n', sessionId: 's-1', reason: 'late end' }, metadata: { at: at(301) } },
];

describe('rollcall append + replay + audit on the embedded store', () => {
  it('appends, replays the SPEC §3 JSON, audits the agent, and re-running append doubles nothing', async () => {
    const store = `sqlite:${join(tempDir(), 'r.db')}`;
    const file = ndjsonFile(seed000);
    const a = await cli(['append', '--store', store, file]);
    expect(a).toMatchObject({ code: 0, stdout: `appended 5 event(s) to ${store}, positions 1–5\n` });
    const again = await cli(['append', '--store', store, file]);
    expect(again.stdout).toBe(`appended 0 event(s) to ${store}; 5 already stored (same id), skipped\n`);

    const view = JSON.parse((await cli(['replay', '--store', store, '--json'])).stdout);
    expect(view.position).toBe('5');
    expect(view.pools['el-rmw5'].status).toEqual({ activeCount: 0, availableSlots: 1, overCapacityBy: 0, activeByType: {}, activeAgentIds: [] });
    expect(view.agents['el-5d6n']).toMatchObject({ status: 'idle', lastExitReason: 'Process no longer alive (PID check)', currentSessionId: null });
    expect(view.anomalies).toEqual({ count: 1, byReason: { 'invalid-transition': 1 }, recent: [{ position: '5', eventId: expect.any(String), type: 'SessionEnded', reason: 'invalid-transition' }] });

    const audit = JSON.parse((await cli(['audit', 'el-5d6n', '--store', store, '--json'])).stdout);
    expect(audit.entries.map((e: { type: string; anomaly: string | null }) => [e.type, e.anomaly])).toEqual([
      ['AgentRegistered', null],
      ['AgentSpawned', null],
      ['AgentCrashed', null],
      ['SessionEnded', 'invalid-transition'],
    ]);
    expect(audit.entries[2].changes).toContain('s-1.state: running → terminated');
    expect(audit.explanation[0]).toMatch(/^not counted: idle/);

    const text = (await cli(['audit', 'el-5d6n', '--store', store])).stdout;
    expect(text).toContain('    ignored: invalid-transition');
    expect((await cli(['check', '--store', store])).code).toBe(0);
  });

  it('an invalid line anywhere means nothing is appended, and the line is named', async () => {
    const store = `sqlite:${join(tempDir(), 'r.db')}`;
    const bad = ndjsonFile([...seed000.slice(0, 3), { type: 'AgentSpawned', data: { agentId: 'x' }, metadata: { at: at(9) } }, ...seed000.slice(3)]);
    const r = await cli(['append', '--store', store, bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('rollcall: line 4: data.sessionId: Invalid input: expected string, received undefined\n');
    // Not even an empty store was created: the input was refused before the store was opened.
    const replay = await cli(['replay', '--store', store, '--json']);
    expect(replay.code).toBe(3);
    expect(replay.stderr).toMatch(/^rollcall: no store at sqlite:.*r\.db: .* does not exist/);
  });

  it('audit explains why an agent is still counted', async () => {
    const file = ndjsonFile(seed000.slice(0, 3));
    const audit = JSON.parse((await cli(['audit', 'el-5d6n', '--input', file, '--json'])).stdout);
    expect(audit.explanation[0]).toBe('counted as running because session s-1 is running, pid 4242');
    expect(audit.explanation[1]).toBe('it holds a slot in pool el-rmw5 (1/1 used)');
  });

  it('--until and --as-of cut the log where SPEC §5 says', async () => {
    const file = ndjsonFile(seed000);
    const until3 = JSON.parse((await cli(['replay', '--input', file, '--until', '3', '--json'])).stdout);
    expect(until3.position).toBe('3');
    expect(until3.running).toEqual(['el-5d6n']);
    // Up to, not including, the first event later than T: an event exactly at T is included.
    const asOf = JSON.parse((await cli(['replay', '--input', file, '--as-of', at(300), '--json'])).stdout);
    expect(asOf.position).toBe('4');
    const before = JSON.parse((await cli(['replay', '--input', file, '--as-of', at(299), '--json'])).stdout);
    expect(before.position).toBe('3');
  });

  it('check exits 0 on a generated history with every kind of mess in it', async () => {
    const gen = await cli(['generate', '--agents', '50', '--events', '5000', '--seed', '3']);
    const file = ndjsonFile(gen.stdout.trim().split('\n'));
    const r = await cli(['check', '--input', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: 5000 events, every invariant holds on every prefix \(\d+ anomalies/);
  });

  it('generate is deterministic: same seed, same bytes; another seed, another history', async () => {
    const a = await cli(['generate', '--agents', '20', '--events', '500', '--seed', '9']);
    const b = await cli(['generate', '--agents', '20', '--events', '500', '--seed', '9']);
    const c = await cli(['generate', '--agents', '20', '--events', '500', '--seed', '10']);
    expect(a.stdout.split('\n').filter(Boolean)).toHaveLength(500);
    expect(b.stdout).toBe(a.stdout);
    expect(c.stdout).not.toBe(a.stdout);
  });

  it('--seed-end dates the seeded fleet: the same summary, times included, from run to run', async () => {
    const run = () => cli(['demo', '--store', 'memory:', '--agents', '30', '--events', '2000', '--seed-end', '2031-05-06T07:08:09Z']);
    const [a, b] = [await run(), await run()];
    expect(a.code).toBe(0);
    expect(a.stderr).toContain('seed 1, ending at 2031-05-06T07:08:09.000Z)…');
    expect(a.stderr).toContain('the last at 2031-05-06T07:08:09.000Z');
    expect(a.stdout).toContain('2031-05-06T');
    expect(b.stdout).toBe(a.stdout);
  });

  it.each([
    [['demo', '--seed-end', 'yesterday'], 'rollcall: --seed-end must be an ISO-8601 time with a zone (e.g. 2026-11-20T10:00:00Z), got "yesterday"'],
    [['serve', '--seed-end', '2031-05-06T07:08:09Z'], 'rollcall: --seed-end goes with --seed'],
    [['serve', '--seed', '--seed-end', '2031-05-06T07:08:09'], 'rollcall: --seed-end must be an ISO-8601 time with a zone (e.g. 2026-11-20T10:00:00Z), got "2031-05-06T07:08:09"'],
  ])('%j is a usage error (exit 2)', async (args, line) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(line);
  });

  it('demo seeds an empty store once, then replays it (npm start)', async () => {
    const store = `sqlite:${join(tempDir(), 'demo.db')}`;
    const first = await cli(['demo', '--store', store, '--agents', '30', '--events', '2000']);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('is empty: appending a generated fleet history');
    expect(first.stdout).toMatch(/^rollcall · position \d+ · \d+ pools/);
    const second = await cli(['demo', '--store', store]);
    expect(second.stderr).not.toContain('is empty');
    expect(second.stdout.split('\n')[0]).toBe(first.stdout.split('\n')[0]);
  });
});
