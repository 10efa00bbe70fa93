import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import { tempDir } from '../support/cli.js';
import { heartbeats } from '../support/events.js';
import { getInFlight } from '../support/inFlight.js';
import { spawnServe } from './serveProcess.js';

describe('rollcall serve as a process', () => {
  it('SIGTERM finishes in-flight requests, closes SSE streams and exits 0', async () => {
    const path = join(tempDir(), 'drain.db');
    const store = openSqliteStore({ path });
    await store.appendBatch(heartbeats(100));
    await store.close();
    const serve = spawnServe(['--store', `sqlite:${path}`, '--log-level', 'info']);
    try {
      const url = await serve.url;
      const sse = await fetch(`${url}/v1/changes?from=0`);
      const reader = sse.body!.getReader();
      const decoder = new TextDecoder();
      let streamed = '';
      while (!streamed.includes('caught-up')) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`the stream ended before caught-up: ${streamed}`);
        streamed += decoder.decode(value, { stream: true });
      }
      expect(streamed).toContain('id: 100\n');
      // In flight when the signal comes: it waits 1.5 s for a position that never arrives.
      const inFlight = getInFlight(`${url}/v1/projection?minPosition=1000&waitMs=1500`);
      await inFlight.received;
      serve.child.kill('SIGTERM');

      // Answered at once with 503 shutting-down: a long-poll never holds the drain for its wait.
      expect((await inFlight.response).status).toBe(503);
      let done = false;
      for (let i = 0; i < 100 && !done; i++) done = (await reader.read()).done;
      expect(done).toBe(true);
      expect(await serve.exited).toBe(0);
      const { stdout, stderr } = serve.output();
      expect(stderr).toContain('draining');
      // One structured line per request on stdout; the in-flight one was logged when it finished.
      const logged = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(logged.some((l) => l['msg'] === 'request' && l['route'] === '/v1/projection' && l['status'] === 503)).toBe(true);
    } finally {
      await serve.stop();
    }
  }, 60_000);

  it('never prints the store password', async () => {
    const serve = spawnServe(['--store', 'postgres://rollcall:hunter2@127.0.0.1:1/none', '--log-level', 'info']);
    const code = await serve.exited;
    const { stdout, stderr } = serve.output();
    expect(code).toBe(3);
    expect(stderr).toMatch(/^rollcall: /);
    expect(`${stdout}${stderr}`).not.toContain('hunter2');
  }, 60_000);
});
