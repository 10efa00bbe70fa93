import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openStore } from '../../src/stores/openStore.js';
import { cli, tempDir } from '../support/cli.js';
import { testId } from '../support/lifecycle.js';

// Issue 20's "done means", end to end through the CLI: a user appends an NDJSON history in which
// a daemon restarts with one survivor, one leased session lapses (on a quiet log: the reconciler
// ends it), one agent crashes three times in five minutes (quarantine) and one agent goes quiet
// (the reconciler suspects it). `replay --json` and `explain` show the right state and say why,
// identically after a replay from scratch: with and without snapshot, from the exported NDJSON,
// and from a fresh store the export was appended to.

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

// Times are seconds after `base`, ten minutes before the test starts: the history ends 15 s before
// now, the lease (renewed last at 470 for 120 s) lapses 10 s before now, the survivor's last heartbeat is 15 s old, the quiet
// agent's last sign of life nearly ten minutes old.
const base = Date.now() - 600_000;
const t = (s: number) => new Date(base + s * 1000).toISOString();
let n = 0;
const line = (s: number, type: string, data: Record<string, unknown>) => ({ id: testId(990_000 + ++n), type, data, metadata: { at: t(s), source: 'story' } });

const lines = [
  line(0, 'PoolCreated', { poolId: 'p1', name: 'workers', maxSize: 4 }),
  ...['survivor', 'victim', 'leased', 'looper', 'quiet'].map((agentId) => line(0, 'AgentRegistered', { agentId, role: 'worker' })),
  line(1, 'OrchestratorStarted', { host: 'h1', epoch: 1 }),
  line(10, 'AgentSpawned', { agentId: 'survivor', sessionId: 's-survivor', poolId: 'p1', pid: 4101, host: 'h1', epoch: 1 }),
  line(11, 'AgentSpawned', { agentId: 'victim', sessionId: 's-victim', poolId: 'p1', pid: 4102, host: 'h1', epoch: 1 }),
  line(12, 'AgentSpawned', { agentId: 'leased', sessionId: 's-leased', poolId: 'p1', leaseMs: 120_000 }),
  line(15, 'AgentSpawned', { agentId: 'quiet', sessionId: 's-quiet', poolId: 'p1' }),
  // Three crashes within five minutes.
  line(20, 'AgentSpawned', { agentId: 'looper', sessionId: 's-loop-1', poolId: 'p1', pid: 5001 }),
  line(30, 'AgentCrashed', { agentId: 'looper', reason: 'exit 1', pid: 5001 }),
  line(100, 'AgentSpawned', { agentId: 'looper', sessionId: 's-loop-2', poolId: 'p1', pid: 5002 }),
  line(110, 'AgentCrashed', { agentId: 'looper', reason: 'exit 1', pid: 5002 }),
  line(200, 'AgentSpawned', { agentId: 'looper', sessionId: 's-loop-3', poolId: 'p1', pid: 5003 }),
  line(210, 'AgentCrashed', { agentId: 'looper', reason: 'exit 1', pid: 5003 }),
  // The daemon on h1 restarts; only the survivor's process is still there.
  line(300, 'OrchestratorStarted', { host: 'h1', epoch: 2, adopted: [{ agentId: 'survivor', sessionId: 's-survivor', pid: 4101 }] }),
  // The leased agent heartbeats (its last renews the lease to 590), then falls silent; the survivor heartbeats last.
  ...[100.5, 200.5, 300.5, 400.5, 470].map((s) => line(s, 'AgentHeartbeat', { agentId: 'leased' })),
  line(585, 'AgentHeartbeat', { agentId: 'survivor' }),
];
// In time order, as a log is written: the fold's clock is the newest `at` it has seen.
const history = [...lines].sort((a, b) => Date.parse(a.metadata.at) - Date.parse(b.metadata.at));
const positionOf = (pred: (e: (typeof history)[number]) => boolean) => history.filter((e) => e.type === 'AgentCrashed' && pred(e)).map((e) => String(history.indexOf(e) + 1));

let dir: string;
let storeUrl: string;
const json = async (args: string[]) => {
  const { code, stdout, stderr } = await cli(args);
  expect(stderr, args.join(' ')).toBe('');
  expect(code, args.join(' ')).toBe(0);
  return JSON.parse(stdout) as any;
};

let reconciled = '';

beforeAll(async () => {
  dir = tempDir();
  storeUrl = `sqlite:${join(dir, 'story.db')}`;
  const file = join(dir, 'history.ndjson');
  writeFileSync(file, history.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const appended = await cli(['append', '--store', storeUrl, file]);
  expect(appended.code, appended.stderr).toBe(0);
  // The log is quiet now: the reconciler (on a machine that is not h1) watches the wall clock.
  // Suspicion after 5 min of silence: the quiet agent's ~10 min qualify, the survivor's 15 s would
  // need the machine to stall for minutes.
  const pass = await cli(['reconcile', '--store', storeUrl, '--host', 'elsewhere', '--suspect-after-s', '300']);
  expect(pass.code, pass.stderr).toBe(0);
  reconciled = pass.stdout;
});

afterAll(() => {
  // The temp dir goes with the machine's tmp cleaning; nothing is held open.
});

describe('the liveness story (issue 20, done means)', () => {
  it('the reconciler ended the lapsed lease and suspected the quiet agent, and nothing else', () => {
    expect(reconciled).toContain('lease-expired      agent=leased session=s-leased reason="lease_expired" (SessionEnded)\n');
    expect(reconciled).toContain('suspect            agent=quiet session=s-quiet reason="no_sign_of_life" (AgentSuspected)\n');
    expect(reconciled).toMatch(/: 2 corrections appended \(lease-expired 1, suspect 1\), 0 already stored, 0 conflicts\n$/);
  });

  it('replay --json shows the restart, the lapse, the quarantine and the suspect', async () => {
    const view = await json(['replay', '--store', storeUrl, '--json']);
    expect(view.position).toBe(String(history.length + 2));
    expect(view.hosts).toEqual({ h1: { host: 'h1', epoch: 2, startedAt: t(300), liveSessions: 1 } });
    expect(view.sessions['s-survivor']).toMatchObject({ state: 'running', epoch: 2, pid: 4101 });
    expect(view.sessions['s-victim']).toMatchObject({ state: 'terminated', terminationReason: 'orchestrator_restarted', endedAt: t(300) });
    expect(view.sessions['s-leased']).toMatchObject({ state: 'terminated', terminationReason: 'lease_expired', endedAt: t(590) });
    expect(view.quarantined).toEqual(['looper']);
    expect(view.agents['looper'].quarantine).toEqual({ since: t(210), reason: '3 abnormal ends within 600 s', ends: positionOf(() => true) });
    expect(view.agents['looper'].quarantine.ends).toHaveLength(3);
    expect(view.agents['quiet'].suspect).toEqual({ since: expect.any(String), reason: 'no_sign_of_life' });
    expect(view.agents['survivor'].suspect).toBeNull();
    expect(view.pools['p1'].status).toMatchObject({ activeCount: 2, activeAgentIds: ['quiet', 'survivor'], availableSlots: 2 });
    expect(view.anomalies.count).toBe(0);
  });

  it('explain pool says who holds the slots and why (text and JSON)', async () => {
    const answer = await json(['explain', 'pool', 'p1', '--store', storeUrl, '--json']);
    expect(answer).toMatchObject({ used: 2, max: 4 });
    const byAgent = Object.fromEntries(answer.holders.map((h: any) => [h.agentId, h]));
    expect(Object.keys(byAgent).sort()).toEqual(['quiet', 'survivor']);
    expect(byAgent.quiet).toMatchObject({ suspect: { reason: 'no_sign_of_life' }, lastSeenAt: t(15), releasedBy: [{ rule: 'own-end', detail: 'healthy: only its own end frees it' }] });
    expect(byAgent.survivor).toMatchObject({ host: 'h1', epoch: 2, pid: 4101, since: { type: 'AgentSpawned', at: t(10) } });
    expect(byAgent.survivor.releasedBy.map((r: any) => r.rule)).toEqual(['pid-check', 'orchestrator-restart']);

    const text = await cli(['explain', 'pool', 'p1', '--store', storeUrl]);
    expect(text.stdout).toMatch(/^pool p1: 2\/4 slots used/);
    expect(text.stdout).toContain('SUSPECT since');
    expect(text.stdout).toContain('pid 4101 on h1');

    const looper = await json(['explain', 'agent', 'looper', '--store', storeUrl, '--json']);
    expect(looper).toMatchObject({ counted: false, holder: null });
    expect(looper.explanation.join('\n')).toContain(`quarantined since ${t(210)}: 3 abnormal ends within 600 s (ends at positions ${positionOf(() => true).join(', ')})`);
    const leased = await json(['explain', 'agent', 'leased', '--store', storeUrl, '--json']);
    expect(leased.explanation.join('\n')).toContain('lease_expired');
  });

  it('as of before the restart, the victim still held its slot (the answer differs from now)', async () => {
    const then = await json(['explain', 'pool', 'p1', '--store', storeUrl, '--json', '--as-of', t(299)]);
    expect(then.holders.map((h: any) => h.agentId).sort()).toEqual(['leased', 'quiet', 'survivor', 'victim']);
  });

  it('is identical after a replay from scratch: without snapshot, from the exported NDJSON, and from a fresh store', async () => {
    const withSnapshot = await json(['replay', '--store', storeUrl, '--json']);
    const again = await json(['replay', '--store', storeUrl, '--json']);
    const noSnapshot = await json(['replay', '--store', storeUrl, '--json', '--no-snapshot']);
    expect(again).toEqual(withSnapshot);
    expect(noSnapshot).toEqual(withSnapshot);

    // Export the log as NDJSON (what a producer wrote: id, type, data, metadata).
    const store = await openStore(storeUrl);
    const exported: string[] = [];
    try {
      for await (const e of store.readAll()) exported.push(JSON.stringify({ id: e.id, type: e.type, data: e.data, metadata: e.metadata }));
    } finally {
      await store.close();
    }
    expect(exported).toHaveLength(history.length + 2);
    const file = join(dir, 'export.ndjson');
    writeFileSync(file, exported.join('\n') + '\n');
    expect(await json(['replay', '--input', file, '--json'])).toEqual(withSnapshot);

    const fresh = `sqlite:${join(dir, 'fresh.db')}`;
    expect((await cli(['append', '--store', fresh, file])).code).toBe(0);
    expect(await json(['replay', '--store', fresh, '--json', '--no-snapshot'])).toEqual(withSnapshot);
    expect(await json(['replay', '--store', fresh, '--json'])).toEqual(withSnapshot);
    for (const [kind, id] of [['pool', 'p1'], ['agent', 'looper'], ['agent', 'quiet']] as const) {
      const here = await json(['explain', kind, id, '--store', storeUrl, '--json']);
      expect(await json(['explain', kind, id, '--store', fresh, '--json'])).toEqual(here);
      expect(await json(['explain', kind, id, '--input', file, '--json'])).toEqual(here);
    }
    // A second reconciler on the same log finds nothing more to do.
    expect((await cli(['reconcile', '--store', fresh, '--host', 'elsewhere', '--suspect-after-s', '300'])).stdout).toMatch(/: 0 corrections appended/);
  });
});
