import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cli, ndjsonFile, tempDir } from '../support/cli.js';
import { heartbeats } from '../support/events.js';
import { startServe } from '../support/serveProcess.js';

// A 201 means durable: `rollcall serve` killed with SIGKILL at a random moment of a storm of
// concurrent POSTs (group commit on), then the file read back. Every event of every request that
// got a 201 is there, at the positions the answer named; every request, whatever happened to it
// (answered, refused, or cut off by the kill), is all in the store or not at all.

interface Sent {
  ids: string[];
  status: number | 'cut';
  first?: string;
  last?: string;
}

const storm = fc.record({
  writers: fc.integer({ min: 2, max: 24 }),
  perRequest: fc.integer({ min: 1, max: 4 }),
  killAfter: fc.integer({ min: 1, max: 80 }),
});

describe('kill -9 of serve during a storm of concurrent POSTs', () => {
  it('every 201 is in the store at its positions, and no request is half in it', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(storm, async ({ writers, perRequest, killAfter }) => {
        const dir = tempDir();
        const path = join(dir, 'live.db');
        expect((await cli(['append', '--store', `sqlite:${path}`, ndjsonFile(heartbeats(3), dir)])).code).toBe(0);
        const serve = await startServe(`sqlite:${path}`);
        const sent: Sent[] = [];
        let acknowledged = 0;
        const kill: { exited: Promise<number | null> | null } = { exited: null };
        const writer = async (w: number) => {
          while (kill.exited === null) {
            const ids = Array.from({ length: perRequest }, () => randomUUID());
            const body = ids.map((id) => ({ id, type: 'AgentHeartbeat', data: { agentId: `w${w}` }, metadata: { at: '2026-11-20T10:00:00.000Z' } }));
            const record: Sent = { ids, status: 'cut' };
            sent.push(record);
            try {
              const res = await fetch(`${serve.url}v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
              const answer = (await res.json()) as { first?: string; last?: string };
              record.status = res.status;
              if (res.status === 201) {
                record.first = answer.first!;
                record.last = answer.last!;
                if (++acknowledged === killAfter) kill.exited = serve.kill('SIGKILL');
              }
            } catch {
              // Cut off by the kill: its outcome is unknown, but it must still be all or nothing.
              return;
            }
          }
        };
        await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
        expect(await kill.exited).toBe(null);

        const db = new Database(path, { fileMustExist: true });
        try {
          expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
          const positions = new Map((db.prepare('SELECT id, position FROM events').raw(true).all() as [string, number][]).map(([id, p]) => [id, p]));
          for (const r of sent) {
            const stored = r.ids.filter((id) => positions.has(id));
            expect([0, r.ids.length], `a request is all in the store or not at all (${r.status})`).toContain(stored.length);
            if (r.status === 201) {
              expect(stored.length).toBe(r.ids.length);
              expect(r.ids.map((id) => String(positions.get(id)))).toEqual(r.ids.map((_, i) => String(Number(r.first) + i)));
              expect(String(positions.get(r.ids[r.ids.length - 1]!))).toBe(r.last);
            } else if (r.status !== 'cut') {
              expect(stored, `a refused request (${r.status}) left nothing`).toEqual([]);
            }
          }
          expect(sent.filter((r) => r.status === 201).length).toBeGreaterThanOrEqual(killAfter);
        } finally {
          db.close();
        }
      }),
      { numRuns: 6 },
    );
  });
});
