import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { replayStore } from '../../src/replay/replayLog.js';
import { openStore } from '../../src/stores/openStore.js';
import { ladderShape, missingCells } from '../../src/stores/snapshotLadder.js';
import { tempDir } from '../support/cli.js';
import { waitFor } from '../support/waitFor.js';
import { canonical, fleet } from './harness.js';
import { spawnServe, type ServeProcess } from './serveProcess.js';

// Issue 19.3: a store appended while no server followed it (the CLI's `append`) has no rung in the
// middle of its log, so `?until` there was a fold of half the log. A server following it fills the
// ladder's empty cells in the background, and time travel starts from the nearest rung, on a worker.
vi.setConfig({ testTimeout: 240_000, hookTimeout: 60_000 });

const EVENTS = 45_000;
let server: ServeProcess | undefined;
afterAll(async () => {
  await server?.stop();
});

describe('time travel on a store appended without a server', () => {
  it('serve fills the ladder in the background (no cell left without a rung, within the bounds); ?until in the middle equals a full replay there, /healthz answering meanwhile', async () => {
    const path = join(tempDir(), 'appended.db');
    const url = `sqlite:${path}`;
    const store = await openStore(url);
    await store.appendBatch(fleet(300, EVENTS, 5));
    const head = (await store.head())!;
    expect((await store.snapshots!.rungs!('lifecycle')).length).toBe(0);
    await store.close();

    server = spawnServe(['--store', url, '--log-level', 'warn']);
    const base = await server.url;
    await waitFor('ready', async () => (await fetch(`${base}/readyz`)).status === 200, { timeoutMs: 120_000, intervalMs: 50 });

    // Read from another connection, as an operator would: the ladder fills without any request.
    const reader = await openStore(url, { create: false });
    try {
      const rungs = async () => (await reader.snapshots!.rungs!('lifecycle')).map((r) => r.position);
      const filled = await waitFor(
        'the ladder filled',
        async () => {
          const positions = await rungs();
          const newest = positions[positions.length - 1];
          if (newest === undefined) return null;
          const bytes = (await reader.snapshots!.loadAt!('lifecycle', newest))!.payload.length;
          return missingCells(positions, newest, bytes).length === 0 && positions.length > 2 ? { positions, bytes } : null;
        },
        { timeoutMs: 180_000, intervalMs: 200, describe: () => 'rungs' },
      );
      const { cap, most } = ladderShape(head, filled.bytes);
      expect(filled.positions.length).toBeLessThanOrEqual(most);
      const middle = head / 2n + 7n;
      const below = filled.positions.filter((p) => p <= middle).pop()!;
      expect(middle - below).toBeLessThan(BigInt(cap));

      let probes = 0;
      let maxHealthMs = 0;
      let travelling = true;
      const probing = (async () => {
        while (travelling) {
          const started = performance.now();
          const res = await fetch(`${base}/healthz`);
          await res.text();
          expect(res.status).toBe(200);
          maxHealthMs = Math.max(maxHealthMs, performance.now() - started);
          probes++;
        }
      })();
      const travels = await Promise.all(
        [middle, middle, head / 3n, head - 1n].map(async (until) => {
          const res = await fetch(`${base}/v1/projection?until=${until}`);
          expect(res.status).toBe(200);
          expect(res.headers.get('content-type')).toMatch(/^application\/json/);
          return { until, text: await res.text() };
        }),
      );
      travelling = false;
      await probing;

      const projection = createLifecycleProjection();
      for (const { until, text } of travels) {
        const { state } = await replayStore(reader, projection, { until, noSnapshot: true });
        expect(canonical(text)).toBe(JSON.stringify(JSON.parse(canonical(JSON.stringify(projection.view(state))))));
      }
      // A hang-catcher, not a latency figure (the bench measures it): the loop never waited on a fold.
      expect(probes).toBeGreaterThan(0);
      expect(maxHealthMs).toBeLessThan(1_000);
    } finally {
      await reader.close();
    }
  });
});
