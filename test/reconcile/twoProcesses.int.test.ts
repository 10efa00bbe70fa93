import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { openStore } from '../../src/stores/openStore.js';
import { tempDir } from '../support/cli.js';
import { testId } from '../support/lifecycle.js';
import { correctionCounts } from './stores.js';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

describe('reconcilers in separate processes on one SQLite file', () => {
  it('three `rollcall reconcile --once` at the same time store each correction once', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const url = `sqlite:${join(dir, 'log.db')}`;
    const deadPids: number[] = [];
    for (let i = 0; i < 2; i++) {
      const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
      await once(child, 'exit');
      deadPids.push(child.pid!);
    }
    const ago = new Date(Date.now() - 60_000).toISOString();
    const events = deadPids.flatMap((pid, i) => [
      { type: 'AgentRegistered', data: { agentId: `a${i}`, role: 'worker' } },
      { type: 'AgentSpawned', data: { agentId: `a${i}`, sessionId: `s${i}`, pid } },
    ]).map((e, i) => ({ id: testId(700_000 + i), ...e, metadata: { at: ago } }) as LifecycleEvent);
    const store = await openStore(url);
    try {
      await store.appendBatch(events);
      const outputs = await Promise.all(
        [0, 1, 2].map(() => run(process.execPath, ['--import', 'tsx', main, 'reconcile', '--store', url, '--once'])),
      );
      const appended = outputs.reduce((n, o) => n + Number(/: (\d+) corrections? appended/.exec(o.stdout)?.[1] ?? NaN), 0);
      expect(appended).toBe(2);
      expect(await correctionCounts(store)).toEqual({ [`AgentCrashed a0 ${deadPids[0]}`]: 1, [`AgentCrashed a1 ${deadPids[1]}`]: 1 });
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
