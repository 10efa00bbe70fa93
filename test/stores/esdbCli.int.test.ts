import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { cli, ndjsonFile } from '../support/cli.js';
import { startFakeEsdb, type FakeEsdb } from '../support/esdbServer.js';

/*
 * The command line against an esdb:// store: openStore's lazy import of the adapter, appends,
 * replay with snapshots, and the exit code of an unreachable server. Fake server only.
 */

const realUrl = process.env['ROLLCALL_TEST_ESDB_URL'];
const onFakeOnly = realUrl ? it.skip : it;

let server: FakeEsdb | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

const at = (s: number) => new Date(Date.UTC(2026, 10, 20, 10, 0, s)).toISOString();
const line = (type: string, data: object, s: number) => ({ id: randomUUID(), type, data, metadata: { at: at(s) } });

onFakeOnly('append then replay --json through esdb://, twice, with nothing doubled', async () => {
  server = await startFakeEsdb();
  const file = ndjsonFile([
    line('PoolCreated', { poolId: 'p1', name: 'test', maxSize: 1 }, 0),
    line('AgentRegistered', { agentId: 'a1', role: 'worker' }, 1),
    line('AgentSpawned', { agentId: 'a1', sessionId: 's1', poolId: 'p1', pid: 4242 }, 2),
  ]);
  const first = await cli(['append', '--store', server.url, file]);
  expect(first.stderr).toBe('');
  expect(first.code).toBe(0);
  // The same file again: ids already stored, nothing written.
  expect((await cli(['append', '--store', server.url, file])).code).toBe(0);
  expect(server.records().filter((r) => /^(agent|pool)-/.test(r.stream))).toHaveLength(3);

  for (let i = 0; i < 2; i++) {
    const replay = await cli(['replay', '--store', server.url, '--json']);
    expect(replay.stderr).toBe('');
    expect(replay.code).toBe(0);
    const view = JSON.parse(replay.stdout) as { position: string; running: string[]; pools: Record<string, { status: { activeCount: number } }> };
    expect(view.running).toEqual(['a1']);
    expect(view.pools['p1']!.status.activeCount).toBe(1);
    const last = server.records().filter((r) => r.stream === 'agent-a1').at(-1)!;
    expect(view.position).toBe(last.position.toString());
  }
});

onFakeOnly('replay --store esdb:// saves a snapshot and then replays snapshot + tail to the same view as a full replay', async () => {
  server = await startFakeEsdb();
  const generated = await cli(['generate', '--agents', '4', '--events', '1500', '--seed', '7']);
  expect(generated.code).toBe(0);
  const lines = generated.stdout.trim().split('\n');
  expect((await cli(['append', '--store', server.url, ndjsonFile(lines.slice(0, 1200))])).code).toBe(0);
  const first = await cli(['replay', '--store', server.url, '--json']);
  expect(first.code).toBe(0);
  const snapshots = server.records().filter((r) => r.stream.startsWith('rollcall-snapshots-'));
  expect(snapshots).toHaveLength(1);
  expect((await cli(['append', '--store', server.url, ndjsonFile(lines.slice(1200))])).code).toBe(0);
  const readsBefore = server.calls.read;
  const fromSnapshot = await cli(['replay', '--store', server.url, '--json']);
  // Used, not ignored: only the 300-event tail was folded, too few for replay to save a new snapshot.
  expect(server.records().filter((r) => r.stream.startsWith('rollcall-snapshots-'))).toHaveLength(1);
  const full = await cli(['replay', '--store', server.url, '--json', '--no-snapshot']);
  expect(fromSnapshot.code).toBe(0);
  expect(full.code).toBe(0);
  expect(JSON.parse(fromSnapshot.stdout)).toEqual(JSON.parse(full.stdout));
  expect(JSON.parse(full.stdout)).not.toEqual(JSON.parse(first.stdout));
  expect(server.calls.read).toBeGreaterThan(readsBefore);
}, 60_000); // six CLI processes: seconds each on a loaded machine

it('an unreachable esdb:// store exits 3 with one clear line', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const result = await cli(['replay', '--store', `esdb://127.0.0.1:${port}?tls=false`]);
  expect(result.code).toBe(3);
  expect(result.stdout).toBe('');
  expect(result.stderr).toContain(`EventStoreDB at esdb://127.0.0.1:${port}?tls=false is unavailable`);
  expect(result.stderr).not.toMatch(/\n\s+at /);
});
