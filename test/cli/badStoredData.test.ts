import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { cli, ndjsonFile, tempDir } from '../support/cli.js';

const at = (s: number) => new Date(Date.UTC(2026, 10, 20, 10, 0, s)).toISOString();

/** A store whose log already holds an event from a newer rollcall (unknown type) and a damaged row. */
const storeWithBadRows = async () => {
  const path = join(tempDir(), 'bad.db');
  const store = `sqlite:${path}`;
  const file = ndjsonFile([
    { type: 'AgentRegistered', data: { agentId: 'a1', role: 'worker' }, metadata: { at: at(0) } },
    { type: 'AgentSpawned', data: { agentId: 'a1', sessionId: 's1', pid: 9 }, metadata: { at: at(1) } },
  ]);
  expect((await cli(['append', '--store', store, file])).code).toBe(0);
  const db = new Database(path);
  const insert = db.prepare('INSERT INTO events (position, stream, revision, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)');
  insert.run(3, 'agent-a1', 2, '00000000-0000-4000-8000-000000000003', 'AgentTeleported', '{"agentId":"a1"}', JSON.stringify({ at: at(2) }));
  insert.run(4, 'agent-a1', 3, '00000000-0000-4000-8000-000000000004', 'AgentHeartbeat', '{"agentId":', JSON.stringify({ at: at(3) }));
  db.close();
  const tail = ndjsonFile([{ type: 'SessionEnded', data: { agentId: 'a1', sessionId: 's1', reason: 'done' }, metadata: { at: at(4) } }]);
  expect((await cli(['append', '--store', store, tail])).code).toBe(0);
  return store;
};

describe('bad data already in a store', () => {
  it('stops the replay with a clear error naming the position (never crashes, never skips silently)', async () => {
    const store = await storeWithBadRows();
    const r = await cli(['replay', '--store', store, '--no-snapshot']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('rollcall: position 3: type: unknown event type "AgentTeleported"');
    expect(r.stdout).toBe('');
  });

  it('with --skip-invalid, records each bad event as an anomaly and goes on', async () => {
    const store = await storeWithBadRows();
    const r = await cli(['replay', '--store', store, '--skip-invalid', '--json', '--no-snapshot']);
    expect(r.code).toBe(0);
    const view = JSON.parse(r.stdout);
    expect(view.position).toBe('5');
    expect(view.sessions['s1'].state).toBe('terminated');
    expect(view.anomalies.byReason).toEqual({ 'invalid-event': 2 });
    expect(view.anomalies.recent.map((a: { position: string; type: string }) => [a.position, a.type])).toEqual([
      ['3', 'AgentTeleported'],
      ['4', 'AgentHeartbeat'],
    ]);
    expect((await cli(['check', '--store', store])).code).toBe(2);
    expect((await cli(['check', '--store', store, '--skip-invalid'])).code).toBe(0);
  });
});
