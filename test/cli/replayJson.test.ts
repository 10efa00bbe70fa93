import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateNdjson } from '../../src/generate/generateHistory.js';
import { lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { replayStore } from '../../src/replay/replayLog.js';
import { openStore } from '../../src/stores/openStore.js';
import { cli, tempDir } from '../support/cli.js';

// `replay --json` prints the view in pieces (projections/viewText.ts): what it prints must stay
// exactly JSON.stringify(view, null, 2) and a newline, from a snapshot or in full, cut short or not.
const expected = async (url: string, options: { until?: bigint; asOf?: string } = {}): Promise<string> => {
  const store = await openStore(url, { create: false });
  try {
    const { state } = await replayStore(store, lifecycleProjection, { ...options, noSnapshot: true, snapshotEvery: Infinity });
    return `${JSON.stringify(lifecycleView(state), null, 2)}\n`;
  } finally {
    await store.close();
  }
};

describe('replay --json prints the view byte for byte', () => {
  it('restarting from the snapshot at the head, in full, with --until and with --as-of', async () => {
    const dir = tempDir();
    const file = join(dir, 'fleet.ndjson');
    writeFileSync(file, [...generateNdjson({ agents: 60, events: 6000, seed: 'replay-json' })].join('\n') + '\n');
    const url = `sqlite:${join(dir, 'r.db')}`;
    expect((await cli(['append', '--store', url, file])).code).toBe(0);

    const full = await expected(url);
    expect(Object.keys(JSON.parse(full).sessions).length).toBeGreaterThan(256);
    // In full without a snapshot; in full again, saving one at the head; then from it.
    expect(await cli(['replay', '--store', url, '--json', '--no-snapshot'])).toEqual({ code: 0, stdout: full, stderr: '' });
    expect(await cli(['replay', '--store', url, '--json'])).toEqual({ code: 0, stdout: full, stderr: '' });
    const store = await openStore(url, { create: false });
    const snapshot = await store.snapshots!.load(lifecycleProjection.name);
    await store.close();
    expect(snapshot?.position.toString()).toBe(JSON.parse(full).position);
    expect(await cli(['replay', '--store', url, '--json'])).toEqual({ code: 0, stdout: full, stderr: '' });

    const until = await expected(url, { until: 2500n });
    expect(JSON.parse(until).position).toBe('2500');
    expect((await cli(['replay', '--store', url, '--json', '--until', '2500'])).stdout).toBe(until);
    const asOf = JSON.parse(until).sessions[Object.keys(JSON.parse(until).sessions)[0]!].startedAt as string;
    const cut = await expected(url, { asOf });
    expect(cut).not.toBe(full);
    expect((await cli(['replay', '--store', url, '--json', '--as-of', asOf])).stdout).toBe(cut);
  });
});
