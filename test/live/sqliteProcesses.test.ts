import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openRollcall } from '../../src/live/openRollcall.js';
import type { Change } from '../../src/live/types.js';
import { lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { replayStore } from '../../src/replay/replayLog.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import { tempDir } from '../support/cli.js';
import { waitFor } from '../support/waitFor.js';

/*
 * Two other processes append to one SQLite file at once (the store tests' concurrent-append
 * fixture: small appends a millisecond apart, to shared and own streams) while this process
 * follows it: every subscriber, whatever its `from`, sees every position once, in order, and the
 * live view ends equal to a full replay.
 */

const fixture = fileURLToPath(new URL('../stores/fixtures/concurrentAppend.ts', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const writer = (path: string, name: string, rounds: number) => {
  const proc = spawn(process.execPath, ['--import', 'tsx', fixture, path, name, String(rounds)], { cwd: root });
  const lines = createInterface({ input: proc.stdout });
  const ready = new Promise<void>((resolve) => lines.on('line', (l) => l === 'ready' && resolve()));
  const done = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { go: () => proc.stdin.write('go\n'), ready, done };
};

describe('following a SQLite file that other processes append to', () => {
  it('every subscriber sees every position once, in order; the view equals a full replay', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'log.db');
    const store = openSqliteStore({ path });
    const live = openRollcall({ store, bufferSize: 100 });
    await live.whenCaughtUp();
    const subs: Array<{ from: bigint | null; changes: Change[] }> = [];
    const join_ = (from: bigint | null) => {
      const s = { from, changes: [] as Change[] };
      live.subscribe((c) => s.changes.push(c), { from });
      subs.push(s);
    };
    join_(null);
    const writers = [writer(path, 'w1', 150), writer(path, 'w2', 150)];
    await Promise.all(writers.map((w) => w.ready));
    for (const w of writers) w.go();
    // Join while the others write: now, recently (the ring) and long ago (a private fold).
    let writing = true;
    const joining = (async () => {
      let last = live.position() ?? 0n;
      for (let k = 0; k < 6; k++) {
        // Each join once the follower has moved on by a few appends (or the writers are done).
        await waitFor('the follower to move on', () => !writing || (live.position() ?? 0n) >= last + 100n);
        const p = live.position() ?? 0n;
        last = p;
        join_([p, p > 3n ? p - 3n : 0n, 0n][k % 3]!);
      }
    })();
    const codes = await Promise.all(writers.map((w) => w.done));
    writing = false;
    expect(codes).toEqual([0, 0]);
    await joining;
    const head = (await store.head())!;
    expect(head).toBe(2n * 150n * 5n);
    await live.whenProcessed(head, { timeoutMs: 30_000 });
    // Subscribers that fold privately from the store deliver on their own time: wait for the head.
    await waitFor('every subscriber to deliver the head', () => subs.every((s) => (s.changes[s.changes.length - 1]?.position ?? s.from ?? 0n) >= head), {
      describe: () => subs.map((s) => s.changes[s.changes.length - 1]?.position),
    });
    for (const s of subs) {
      const positions = s.changes.map((c) => c.position);
      const first = s.from === null ? positions[0]! : s.from + 1n;
      expect(positions).toEqual(Array.from({ length: Number(head - first + 1n) }, (_, i) => first + BigInt(i)));
    }
    expect(live.view()).toEqual(lifecycleView((await replayStore(store, lifecycleProjection, { noSnapshot: true })).state));
    await live.close();
    await store.close();
  });
});
